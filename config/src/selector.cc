#include "selector.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "names.h"

namespace stemedb::detail {
namespace {

// One matcher of a selector as written: where its value starts, and for
// each byte of the unescaped value the offset of the text it came from, so
// an error inside a regex points into the selector.
struct WrittenMatcher {
  LabelMatcher matcher;
  size_t start = 0;  // the label name
  std::vector<size_t> value_offsets;
  size_t end = 0;  // one past the closing quote

  size_t OffsetOf(size_t in_value) const {
    if (value_offsets.empty()) return end == 0 ? 0 : end - 1;
    return value_offsets[std::min(in_value, value_offsets.size() - 1)];
  }
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// A hand-written, single-pass reader of PromQL label matchers
// (`a="x", b!~'y', c=`z``), with PromQL's string escapes. One pass and no
// recursion, whatever the input: std::regex recursed once per character and
// overflowed the stack on a long value.
class MatcherScanner {
 public:
  explicit MatcherScanner(std::string_view text) : text_(text) {}

  // The matchers, or false with *error at the offending byte.
  bool Scan(std::vector<WrittenMatcher>* out, PatternError* error) {
    error_ = error;
    SkipSpace();
    while (i_ < text_.size()) {
      WrittenMatcher m;
      m.start = i_;
      if (!Name(&m.matcher.name) || !Op(&m.matcher.op) ||
          !Value(&m.matcher.value, &m.value_offsets)) {
        return false;
      }
      m.end = i_;
      out->push_back(std::move(m));
      SkipSpace();
      if (i_ == text_.size()) break;
      if (text_[i_] != ',') return Fail("expected ',' between matchers");
      ++i_;
      SkipSpace();  // a trailing comma is allowed, as in PromQL
    }
    return true;
  }

 private:
  bool Fail(std::string message) {
    error_->offset = i_;
    error_->message = std::move(message);
    return false;
  }

  void SkipSpace() {
    while (i_ < text_.size() && IsSpace(text_[i_])) ++i_;
  }

  bool Name(std::string* name) {
    const size_t start = i_;
    if (i_ < text_.size() && (IsAlpha(text_[i_]) || text_[i_] == '_')) ++i_;
    while (i_ > start && i_ < text_.size() &&
           (IsAlpha(text_[i_]) || IsDigit(text_[i_]) || text_[i_] == '_')) {
      ++i_;
    }
    if (i_ == start) {
      return Fail("expected a label name ([a-zA-Z_][a-zA-Z0-9_]*)");
    }
    *name = std::string(text_.substr(start, i_ - start));
    SkipSpace();
    return true;
  }

  bool Op(std::string* op) {
    for (const char* candidate : {"=~", "!~", "!=", "="}) {
      if (text_.substr(i_).starts_with(candidate)) {
        *op = candidate;
        i_ += op->size();
        SkipSpace();
        return true;
      }
    }
    return Fail("expected one of = != =~ !~");
  }

  // A quoted string: "..." or '...' with escapes, or `...` raw.
  bool Value(std::string* value, std::vector<size_t>* offsets) {
    if (i_ == text_.size() ||
        (text_[i_] != '"' && text_[i_] != '\'' && text_[i_] != '`')) {
      return Fail("expected a quoted value, like \"/data\"");
    }
    const char quote = text_[i_];
    const size_t open = i_++;
    while (i_ < text_.size() && text_[i_] != quote) {
      const size_t at = i_;
      if (quote != '`' && text_[i_] == '\n') {
        return Fail("a newline in a quoted value; write \\n");
      }
      if (quote != '`' && text_[i_] == '\\') {
        if (!Escape(quote, value)) return false;
      } else {
        value->push_back(text_[i_++]);
      }
      offsets->resize(value->size(), at);
    }
    if (i_ == text_.size()) {
      i_ = open;
      return Fail("the quoted value is never closed");
    }
    ++i_;
    return true;
  }

  // Go's string escapes, as PromQL's lexer takes them.
  bool Escape(char quote, std::string* value) {
    const size_t backslash = i_++;
    if (i_ == text_.size()) return Fail("a '\\' at the end escapes nothing");
    const char c = text_[i_++];
    switch (c) {
      case 'a':
        value->push_back('\a');
        return true;
      case 'b':
        value->push_back('\b');
        return true;
      case 'f':
        value->push_back('\f');
        return true;
      case 'n':
        value->push_back('\n');
        return true;
      case 'r':
        value->push_back('\r');
        return true;
      case 't':
        value->push_back('\t');
        return true;
      case 'v':
        value->push_back('\v');
        return true;
      case '\\':
        value->push_back('\\');
        return true;
      case 'x':
        return Digits(2, 16, 0xFF, false, value);
      case 'u':
        return Digits(4, 16, 0x10FFFF, true, value);
      case 'U':
        return Digits(8, 16, 0x10FFFF, true, value);
      default:
        break;
    }
    if (c == quote) {
      value->push_back(c);
      return true;
    }
    if (c >= '0' && c <= '7') {
      --i_;
      return Digits(3, 8, 0xFF, false, value);
    }
    i_ = backslash;
    return Fail(std::string("unknown escape sequence \\") + c +
                " (PromQL refuses it; write \\\\" + c +
                " for a backslash in a regex)");
  }

