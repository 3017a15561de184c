// Small text helpers on string_view that more than one unit needs.
//
// Thread safety: pure functions.
#pragma once

#include <string_view>

namespace stemedb {

// `s` without the leading and trailing characters that are in `chars` (by
// default space and tab, HTTP's optional white space).
std::string_view Trim(std::string_view s, std::string_view chars = " \t");

// True when `a` and `b` are equal but for the case of ASCII letters.
bool EqualsIgnoringCase(std::string_view a, std::string_view b);

}  // namespace stemedb
