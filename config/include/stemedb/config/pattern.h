// The one way user patterns are matched: file-name globs (segment_pattern,
// cleanup match) and Prometheus label regexes (node_exporter_selector), both
// compiled to RE2, so matching is linear in the input and its memory bounded,
// whatever the pattern. fnmatch(3) and std::regex backtrack: a long or nested
// pattern could stall a walk or overflow the stack of a config load.
//
// Thread safety: a compiled Pattern is immutable; Matches may be called from
// any number of threads at once. Copies share the compiled program.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace stemedb {

// The longest glob accepted, in bytes. A name is at most 255 bytes
// (NAME_MAX), so a longer glob is no use; the cap bounds compile time and
// the work per name.
inline constexpr size_t kMaxGlobBytes = 1024;

// The longest label regex (a node_exporter_selector value) accepted, in
// bytes: room for an alternation of dozens of mountpoints.
inline constexpr size_t kMaxRegexBytes = 4096;

// Why a pattern was refused, and where in it.
struct PatternError {
  // 0-based byte offset into the pattern text; std::string::npos when the
  // problem is the whole pattern (its length, its compiled size).
  size_t offset = std::string::npos;
  std::string message;

  // "at byte N: message" (1-based, like a column), or the message alone.
  std::string ToString() const;
};

class Pattern {
 public:
  // A glob with fnmatch(3)'s meaning at flags 0, as find -name uses it: `*`,
  // `?`, bracket expressions ([a-z], [!x] or [^x], []x], [[:digit:]], `\`
  // escapes inside), `\x` for a literal x, byte by byte (the C locale).
  // Refused, with the offset: an empty pattern or one over kMaxGlobBytes, a
  // '/' or NUL (never in a name, so the pattern could never match), a
  // trailing `\` (fnmatch matches nothing then), a '[' never closed (fnmatch
  // then reads it as a literal '[' in some names but not others: write \[),
  // an unknown [:class:], and [=x=] / [.x.] (collating elements).
  static std::optional<Pattern> Glob(std::string_view text,
                                     PatternError* error);

  // A Prometheus regex (Go's RE2 syntax, UTF-8) anchored at both ends as
  // Prometheus anchors label matchers. Refused, with RE2's offset: invalid
  // syntax, more than kMaxRegexBytes, or a program over the memory budget.
  static std::optional<Pattern> LabelRegex(std::string_view text,
                                           PatternError* error);

  // True when the whole of `text` matches. Linear in text.size(); does not
  // allocate once the automaton has seen similar input.
  bool Matches(std::string_view text) const;

  // The pattern as written.
  const std::string& text() const { return text_; }

 private:
  Pattern(std::string text, std::shared_ptr<const re2::RE2> re)
      : text_(std::move(text)), re_(std::move(re)) {}

  std::string text_;
  std::shared_ptr<const re2::RE2> re_;
};

}  // namespace stemedb
