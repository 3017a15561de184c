// UTF-8 validity, as Prometheus (Go's utf8.ValidString) defines it: no
// overlong forms, no surrogates, nothing above U+10FFFF. Label values, rule
// files and JSON logs must be valid UTF-8; file and device names need not be.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace stemedb {

// The length of the longest valid UTF-8 prefix of `text`; text.size() when
// all of it is valid.
size_t ValidUtf8Prefix(std::string_view text);

inline bool IsValidUtf8(std::string_view text) {
  return ValidUtf8Prefix(text) == text.size();
}

// `text` with every byte that is not part of a valid UTF-8 sequence written
// as the four characters \xNN (lower-case hex). Visible, and two names that
// differ only in invalid bytes stay distinct series. Valid text is returned
// unchanged.
std::string EscapeInvalidUtf8(std::string_view text);

// When a control character starts at text[pos] (C0, U+0000..U+001F with
// ESC; DEL, U+007F; C1, U+0080..U+009F, the bytes C2 80..C2 9F): its code
// point, and its length in bytes (1 or 2) in *length. Otherwise -1 and
// *length 0. A terminal acts on these (ESC and the C1 CSI start sequences
// that set the title, clear the screen, recolour text) instead of showing
// them. REQUIRES: pos < text.size().
int ControlCharacterAt(std::string_view text, size_t pos, size_t* length);

// `text` safe to print on a terminal or into a log a terminal shows: each
// invalid byte as \xNN (as EscapeInvalidUtf8), each C0 control and DEL as
// \xNN (ESC is \x1b, a newline \x0a), each C1 control as \u0080..\u009f.
// Everything else, the backslash included, is unchanged: the result is for
// reading, not for parsing back, so a name that spells "\x1b" reads like one
// that holds ESC.
std::string EscapeForTerminal(std::string_view text);

}  // namespace stemedb
