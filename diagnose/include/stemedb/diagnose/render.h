// A Report as text for the on-call's terminal, or as JSON for tools (and
// for `diagnose --from`, which reads the JSON a running exporter serves at
// /diagnose). Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "stemedb/base/error.h"
#include "stemedb/diagnose/diagnosis.h"

namespace stemedb::diagnose {

// Human output, every line at most `width` columns (long paths are shortened
// in the middle) except the cleanup commands, which are printed whole so
// they can be copied. The first line is a monitoring-plugin status line
// ("CRITICAL: §1 Emergency Cleanup: ..."). Control characters and invalid
// UTF-8 in names are shown as escapes (\x1b, \u009b, \xff: stemedb/utf8.h
// EscapeForTerminal), never sent to the terminal.
std::string RenderText(const Report& report, size_t width = 80);

// The JSON document (schema in docs/diagnose.md): the verdict, the limits
// and every number, sizes in bytes, times in unix seconds. Keys in a fixed
// order, so equal reports give equal bytes.
std::string RenderJson(const Report& report);

// How deep arrays and objects may nest, and how many values (each
// number, string, array, object...) a document may hold, in what ParseJson
// reads. RenderJson nests 5 deep and writes a few hundred values per
// component and filesystem; the limits bound the memory a hostile reply
// can take (parsed JSON is up to ~70 bytes a value) and are checked before
// any of it is built.
inline constexpr size_t kMaxJsonDepth = 64;
inline constexpr size_t kMaxJsonValues = 200'000;

// Reads back what RenderJson wrote: the numbers and the limits (the verdict
// is recomputed from them with Diagnose). An error names the key that is
// missing or of the wrong type, or, for text that is not JSON or exceeds a
// limit, the line and column (in bytes) where reading stopped; its `file`
// is left for the caller to fill in.
stemedb::Status ParseJson(std::string_view text, Numbers* numbers,
                          Limits* limits);

}  // namespace stemedb::diagnose
