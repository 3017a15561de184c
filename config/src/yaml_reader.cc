#include "stemedb/config/yaml_reader.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>

#include "stemedb/base/utf8.h"

namespace stemedb::detail {
namespace {

// Counts documents, stopping at a limit (see HasSecondDocument).
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override { ++count_; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { Node(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { Node(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Node(m);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Node(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Node(m);
  }
  void OnMapEnd() override {}

  // Documents seen (at most `limit`).
  int Count(const std::string& text, int limit) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    while (count_ < limit && parser.HandleNextDocument(*this)) {
    }
    return count_;
  }
  // Where the second document's content starts.
  YAML::Mark second() const { return second_; }

 private:
  void Node(const YAML::Mark& m) {
    if (count_ == 2 && !have_second_) {
      second_ = m;
      have_second_ = true;
    }
  }
  int count_ = 0;
  bool have_second_ = false;
  YAML::Mark second_ = YAML::Mark::null_mark();
};

bool HasMark(const YAML::Mark& mark) { return mark.line >= 0; }

std::string PositionText(const YAML::Mark& mark) {
  return std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The value's own position, or its key's when the value is empty: yaml-cpp
// places an empty value at the next token, which may be lines further down.
YAML::Mark ValueMark(const YAML::Node& key, const YAML::Node& value) {
  return value.IsNull() || !HasMark(value.Mark()) ? key.Mark() : value.Mark();
}

// The message for text that is not UTF-8: YAML is Unicode text, and every
// string here ends up in a label, an annotation, a JSON dashboard or a log
// line that must be UTF-8. Says which byte, so the operator can find it.
std::string NotUtf8Message(std::string_view text) {
  const size_t at = stemedb::ValidUtf8Prefix(text);
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02x",
                static_cast<unsigned>(static_cast<unsigned char>(text[at])));
  return "\"" + stemedb::EscapeInvalidUtf8(text) +
         "\" is not valid UTF-8 (byte " + byte + " at offset " +
         std::to_string(at) + "); save the file as UTF-8";
}

std::string Join(const std::vector<std::string_view>& words) {
  std::string out;
  for (const std::string_view word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

}  // namespace

Where Where::Child(std::string_view key, const YAML::Mark& at) const {
  return {path.empty() ? std::string(key) : path + "." + std::string(key), at};
}

std::string ClosestMatch(std::string_view word,
                         const std::vector<std::string_view>& candidates) {
  constexpr size_t kMaxDistance = 2;
  std::string best;
  size_t best_distance = kMaxDistance + 1;
  for (const std::string_view candidate : candidates) {
    const size_t distance = EditDistance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string_view DescribeType(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string FormatNumber(double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

ConfigError YamlReader::Error(const Where& where, std::string message) const {
  ConfigError error;
  error.file = source_;
  if (HasMark(where.mark)) {
    error.line = where.mark.line + 1;
    error.column = where.mark.column + 1;
  }
  error.key_path = where.path;
  error.message = std::move(message);
  return error;
}

Status YamlReader::ReadEntries(const YAML::Node& node, const Where& where,
                               const EntryFn& entry) {
  if (node.IsNull()) return std::nullopt;
  if (!node.IsMap()) {
    return Error(where,
                 "expected a mapping, got " + std::string(DescribeType(node)));
  }
  // yaml-cpp keeps every pair of a repeated key, so duplicates are found here.
  std::map<std::string, YAML::Mark> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;  // copies: it-> yields a temporary
    const YAML::Node value = it->second;
    if (!key.IsScalar()) {
      return Error(
          Where{where.path, key.Mark()},
          "keys must be strings, got " + std::string(DescribeType(key)));
    }
    const std::string& name = key.Scalar();
    if (!stemedb::IsValidUtf8(name)) {
      return Error(Where{where.path, key.Mark()}, NotUtf8Message(name));
    }
    const Where key_where = where.Child(name, key.Mark());
    const auto [previous, inserted] = seen.emplace(name, key.Mark());
    if (!inserted) {
      return Error(key_where, "duplicate key (first set at " +
                                  PositionText(previous->second) + ")");
    }
    key_marks_[key_where.path] = key.Mark();
    const Where value_where = where.Child(name, ValueMark(key, value));
    if (Status status = entry(name, key_where, value, value_where)) {
      return status;
    }
  }
  return std::nullopt;
}

Status YamlReader::ReadList(const YAML::Node& node, const Where& where,
                            const ItemFn& item) {
  marks_[where.path] = where.mark;
  if (node.IsNull()) return std::nullopt;
  if (!node.IsSequence()) {
    return Error(where,
                 "expected a list, got " + std::string(DescribeType(node)));
  }
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node element = node[i];
    const YAML::Mark at = HasMark(element.Mark()) && !element.IsNull()
                              ? element.Mark()
                              : where.mark;
    const Where item_where{where.path + "[" + std::to_string(i) + "]", at};
    if (Status status = item(element, item_where)) return status;
  }
  return std::nullopt;
}

Status YamlReader::ReadMap(const YAML::Node& node, const Where& where,
                           const std::vector<Field>& fields) {
  return ReadEntries(
      node, where,
      [&](const std::string& key, const Where& key_where,
          const YAML::Node& value, const Where& value_where) -> Status {
        for (const Field& field : fields) {
          if (field.key == key) return field.read(value, value_where);
        }
        std::vector<std::string_view> known;
        for (const Field& field : fields) known.push_back(field.key);
        const std::string suggestion = ClosestMatch(key, known);
        if (!suggestion.empty()) {
          return Error(key_where,
                       "unknown key (did you mean \"" + suggestion + "\"?)");
        }
        return Error(key_where,
                     "unknown key (known keys: " + Join(known) + ")");
      });
}

Status YamlReader::Scalar(const YAML::Node& node, const Where& where,
                          std::string_view what, bool allow_quoted,
                          std::string* out) {
  marks_[where.path] = where.mark;
  if (!node.IsScalar()) {
    return Error(where, "expected " + std::string(what) + ", got " +
                            std::string(DescribeType(node)));
  }
  if (!stemedb::IsValidUtf8(node.Scalar())) {
    return Error(where, NotUtf8Message(node.Scalar()));
  }
  // A quoted scalar is a string in YAML ("5" is not the number 5).
  if (!allow_quoted && node.Tag() == "!") {
    return Error(where, "expected " + std::string(what) +
                            ", got the quoted string \"" + node.Scalar() +
                            "\"");
  }
  *out = node.Scalar();
  return std::nullopt;
}

Status YamlReader::ReadString(const YAML::Node& node, const Where& where,
                              std::string* out, bool allow_empty) {
  std::string text;
  if (Status status = Scalar(node, where, "a string", true, &text)) {
    return status;
  }
  if (text.empty() && !allow_empty) return Error(where, "must not be empty");
  *out = std::move(text);
  return std::nullopt;
}

Status YamlReader::ReadBool(const YAML::Node& node, const Where& where,
                            bool* out) {
  std::string text;
  if (Status status = Scalar(node, where, "true or false", false, &text)) {
    return status;
  }
  if (text != "true" && text != "false") {
    return Error(where,
                 "\"" + text + "\" is not a boolean (write true or false)");
  }
  *out = text == "true";
  return std::nullopt;
}

Status YamlReader::ReadInt(const YAML::Node& node, const Where& where,
                           int64_t min, int64_t max, int64_t* out,
                           std::string_view max_why) {
  const std::string why = max_why.empty() ? "" : "; " + std::string(max_why);
  std::string text;
  if (Status status = Scalar(node, where, "an integer", false, &text)) {
    return status;
  }
  int64_t value = 0;
  const auto result =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec == std::errc::result_out_of_range) {
    return Error(where, text + " is too large" + why);
  }
  if (result.ec != std::errc() || result.ptr != text.data() + text.size()) {
    return Error(where, "\"" + text + "\" is not an integer");
  }
  if (value < min || value > max) {
    if (max == std::numeric_limits<int64_t>::max()) {
      return Error(where, text + " must be at least " + std::to_string(min));
    }
    return Error(where, text + " must be between " + std::to_string(min) +
                            " and " + std::to_string(max) +
                            (value > max ? why : ""));
  }
  *out = value;
  return std::nullopt;
}

Status YamlReader::ReadRatio(const YAML::Node& node, const Where& where,
                             double* out) {
  std::string text;
  if (Status status = Scalar(node, where, "a ratio", false, &text)) {
    return status;
  }
  double value = 0;
  const auto result =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec != std::errc() || result.ptr != text.data() + text.size() ||
      !std::isfinite(value)) {
    return Error(where, "\"" + text +
                            "\" is not a number (expected a ratio between 0 "
                            "and 1, e.g. 0.2)");
  }
  if (value <= 0 || value >= 1) {
    return Error(where, text + " is not a ratio strictly between 0 and 1");
  }
  *out = value;
  return std::nullopt;
}

Status YamlReader::ReadDuration(const YAML::Node& node, const Where& where,
                                bool positive, Duration* out) {
  std::string text;
  if (Status status = Scalar(node, where, "a duration", true, &text)) {
    return status;
  }
  bool out_of_range = false;
  std::optional<Duration> duration = ParseDuration(text, &out_of_range);
  if (out_of_range) {
    return Error(where, "\"" + text +
                            "\" is out of range: Prometheus holds durations in "
                            "int64 nanoseconds, so at most "
                            "292y24w3d23h47m16s854ms");
  }
  if (!duration) {
    return Error(where, "\"" + text +
                            "\" is not a Prometheus duration (e.g. 30s, 15m, "
                            "1h30m, 7d)");
  }
  if (positive && duration->value.count() == 0) {
    return Error(where, text + " must be greater than 0");
  }
  *out = std::move(*duration);
  return std::nullopt;
}

std::optional<YAML::Mark> YamlReader::MarkOf(const std::string& path) const {
  const auto it = marks_.find(path);
  if (it == marks_.end()) return std::nullopt;
  return it->second;
}

std::optional<YAML::Mark> YamlReader::KeyMarkOf(const std::string& path) const {
  const auto it = key_marks_.find(path);
  if (it == key_marks_.end()) return std::nullopt;
  return it->second;
}

bool HasSecondDocument(const std::string& text, YAML::Mark* where) {
  DocumentCounter counter;
  if (counter.Count(text, 2) < 2) return false;
  *where = counter.second();
  return true;
}

}  // namespace stemedb::detail
