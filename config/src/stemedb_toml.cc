// StemeDB's config.toml through toml++: the few keys the thresholds and the
// prevention checks need, typed and range-checked, every error placed at
// file:line:column. toml++ throws; this is the edge where that stops.

#include <sys/stat.h>
#include <toml++/toml.h>

#include <cerrno>
#include <exception>
#include <string>

#include "stemedb/base/user_file.h"
#include "stemedb/config/stemedb_config.h"

namespace stemedb {
namespace {

constexpr FileKind kStemedbConfigKind{
    "StemeDB config file", kMaxStemedbConfigBytes,
    "StemeDB's config.toml is a few hundred bytes (is this the right file?)"};

// The integers the rules compare are exact in float64 up to 2^53.
constexpr int64_t kMaxExact = (int64_t{1} << 53) - 1;
// 100 years: a retention beyond that is a typo, and days * 86400000 ms
// stays far inside a Prometheus duration.
constexpr int64_t kMaxDays = 36'500;

Error At(const std::string& source, const toml::source_region& where,
         std::string key, std::string message) {
  Error error;
  error.file = source;
  error.line = static_cast<int>(where.begin.line);
  error.column = static_cast<int>(where.begin.column);
  error.key_path = std::move(key);
  error.message = std::move(message);
  return error;
}

std::string_view TypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date or time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// Reads one section's known keys, each into its slot when present.
class SectionReader {
 public:
  SectionReader(const std::string& source, const toml::table& root,
                std::string_view section)
      : source_(source), section_(section), node_(root.get(section)) {}

  // An existing [section] that is not a table.
  Status Check() const {
    if (node_ == nullptr || node_->is_table()) return std::nullopt;
    return At(source_, node_->source(), std::string(section_),
              "expected a table, got " + std::string(TypeName(node_->type())));
  }

  Status Int(std::string_view key, int64_t min, int64_t max,
             std::optional<int64_t>* out) const {
    const toml::node* node = Find(key);
    if (node == nullptr) return std::nullopt;
    const auto value = node->value_exact<int64_t>();
    if (!value) return WrongType(*node, key, "an integer");
    if (*value < min || *value > max) {
      return At(source_, node->source(), Path(key),
                std::to_string(*value) + " is out of range (" +
                    std::to_string(min) + " to " + std::to_string(max) + ")");
    }
    *out = *value;
    return std::nullopt;
  }

  Status Bool(std::string_view key, std::optional<bool>* out) const {
    const toml::node* node = Find(key);
    if (node == nullptr) return std::nullopt;
    const auto value = node->value_exact<bool>();
    if (!value) return WrongType(*node, key, "true or false");
    *out = *value;
    return std::nullopt;
  }

 private:
  const toml::node* Find(std::string_view key) const {
    const toml::table* table = node_ ? node_->as_table() : nullptr;
    return table ? table->get(key) : nullptr;
  }
  std::string Path(std::string_view key) const {
    return std::string(section_) + "." + std::string(key);
  }
  Error WrongType(const toml::node& node, std::string_view key,
                  std::string_view expected) const {
    return At(source_, node.source(), Path(key),
              "expected " + std::string(expected) + ", got " +
                  std::string(TypeName(node.type())));
  }

  const std::string& source_;
  std::string_view section_;
  const toml::node* node_;
};

Status ReadSettings(const std::string& source, const toml::table& root,
                    StemedbSettings* s) {
  const SectionReader wal(source, root, "wal");
  const SectionReader backup(source, root, "backup");
  const SectionReader storage(source, root, "storage");
  for (const SectionReader* r : {&wal, &backup, &storage}) {
    if (Status err = r->Check()) return err;
  }
  Status err = wal.Int("retention_days", 1, kMaxDays, &s->wal_retention_days);
  if (!err) err = wal.Int("max_segments", 1, kMaxExact, &s->wal_max_segments);
  if (!err) {
    err = wal.Int("segment_size_mb", 1, int64_t{1} << 30,
                  &s->wal_segment_size_mb);
  }
  if (!err) {
    err = backup.Int("retention_days", 1, kMaxDays, &s->backup_retention_days);
  }
  if (!err) err = storage.Bool("compaction_enabled", &s->compaction_enabled);
  if (!err) {
    err = storage.Int("compaction_interval_hours", 1, kMaxDays * 24,
                      &s->compaction_interval_hours);
  }
  if (!err) {
    err = storage.Int("compaction_threshold_mb", 1, kMaxExact,
                      &s->compaction_threshold_mb);
  }
  return err;
}

// The first line holding more dots than kMaxStemedbConfigDots allows, in
// all: dots inside strings and comments do not count. 0 when within.
int LineOverDotBound(std::string_view text) {
  size_t dots = 0;
  int line = 1;
  char quote = 0;       // '"' or '\'' while inside a string
  bool triple = false;  // a multi-line string
  bool comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      comment = false;
      if (!triple) quote = 0;  // a one-line string cannot span lines
      continue;
    }
    if (comment) continue;
    if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        if (!triple) {
          quote = 0;
        } else if (text.substr(i, 3) == std::string(3, quote)) {
          quote = 0;
          triple = false;
          i += 2;
        }
      }
      continue;
    }
    if (c == '#') {
      comment = true;
    } else if (c == '"' || c == '\'') {
      quote = c;
      triple = text.substr(i, 3) == std::string(3, c);
      if (triple) i += 2;
    } else if (c == '.' && ++dots > kMaxStemedbConfigDots) {
      return line;
    }
  }
  return 0;
}

}  // namespace

Status ParseStemedbToml(std::string_view text, const std::string& source,
                        StemedbSettings* out) {
  if (text.size() > kMaxStemedbConfigBytes) {
    return Error{source, 0, 0, "",
                 std::to_string(text.size()) + " bytes; at most " +
                     std::to_string(kMaxStemedbConfigBytes)};
  }
  if (const int line = LineOverDotBound(text)) {
    return Error{source, line, 0, "",
                 "more than " + std::to_string(kMaxStemedbConfigDots) +
                     " dots outside strings and comments (keys nested "
                     "this deep are refused before parsing)"};
  }
  try {
    const toml::table root = toml::parse(text, source);
    StemedbSettings settings;
    if (Status err = ReadSettings(source, root, &settings)) return err;
    *out = settings;
    return std::nullopt;
  } catch (const toml::parse_error& e) {
    return At(source, e.source(), "",
              "invalid TOML: " + std::string(e.description()));
  } catch (const std::exception& e) {
    return Error{source, 0, 0, "", std::string("invalid TOML: ") + e.what()};
  }
}

Status LoadStemedbToml(const std::string& path, StemedbSettings* out,
                       bool* found) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
    *found = false;
    return std::nullopt;
  }
  std::string text;
  if (Status err = ReadUserFile(path, kStemedbConfigKind, &text)) return err;
  if (Status err = ParseStemedbToml(text, path, out)) return err;
  *found = true;
  return std::nullopt;
}

}  // namespace stemedb
