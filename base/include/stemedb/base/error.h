// The one error value of every unit: where it happened and what is wrong.
// Exceptions (yaml-cpp, Boost, prometheus-cpp throw them) are caught at the
// edges and turned into one of these.
//
// A function that can fail returns Status: std::nullopt on success, else the
// Error. Callers read it as `if (Status err = Do(...)) return err;` and print
// err->ToString().
//
// Thread safety: plain values.
#pragma once

#include <optional>
#include <string>

namespace stemedb {

struct Error {
  std::string file;      // a file's path, "<embedded default>", or empty
  int line = 0;          // 1-based; 0 when no position applies
  int column = 0;        // 1-based; 0 when no position applies
  std::string key_path;  // e.g. "thresholds.disk_space.warning.for", a flag
  std::string message;   // what is wrong and what would be right

  // An error with a message only (it names the path or flag itself).
  static Error Message(std::string message) {
    Error e;
    e.message = std::move(message);
    return e;
  }

  // "file:line:column: key_path: message" (position and key omitted when
  // unknown), the one format every tool prints; control characters and
  // invalid UTF-8 escaped (EscapeForTerminal in stemedb/utf8.h).
  std::string ToString() const;
};

// No value: success.
using Status = std::optional<Error>;

}  // namespace stemedb
