// Globs are translated to RE2 byte by byte (Latin-1 mode: one byte, one
// character), each bracket expression resolved to its set of bytes, so the
// C-locale meaning of fnmatch is kept exactly and RE2's own syntax never
// sees user text. tests/config/pattern_test.cc holds fnmatch as the oracle.

#include "stemedb/config/pattern.h"

#include <re2/re2.h>

#include <bitset>
#include <cctype>
#include <cstdio>
#include <utility>

namespace stemedb {
namespace {

// What one compiled pattern may use: RE2 fails the compile beyond it, and
// its DFA falls back to the (still linear) NFA when the cache is full.
constexpr int64_t kMaxPatternMemory = int64_t{2} << 20;

using ByteSet = std::bitset<256>;

// The POSIX classes as the C locale defines them.
bool InClass(std::string_view name, int c, bool* known) {
  *known = true;
  if (name == "alnum") return std::isalnum(c);
  if (name == "alpha") return std::isalpha(c);
  if (name == "blank") return c == ' ' || c == '\t';
  if (name == "cntrl") return std::iscntrl(c);
  if (name == "digit") return std::isdigit(c);
  if (name == "graph") return std::isgraph(c);
  if (name == "lower") return std::islower(c);
  if (name == "print") return std::isprint(c);
  if (name == "punct") return std::ispunct(c);
  if (name == "space") return std::isspace(c);
  if (name == "upper") return std::isupper(c);
  if (name == "xdigit") return std::isxdigit(c);
  *known = false;
  return false;
}

std::string Hex(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02x", c);
  return buf;
}

std::string LiteralByte(unsigned char c) {
  if (std::isalnum(c) || c == '_') return std::string(1, static_cast<char>(c));
  return Hex(c);
}

// `set` as an RE2 class of byte ranges; a class that holds nothing matches
// nothing (a negated bracket of every byte).
std::string ClassOf(const ByteSet& set) {
  if (set.none()) return "[^\\x00-\\xff]";
  std::string out = "[";
  for (int lo = 0; lo < 256;) {
    if (!set[lo]) {
      ++lo;
      continue;
    }
    int hi = lo;
    while (hi + 1 < 256 && set[hi + 1]) ++hi;
    out += Hex(static_cast<unsigned char>(lo));
    if (hi > lo) out += "-" + Hex(static_cast<unsigned char>(hi));
    lo = hi + 1;
  }
  return out + "]";
}

struct GlobTranslator {
  std::string_view text;
  PatternError* error;

  bool Fail(size_t offset, std::string message) const {
    error->offset = offset;
    error->message = std::move(message);
    return false;
  }

  // Reads the bracket expression that opens at text[open] into *set and
  // moves *end past its ']'. Follows glibc's reading: '!' or '^' negates, a
  // ']' first is a member, `\` escapes, a-z is a range (empty when
  // reversed), a '-' first or last is a member.
  bool Bracket(size_t open, ByteSet* set, size_t* end) const {
    size_t i = open + 1;
    const bool negate = i < text.size() && (text[i] == '!' || text[i] == '^');
    if (negate) ++i;
    const auto at = [&](size_t k) -> int {
      return k < text.size() ? static_cast<unsigned char>(text[k]) : -1;
    };
    const auto unclosed = [&] {
      return Fail(open,
                  "'[' opens a bracket expression that is never closed; "
                  "write \\[ for a literal '['");
    };
    ByteSet members;
    for (bool first = true;; first = false) {
      if (i >= text.size()) return unclosed();
      const unsigned char c = static_cast<unsigned char>(text[i]);
      if (c == ']' && !first) {
        ++i;
        break;
      }
      int lo;
      if (c == '\\') {
        if (at(i + 1) < 0) return unclosed();
        lo = at(i + 1);
        i += 2;
      } else if (c == '[' && at(i + 1) == ':') {
        const size_t close = text.find(":]", i + 2);
        const std::string_view name = close == std::string_view::npos
                                          ? std::string_view()
                                          : text.substr(i + 2, close - (i + 2));
        bool known = false;
        InClass(name, 0, &known);
        if (!known) {
          return Fail(i,
                      "\"[:\" in a bracket expression must start a character "
                      "class: [:alnum:], [:alpha:], [:blank:], [:cntrl:], "
                      "[:digit:], [:graph:], [:lower:], [:print:], "
                      "[:punct:], [:space:], [:upper:] or [:xdigit:]; write "
                      "\\[ for a literal '['");
        }
        for (int b = 0; b < 256; ++b) {
          if (InClass(name, b, &known)) members.set(b);
        }
        i = close + 2;
        continue;
      } else if (c == '[' && (at(i + 1) == '=' || at(i + 1) == '.')) {
        return Fail(i,
                    "collating elements ([=x=], [.x.]) are not supported; "
                    "write the character itself, or \\[ for a literal '['");
      } else {
        lo = c;
        ++i;
      }
      if (at(i) == '-' && at(i + 1) >= 0 && at(i + 1) != ']') {
        size_t k = i + 1;
        if (at(k) == '\\') ++k;
        if (at(k) < 0) return unclosed();
        if (at(k) == '[' &&
            (at(k + 1) == ':' || at(k + 1) == '=' || at(k + 1) == '.')) {
          return Fail(k, "a range cannot end in a class; write \\[");
        }
        const int hi = at(k);
        for (int b = lo; b <= hi; ++b) members.set(b);
        i = k + 1;
      } else {
        members.set(lo);
      }
    }
    *set = negate ? ~members : members;
    *end = i;
    return true;
  }

