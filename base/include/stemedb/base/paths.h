// Lexical path normalising, the one spelling of a directory that the config,
// the filesystems unit and the scanner compare.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace stemedb {

// `path` lexically normalised: no empty or "." components, ".." applied
// (never above "/"), no trailing slash (except "/" itself). A relative path
// stays relative ("" becomes "."). Symlinks are not resolved.
std::string NormalizePath(std::string_view path);

// `name` below directory `dir`: "dir/name", with no doubled slash when
// `dir` ends in one ("/" + "a" is "/a"). REQUIRES: `dir` is not empty.
std::string Join(std::string_view dir, std::string_view name);

// True when `path` is `ancestor` or below it, component-wise ("/a/bc" is not
// below "/a/b"). Both normalised.
bool IsAtOrBelow(std::string_view path, std::string_view ancestor);

}  // namespace stemedb
