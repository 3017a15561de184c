// The one rule for reading a file a user names, by flag or config key (the
// configs, certificates, keys, password files): whatever the path turns out
// to be, reading it neither blocks nor costs more than a fixed amount.
//
// - Opened O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, so a FIFO with no
//   writer or a terminal cannot hold the caller (a signal loop, an accept
//   path) until someone writes to it.
// - The opened descriptor is checked (fstat), not the path, so a file swapped
//   between a check and the open is still seen for what it is: only regular
//   files are read; a FIFO, directory, device or socket is an error naming
//   the path and what it is.
// - At most the kind's cap is read, whatever size the file claims (a /proc
//   file says 0): one byte more is an error naming the path and the cap.
//
// Thread safety: reentrant.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "stemedb/base/error.h"

namespace stemedb {

// What a file is for: names it in errors and sets its size cap.
struct FileKind {
  std::string_view what;  // "config file", "certificate file", ...
  size_t max_bytes;       // the most read; one byte more is refused
  std::string_view hint;  // after the cap in the refusal, e.g. why it is so
};

// The main config and the exporter's web config. yaml-cpp takes about 4
// bytes of memory per byte of nested input to refuse a bad file; a config is
// a few KiB (the default one 5 KiB).
inline constexpr FileKind kConfigFileKind{
    "config file", size_t{1} << 20,
    "a config is a few KiB (is this the right file?)"};
// A PEM certificate chain or CA bundle (the system's bundle is about 200 KiB).
inline constexpr FileKind kCertificateFileKind{
    "certificate file", size_t{4} << 20,
    "a PEM certificate bundle is a few hundred KiB at most"};
// A PEM private key.
inline constexpr FileKind kKeyFileKind{"key file", size_t{1} << 20,
                                       "a PEM private key is a few KiB"};
// A file whose first line is a password.
inline constexpr FileKind kPasswordFileKind{"password file", size_t{64} << 10,
                                            "a password file holds one line"};
// A generated file read back to compare (rules, dashboards, manifests).
inline constexpr FileKind kGeneratedFileKind{
    "generated file", size_t{64} << 20,
    "generated files are a few hundred KiB"};

// Reads `path` by the rule above into *out. Errors carry the path as
// Error::file and say "cannot read <kind.what>: <why>".
Status ReadUserFile(const std::string& path, const FileKind& kind,
                    std::string* out);

}  // namespace stemedb