  bool Digits(int count, int base, uint32_t max, bool code_point,
              std::string* value) {
    uint32_t v = 0;
    for (int k = 0; k < count; ++k, ++i_) {
      const int d = i_ < text_.size() ? HexValue(text_[i_]) : -1;
      if (d < 0 || d >= base) {
        return Fail("escape sequence needs " + std::to_string(count) +
                    (base == 8 ? " octal" : " hex") + " digits");
      }
      v = v * base + static_cast<uint32_t>(d);
    }
    if (v > max || (code_point && v >= 0xD800 && v < 0xE000)) {
      return Fail("escape sequence is not a valid character");
    }
    if (code_point) {
      AppendUtf8(v, value);
    } else {
      value->push_back(static_cast<char>(v));
    }
    return true;
  }

  std::string_view text_;
  size_t i_ = 0;
  PatternError* error_ = nullptr;
};

// A literal: the value of a literal alternative is itself.
bool IsPlainLiteral(std::string_view text) {
  for (const char c : text) {
    if (!IsAlpha(c) && !IsDigit(c) &&
        std::string_view("/_.:-").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Why the node_exporter selector cannot be used (with the offset in the
// selector), or nullopt when it can. Regexes are checked with the one
// pattern engine. The generated rule tests need one label value per matcher
// that the selector accepts, and tell filesystems apart by instance.
std::optional<PatternError> SelectorProblem(
    const std::vector<WrittenMatcher>& matchers) {
  std::map<std::string, std::string> values;
  std::vector<std::optional<Pattern>> regexes(matchers.size());
  for (size_t i = 0; i < matchers.size(); ++i) {
    const WrittenMatcher& w = matchers[i];
    const LabelMatcher& m = w.matcher;
    if (m.op == "=~" || m.op == "!~") {
      PatternError error;
      regexes[i] = Pattern::LabelRegex(m.value, &error);
      if (!regexes[i]) {
        const size_t in_value = error.offset;
        error.offset =
            in_value == std::string::npos ? w.start : w.OffsetOf(in_value);
        error.message = "the regex of " + m.name + ": " + error.message;
        return error;
      }
    }
    if (m.name == "instance") {
      return PatternError{w.start,
                          "an instance matcher is not supported: the rule "
                          "tests tell filesystems apart by instance"};
    }
    if (m.op == "=") {
      values[m.name] = m.value;
    } else if (m.op == "=~") {
      // A literal alternation ("/data|/srv") is satisfied by its first.
      const std::string first = m.value.substr(0, m.value.find('|'));
      if (!IsPlainLiteral(first) || !regexes[i]->Matches(first)) {
        return PatternError{
            w.start, "cannot derive a test value for " + m.name + "=~\"" +
                         m.value +
                         "\"; use a literal or an alternation of "
                         "literals"};
      }
      values[m.name] = first;
    }
  }
  for (size_t i = 0; i < matchers.size(); ++i) {
    const LabelMatcher& m = matchers[i].matcher;
    const std::string have = values[m.name];
    bool excluded = false;
    if (m.op == "!=") excluded = have == m.value;
    if (m.op == "!~") excluded = regexes[i]->Matches(have);
    if (excluded) {
      return PatternError{matchers[i].start,
                          "the value " + m.name + "=\"" + have +
                              "\" is excluded by the selector itself"};
    }
  }
  return std::nullopt;
}

}  // namespace

Status ParseSelector(std::string_view text, std::vector<LabelMatcher>* out) {
  std::vector<WrittenMatcher> written;
  PatternError error;
  if (!MatcherScanner(text).Scan(&written, &error)) {
    return Error::Message(
        "cannot parse as label matchers like mountpoint=\"/data\": " +
        error.ToString());
  }
  if (std::optional<PatternError> problem = SelectorProblem(written)) {
    return Error::Message(problem->ToString());
  }
  out->clear();
  for (WrittenMatcher& w : written) out->push_back(std::move(w.matcher));
  return std::nullopt;
}

}  // namespace stemedb::detail