  // The RE2 pattern (Latin-1) for the whole glob.
  bool Translate(std::string* out) const {
    for (size_t i = 0; i < text.size();) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      if (c == '\0' || c == '/') {
        return Fail(i, std::string(c == '/' ? "a '/'" : "a NUL byte") +
                           " is never in an entry's name, so the pattern "
                           "could never match; the glob applies to the "
                           "name (like find -name)");
      }
      if (c == '*') {
        while (i < text.size() && text[i] == '*') ++i;
        *out += "(?s:.*)";
      } else if (c == '?') {
        ++i;
        *out += "(?s:.)";
      } else if (c == '[') {
        ByteSet set;
        size_t end = 0;
        if (!Bracket(i, &set, &end)) return false;
        *out += ClassOf(set);
        i = end;
      } else if (c == '\\') {
        if (i + 1 >= text.size()) {
          return Fail(i,
                      "a trailing '\\' escapes nothing (fnmatch matches no "
                      "name then); write \\\\ for a literal '\\'");
        }
        const unsigned char next = static_cast<unsigned char>(text[i + 1]);
        if (next == '\0' || next == '/') {
          ++i;
          continue;  // reported as a '/' or NUL on the next round
        }
        *out += LiteralByte(next);
        i += 2;
      } else {
        *out += LiteralByte(c);
        ++i;
      }
    }
    return true;
  }
};

// The offset of RE2's complaint in `text`: where the fragment it names
// starts, or npos when it names none.
size_t OffsetOf(const re2::RE2& re, std::string_view text) {
  const std::string& arg = re.error_arg();
  if (arg.empty()) return std::string::npos;
  return text.find(arg);
}

std::shared_ptr<const re2::RE2> Compile(const std::string& re2_pattern,
                                        bool latin1, std::string_view text,
                                        PatternError* error) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kMaxPatternMemory);
  options.set_encoding(latin1 ? re2::RE2::Options::EncodingLatin1
                              : re2::RE2::Options::EncodingUTF8);
  auto re = std::make_shared<const re2::RE2>(re2_pattern, options);
  if (re->ok()) return re;
  error->offset = latin1 ? std::string::npos : OffsetOf(*re, text);
  error->message = re->error_code() == re2::RE2::ErrorPatternTooLarge
                       ? "compiles to more than the " +
                             std::to_string(kMaxPatternMemory >> 20) +
                             " MiB a pattern may use"
                       : re->error();
  return nullptr;
}

bool CheckLength(std::string_view text, size_t max, PatternError* error) {
  if (text.size() <= max) return true;
  error->offset = std::string::npos;
  error->message = std::to_string(text.size()) + " bytes long; at most " +
                   std::to_string(max);
  return false;
}

}  // namespace

std::string PatternError::ToString() const {
  if (offset == std::string::npos) return message;
  return "at byte " + std::to_string(offset + 1) + ": " + message;
}

std::optional<Pattern> Pattern::Glob(std::string_view text,
                                     PatternError* error) {
  if (!CheckLength(text, kMaxGlobBytes, error)) return std::nullopt;
  if (text.empty()) {
    error->offset = std::string::npos;
    error->message = "an empty glob matches no name";
    return std::nullopt;
  }
  std::string re2_pattern;
  if (!GlobTranslator{text, error}.Translate(&re2_pattern)) {
    return std::nullopt;
  }
  auto re = Compile(re2_pattern, /*latin1=*/true, text, error);
  if (re == nullptr) return std::nullopt;
  return Pattern(std::string(text), std::move(re));
}

std::optional<Pattern> Pattern::LabelRegex(std::string_view text,
                                           PatternError* error) {
  if (!CheckLength(text, kMaxRegexBytes, error)) return std::nullopt;
  const std::string written(text);
  // Alone first: wrapped, "a)|(b" would parse, and offsets would shift.
  if (Compile(written, /*latin1=*/false, text, error) == nullptr) {
    return std::nullopt;
  }
  // Prometheus anchors as ^(?s:...)$; FullMatch anchors.
  auto re = Compile("(?s:" + written + ")", /*latin1=*/false, text, error);
  if (re == nullptr) return std::nullopt;
  return Pattern(written, std::move(re));
}

bool Pattern::Matches(std::string_view text) const {
  return re2::RE2::FullMatch(text, *re_);
}

}  // namespace stemedb
