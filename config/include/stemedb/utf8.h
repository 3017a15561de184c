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

}  // namespace stemedb
