// The config file schema (config/default.yaml documents it), the rules that
// relate its keys, and the edges where yaml-cpp and Boost exceptions become
// ConfigError values.

#include "stemedb/config/config.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <limits>
#include <utility>

#include "stemedb/base/paths.h"
#include "stemedb/config/metric_names.h"
#include "stemedb/config/pattern.h"
#include "stemedb/config/yaml_reader.h"

namespace stemedb {
namespace {

namespace fs = boost::filesystem;
using detail::FormatNumber;
using detail::Where;
using detail::YamlReader;
using Field = YamlReader::Field;

constexpr char kEmbeddedSource[] = "<embedded default>";
// The largest integer threshold: the rules compare `value > n` in float64,
// so n and n + 1 (the first value that fires, which the generated tests
// feed) must both be exact doubles. Beyond 2^53 they round together.
constexpr int64_t kMaxExactThreshold = (int64_t{1} << 53) - 1;
constexpr std::string_view kExactThresholdWhy =
    "the alerts compare in float64, which holds integers exactly up to 2^53";

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return IsLower(c) || (c >= 'A' && c <= 'Z'); }

// [a-z][a-z0-9_]*: the name is a label value and appears in PromQL and
// dashboard queries unquoted-safe.
bool IsValidComponentName(std::string_view name) {
  if (name.empty() || !IsLower(name[0])) return false;
  for (const char c : name) {
    if (!IsLower(c) && !IsDigit(c) && c != '_') return false;
  }
  return true;
}

// Grafana's uid rule: [a-zA-Z0-9_-]{1,40}.
bool IsValidDashboardUid(std::string_view uid) {
  if (uid.empty() || uid.size() > 40) return false;
  for (const char c : uid) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

// [a-z0-9_]+: the rule name is the `rule` label value.
bool IsValidRuleName(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!IsLower(c) && !IsDigit(c) && c != '_') return false;
  }
  return true;
}

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

// The longest node_exporter_selector: it is repeated in every generated
// node_filesystem_* selector.
constexpr size_t kMaxSelectorBytes = kMaxRegexBytes;

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

// The labels that tell apart the series the alerts are computed from, and
// that the Alertmanager inhibit rules compare (`equal:`). An alert label
// overrides the series' own, so one of these in alerting.labels would give
// every host's (or filesystem's) alert the same labelset: Prometheus then
// fails the rule ("vector contains metrics with the same labelset after
// applying alert labels") and no alert fires anywhere.
bool IsIdentityLabel(std::string_view name) {
  for (const std::string_view identity :
       {std::string_view("job"), std::string_view("instance"),
        metrics::kMountpoint, metrics::kDevice, metrics::kFstype,
        metrics::kComponent}) {
    if (name == identity) return true;
  }
  return false;
}

// `command` with every "<path>" replaced by `path`.
std::string SubstitutePath(const std::string& command,
                           const std::string& path) {
  static constexpr std::string_view kPlaceholder = "<path>";
  std::string out;
  size_t from = 0;
  for (size_t at = command.find(kPlaceholder); at != std::string::npos;
       at = command.find(kPlaceholder, from)) {
    out.append(command, from, at - from);
    out += path;
    from = at + kPlaceholder.size();
  }
  out.append(command, from);
  return out;
}

// The default rules that follow the thresholds (see FollowThresholds).
constexpr char kDefaultWalRule[] = "wal_beyond_retention";
constexpr char kDefaultBackupRule[] = "backups_older_than_30d";

// find's age test for "older than d", in the runbook's style: -mtime +N for
// whole days (find counts whole days, so +7 is 8 days and more), else
// -mmin +N.
std::string FindAgeTest(const Duration& d) {
  constexpr int64_t kDay = 86'400'000;
  constexpr int64_t kMinute = 60'000;
  const int64_t ms = d.value.count();
  if (ms % kDay == 0) return "-mtime +" + std::to_string(ms / kDay);
  return "-mmin +" + std::to_string(ms / kMinute);
}

// Absolute and lexically normal, so equal directories compare equal as
// strings.
std::string NormalPath(const fs::path& path) {
  return NormalizePath(path.string());
}

// `path` if absolute, else `base`/`path`. REQUIRES: base is absolute.
std::string ResolvePath(const std::string& base, const std::string& path) {
  const fs::path written(path);
  return NormalPath(written.is_absolute() ? written : fs::path(base) / written);
}

// `dir` made absolute against the current directory. May throw
// fs::filesystem_error when the current directory is gone.
std::string AbsoluteDir(const std::string& dir) {
  const fs::path path = dir.empty() ? fs::path(".") : fs::path(dir);
  // Boost's absolute() asks for the current directory even when it needs
  // none, so an absolute path must not depend on it.
  return NormalPath(path.is_absolute() ? path : fs::absolute(path));
}

// `path` with the symlinks of its existing part resolved (the rest kept
// lexically): where the walk really goes. `path` itself when that fails.
std::string RealPath(const std::string& path) {
  boost::system::error_code ec;
  const fs::path real = fs::weakly_canonical(path, ec);
  return ec ? path : NormalPath(real);
}

// Fills resolved_path of every component and rejects two components whose
// trees overlap: the same directory, one inside the other, lexically or
// through symlinks. Their bytes would be counted twice, and the sum of the
// components would exceed the disk.
Status ResolveComponents(const YamlReader& reader, Config* config) {
  std::vector<std::string> real(config->components.size());
  for (size_t i = 0; i < config->components.size(); ++i) {
    Component& component = config->components[i];
    component.resolved_path = ResolvePath(config->root, component.path);
    real[i] = RealPath(component.resolved_path);
    for (size_t j = 0; j < i; ++j) {
      const Component& earlier = config->components[j];
      const bool same_lexically =
          earlier.resolved_path == component.resolved_path;
      std::string what;
      if (same_lexically || real[i] == real[j]) {
        what = ", the directory of component \"" + earlier.name + "\" too";
      } else if (IsAtOrBelow(real[i], real[j])) {
        what = ", inside component \"" + earlier.name + "\" (" + real[j] + ")";
      } else if (IsAtOrBelow(real[j], real[i])) {
        what = ", which holds component \"" + earlier.name + "\" (" + real[j] +
               ")";
      } else {
        continue;
      }
      const std::string via =
          real[i] == component.resolved_path || same_lexically
              ? component.resolved_path
              : component.resolved_path + " = " + real[i] + " (symlinks)";
      const std::string path = "components." + component.name + ".path";
      return reader.Error(
          {path, reader.MarkOf(path).value_or(YAML::Mark::null_mark())},
          "\"" + component.path + "\" resolves to " + via + what +
              "; each component must be its own directory, apart from the "
              "others, so no byte is counted twice");
    }
  }
  return std::nullopt;
}

// Fills resolved_path and resolved_command of every cleanup rule.
// REQUIRES: components resolved; a rule's component exists.
void ResolveCleanupRules(Config* config) {
  for (CleanupRule& rule : config->cleanup.rules) {
    const Component* component = rule.component.empty()
                                     ? nullptr
                                     : config->FindComponent(rule.component);
    rule.resolved_path = component != nullptr
                             ? component->resolved_path
                             : ResolvePath(config->root, rule.path);
    rule.resolved_command = SubstitutePath(rule.command, rule.resolved_path);
  }
}

// Reads one document onto a Config that already holds the defaults.
class ConfigParser {
 public:
  ConfigParser(std::string source, Config* config)
      : reader_(std::move(source)), config_(config) {}

  // REQUIRES: base_dir is absolute.
  Status Parse(const YAML::Node& document, const std::string& base_dir) {
    std::optional<std::string> root;
    const std::vector<Field> sections = {
        {"root",
         [this, &root](const YAML::Node& node, const Where& where) {
           root.emplace();
           return reader_.ReadString(node, where, &*root);
         }},
        {"components",
         [this](const YAML::Node& node, const Where& where) {
           return ReadComponents(node, where);
         }},
        MapField("scan", ScanFields()),
        MapField("cleanup",
                 {{"rules",
                   [this](const YAML::Node& node, const Where& where) {
                     return ReadCleanupRules(node, where);
                   }}}),
        MapField("thresholds", ThresholdFields()),
        MapField("alerting", AlertingFields()),
        MapField("dashboard", DashboardFields()),
    };
    if (Status status =
            reader_.ReadMap(document, {"", document.Mark()}, sections)) {
      return status;
    }
    if (root) config_->root = ResolvePath(base_dir, *root);
    if (Status status = ResolveComponents(reader_, config_)) return status;
    if (!rules_from_file_) FollowThresholds();
    if (Status status = CheckRelations()) return status;
    ResolveCleanupRules(config_);
    return std::nullopt;
  }

 private:
  // --- Field makers: each binds a key to where its value is stored. ---

  Field MapField(std::string_view key, std::vector<Field> fields) {
    return {key, [this, fields = std::move(fields)](const YAML::Node& node,
                                                    const Where& where) {
              return reader_.ReadMap(node, where, fields);
            }};
  }
  Field StringField(std::string_view key, std::string* out,
                    bool allow_empty = false) {
    return {key, [this, out, allow_empty](const YAML::Node& node,
                                          const Where& where) {
              return reader_.ReadString(node, where, out, allow_empty);
            }};
  }
  // A glob checked, and refused with the offset in it, the way the walk
  // will compile it.
  Status ReadGlob(const YAML::Node& node, const Where& where, bool allow_empty,
                  std::string* out) {
    std::string text;
    if (Status s = reader_.ReadString(node, where, &text, allow_empty)) {
      return s;
    }
    PatternError error;
    if (!text.empty() && !Pattern::Glob(text, &error)) {
      return reader_.Error(where, "not a usable glob: " + error.ToString());
    }
    *out = std::move(text);
    return std::nullopt;
  }
  Field BoolField(std::string_view key, bool* out) {
    return {key, [this, out](const YAML::Node& node, const Where& where) {
              return reader_.ReadBool(node, where, out);
            }};
  }
  // `why` explains the maximum, appended when a value is refused.
  template <typename Int>
  Field IntField(std::string_view key, Int* out, int64_t min, int64_t max,
                 std::string_view why = "") {
    return {key,
            [this, out, min, max, why](const YAML::Node& node,
                                       const Where& where) -> Status {
              int64_t value = 0;
              if (Status status =
                      reader_.ReadInt(node, where, min, max, &value, why)) {
                return status;
              }
              *out = static_cast<Int>(value);
              return std::nullopt;
            }};
  }
  Field RatioField(std::string_view key, double* out) {
    return {key, [this, out](const YAML::Node& node, const Where& where) {
              return reader_.ReadRatio(node, where, out);
            }};
  }
  // `for` may be 0s (fire at once); windows and intervals must be positive.
  Field DurationField(std::string_view key, Duration* out, bool positive) {
    return {key,
            [this, out, positive](const YAML::Node& node, const Where& where) {
              return reader_.ReadDuration(node, where, positive, out);
            }};
  }
  Field ForField(Duration* out) { return DurationField("for", out, false); }

  // --- The schema, section by section. ---

  std::vector<Field> ScanFields() {
    ScanOptions& scan = config_->scan;
    return {
        DurationField("interval", &scan.interval, true),
        DurationField("timeout", &scan.timeout, true),
        DurationField("statfs_timeout", &scan.statfs_timeout, true),
        BoolField("one_filesystem", &scan.one_filesystem),
        IntField("threads", &scan.threads, 1, 64),
        IntField("max_depth", &scan.max_depth, 1, 4096),
        {"mode",
         [this](const YAML::Node& node, const Where& where) -> Status {
           std::string text;
           if (Status status = reader_.ReadString(node, where, &text)) {
             return status;
           }
           if (text == "watch") {
             config_->scan.mode = ScanMode::kWatch;
           } else if (text == "walk") {
             config_->scan.mode = ScanMode::kWalk;
           } else {
             return reader_.Error(
                 where, "\"" + text + "\" is not a scan mode (watch or walk)");
           }
           return std::nullopt;
         }},
        DurationField("reconcile_interval", &scan.reconcile_interval, true),
    };
  }

  std::vector<Field> ThresholdFields() {
    Thresholds& t = config_->thresholds;
    auto ratio_for = [this](std::string_view ratio_key, RatioThreshold* out) {
      return std::vector<Field>{RatioField(ratio_key, &out->ratio),
                                ForField(&out->for_duration)};
    };
    return {
        MapField(
            "disk_space",
            {
                MapField("warning",
                         ratio_for("avail_ratio_below", &t.disk_space.warning)),
                MapField("critical", ratio_for("avail_ratio_below",
                                               &t.disk_space.critical)),
                MapField("emergency", ratio_for("used_ratio_above",
                                                &t.disk_space.emergency_used)),
            }),
        MapField("inodes",
                 {
                     MapField("warning",
                              ratio_for("free_ratio_below", &t.inodes.warning)),
                     MapField("critical", ratio_for("free_ratio_below",
                                                    &t.inodes.critical)),
                 }),
        MapField(
            "fill_prediction",
            {
                DurationField("horizon", &t.fill_prediction.horizon, true),
                DurationField("lookback", &t.fill_prediction.lookback, true),
                ForField(&t.fill_prediction.for_duration),
                RatioField("avail_ratio_below",
                           &t.fill_prediction.avail_ratio_below),
            }),
        MapField(
            "wal",
            {
                StringField("component", &t.wal.component),
                DurationField("retention", &t.wal.retention, true),
                IntField("max_segments", &t.wal.max_segments, 1,
                         kMaxExactThreshold, kExactThresholdWhy),
                RatioField("max_filesystem_share", &t.wal.max_filesystem_share),
                ForField(&t.wal.for_duration),
            }),
        MapField("backups",
                 {
                     StringField("component", &t.backups.component),
                     DurationField("max_age", &t.backups.max_age, true),
                     DurationField("retention", &t.backups.retention, true),
                     IntField("max_count", &t.backups.max_count, 1,
                              kMaxExactThreshold, kExactThresholdWhy),
                     ForField(&t.backups.for_duration),
                 }),
        MapField("tmp",
                 {
                     StringField("component", &t.tmp.component),
                     IntField("max_files", &t.tmp.max_files, 1,
                              kMaxExactThreshold, kExactThresholdWhy),
                     IntField("max_bytes", &t.tmp.max_bytes, 1,
                              kMaxExactThreshold, kExactThresholdWhy),
                     ForField(&t.tmp.for_duration),
                 }),
        MapField("reclaimable",
                 {
                     RatioField("max_filesystem_share",
                                &t.reclaimable.max_filesystem_share),
                     ForField(&t.reclaimable.for_duration),
                 }),
        MapField("exporter",
                 {
                     DurationField("scan_stale_after",
                                   &t.exporter.scan_stale_after, true),
                     ForField(&t.exporter.for_duration),
                 }),
    };
  }

  std::vector<Field> AlertingFields() {
    AlertingOptions& alerting = config_->alerting;
    return {
        {"source",
         [this](const YAML::Node& node, const Where& where) -> Status {
           std::string text;
           if (Status status = reader_.ReadString(node, where, &text)) {
             return status;
           }
           if (text == "exporter") {
             config_->alerting.source = MetricsSource::kExporter;
           } else if (text == "node_exporter") {
             config_->alerting.source = MetricsSource::kNodeExporter;
           } else {
             return reader_.Error(where, "\"" + text +
                                             "\" is not a metrics source "
                                             "(exporter or node_exporter)");
           }
           return std::nullopt;
         }},
        {"node_exporter_selector",
         [this](const YAML::Node& node, const Where& where) -> Status {
           std::string text;
           if (Status status = reader_.ReadString(node, where, &text, true)) {
             return status;
           }
           if (text.size() > kMaxSelectorBytes) {
             return reader_.Error(
                 where, std::to_string(text.size()) + " bytes; at most " +
                            std::to_string(kMaxSelectorBytes) +
                            " (it is repeated in every generated selector)");
           }
           std::vector<WrittenMatcher> written;
           PatternError error;
           if (!MatcherScanner(text).Scan(&written, &error)) {
             return reader_.Error(where,
                                  "cannot parse as label matchers like "
                                  "mountpoint=\"/data\": " +
                                      error.ToString());
           }
           if (std::optional<PatternError> problem = SelectorProblem(written)) {
             return reader_.Error(where, problem->ToString());
           }
           std::vector<LabelMatcher> matchers;
           for (WrittenMatcher& w : written) {
             matchers.push_back(std::move(w.matcher));
           }
           config_->alerting.node_exporter_selector = std::move(text);
           config_->alerting.node_exporter_matchers = std::move(matchers);
           return std::nullopt;
         }},
        StringField("job", &alerting.job),
        StringField("group_name", &alerting.group_name),
        StringField("runbook_url", &alerting.runbook_url),
        {"labels",
         [this](const YAML::Node& node, const Where& where) {
           return ReadLabels(node, where);
         }},
    };
  }

  std::vector<Field> DashboardFields() {
    DashboardOptions& dashboard = config_->dashboard;
    return {
        StringField("title", &dashboard.title),
        {"uid",
         [this](const YAML::Node& node, const Where& where) -> Status {
           std::string text;
           if (Status status = reader_.ReadString(node, where, &text)) {
             return status;
           }
           if (!IsValidDashboardUid(text)) {
             return reader_.Error(where, "\"" + text +
                                             "\" is not a Grafana uid (1 to "
                                             "40 of a-z A-Z 0-9 _ -)");
           }
           config_->dashboard.uid = std::move(text);
           return std::nullopt;
         }},
        DurationField("refresh", &dashboard.refresh, true),
    };
  }

  // A given component list replaces the default one: merging would keep
  // directories the user meant to drop.
  Status ReadComponents(const YAML::Node& node, const Where& where) {
    std::vector<Component> components;
    Status status = reader_.ReadEntries(
        node, where,
        [&](const std::string& name, const Where& key_where,
            const YAML::Node& value, const Where& value_where) -> Status {
          if (!IsValidComponentName(name)) {
            return reader_.Error(key_where,
                                 "\"" + name +
                                     "\" is not a valid component name "
                                     "([a-z][a-z0-9_]*; it becomes a label "
                                     "value)");
          }
          Component component;
          component.name = name;
          bool has_path = false;
          const std::vector<Field> fields = {
              {"path",
               [&](const YAML::Node& n, const Where& w) {
                 has_path = true;
                 return reader_.ReadString(n, w, &component.path);
               }},
              {"segment_pattern",
               [&](const YAML::Node& n, const Where& w) {
                 return ReadGlob(n, w, true, &component.segment_pattern);
               }},
              BoolField("optional", &component.optional),
          };
          if (Status s = reader_.ReadMap(value, value_where, fields)) return s;
          if (!has_path) {
            return reader_.Error(key_where, "missing required key \"path\"");
          }
          components.push_back(std::move(component));
          return std::nullopt;
        });
    if (status) return status;
    config_->components = std::move(components);
    return std::nullopt;
  }

  // A given rule list replaces the default one, like components: merging
  // would keep steps the user meant to drop. An empty list is allowed.
  Status ReadCleanupRules(const YAML::Node& node, const Where& where) {
    std::vector<CleanupRule> rules;
    std::map<std::string, YAML::Mark> names;
    Status status = reader_.ReadList(
        node, where,
        [&](const YAML::Node& item, const Where& item_where) -> Status {
          CleanupRule rule;
          bool has_name = false;
          const std::vector<Field> fields = {
              {"name",
               [&](const YAML::Node& n, const Where& w) -> Status {
                 has_name = true;
                 if (Status s = reader_.ReadString(n, w, &rule.name)) return s;
                 if (!IsValidRuleName(rule.name)) {
                   return reader_.Error(w, "\"" + rule.name +
                                               "\" is not a valid rule name "
                                               "([a-z0-9_]+; it becomes the "
                                               "label value rule=)");
                 }
                 const auto [first, added] = names.emplace(rule.name, w.mark);
                 if (!added) {
                   return reader_.Error(
                       w, "duplicate rule name (first at " +
                              std::to_string(first->second.line + 1) + ":" +
                              std::to_string(first->second.column + 1) + ")");
                 }
                 return std::nullopt;
               }},
              {"section",
               [&](const YAML::Node& n, const Where& w) -> Status {
                 std::string text;
                 if (Status s = reader_.ReadString(n, w, &text)) return s;
                 if (text.size() != 1 || text[0] < '1' || text[0] > '5') {
                   return reader_.Error(w, "\"" + text +
                                               "\" is not a runbook section "
                                               "(1, 2, 3, 4 or 5)");
                 }
                 rule.section = text[0] - '0';
                 return std::nullopt;
               }},
              StringField("component", &rule.component),
              StringField("path", &rule.path),
              {"match",
               [&](const YAML::Node& n, const Where& w) -> Status {
                 std::string text;
                 if (Status s = reader_.ReadString(n, w, &text)) return s;
                 if (text.find('/') != std::string::npos &&
                     text.size() <= kMaxGlobBytes) {
                   return reader_.Error(w, "\"" + text +
                                               "\" holds a '/': match is a "
                                               "glob on an entry's name "
                                               "(like find -name); put the "
                                               "directory in path");
                 }
                 return ReadGlob(n, w, false, &rule.match);
               }},
              {"type",
               [&](const YAML::Node& n, const Where& w) -> Status {
                 std::string text;
                 if (Status s = reader_.ReadString(n, w, &text)) return s;
                 for (const CleanupEntryType type :
                      {CleanupEntryType::kFile, CleanupEntryType::kDirectory,
                       CleanupEntryType::kEmptyFile}) {
                   if (text == CleanupEntryTypeName(type)) {
                     rule.type = type;
                     return std::nullopt;
                   }
                 }
                 return reader_.Error(w, "\"" + text +
                                             "\" is not an entry type (file, "
                                             "directory or empty_file)");
               }},
              DurationField("older_than", &rule.older_than, false),
              StringField("command", &rule.command, true),
          };
          if (Status s = reader_.ReadMap(item, item_where, fields)) return s;
          if (!has_name) {
            return reader_.Error(item_where, "missing required key \"name\"");
          }
          if (rule.component.empty() == rule.path.empty()) {
            return reader_.Error(
                item_where,
                "rule \"" + rule.name +
                    "\" needs exactly one of component (a component's "
                    "directory) and path (any other directory)");
          }
          rules.push_back(std::move(rule));
          return std::nullopt;
        });
    if (status) return status;
    if (rules.size() > kMaxCleanupRules) {
      return reader_.Error(where, std::to_string(rules.size()) +
                                      " rules; at most " +
                                      std::to_string(kMaxCleanupRules));
    }
    config_->cleanup.rules = std::move(rules);
    rules_from_file_ = true;
    return std::nullopt;
  }

  // While the rule list is the default one, its WAL and backup steps follow
  // the components the thresholds name (a file that renamed the WAL
  // component keeps loading), and the WAL step is "segments older than the
  // WAL retention", with the command to match.
  void FollowThresholds() {
    const Thresholds& t = config_->thresholds;
    for (CleanupRule& rule : config_->cleanup.rules) {
      if (rule.name == kDefaultWalRule) {
        rule.component = t.wal.component;
        rule.older_than = t.wal.retention;
        const Component* wal = config_->FindComponent(t.wal.component);
        if (wal != nullptr && !wal->segment_pattern.empty()) {
          rule.match = wal->segment_pattern;
        }
        rule.command = "find <path> -name \"" + rule.match + "\" " +
                       FindAgeTest(rule.older_than) + " -delete";
      } else if (rule.name == kDefaultBackupRule) {
        rule.component = t.backups.component;
      }
    }
  }

  Status ReadLabels(const YAML::Node& node, const Where& where) {
    std::map<std::string, std::string> labels;
    Status status = reader_.ReadEntries(
        node, where,
        [&](const std::string& name, const Where& key_where,
            const YAML::Node& value, const Where& value_where) -> Status {
          if (name.starts_with("__")) {
            return reader_.Error(key_where,
                                 "label names starting with \"__\" are "
                                 "reserved for Prometheus' internal use");
          }
          if (!IsValidLabelName(name)) {
            return reader_.Error(key_where, "\"" + name +
                                                "\" is not a valid label name "
                                                "([a-zA-Z_][a-zA-Z0-9_]*)");
          }
          if (name == "severity") {
            return reader_.Error(key_where,
                                 "severity is set per alert by "
                                 "stemedb_rulegen (critical, warning or "
                                 "info); remove it");
          }
          if (name == "alertname") {
            return reader_.Error(key_where,
                                 "alertname is set by Prometheus; remove it");
          }
          if (IsIdentityLabel(name)) {
            return reader_.Error(
                key_where,
                name +
                    " tells apart the series the alerts are computed from "
                    "(job, instance, mountpoint, device, fstype, "
                    "component); set on every alert it makes the alerts of "
                    "different hosts or filesystems one labelset, and "
                    "Prometheus then evaluates none of them; remove it (set "
                    "target labels in the scrape config instead)");
          }
          return reader_.ReadString(value, value_where, &labels[name]);
        });
    if (status) return status;
    config_->alerting.labels = std::move(labels);
    return std::nullopt;
  }

  // --- Rules that relate keys; reported where the file set one of them. ---

  // The error goes to `primary` if the file set it, else to `secondary`
  // (the file set that one, and the primary kept its default).
  ConfigError RelationError(const std::string& primary,
                            std::string primary_message,
                            const std::string& secondary,
                            std::string secondary_message) const {
    if (const auto mark = reader_.MarkOf(primary)) {
      return reader_.Error({primary, *mark}, std::move(primary_message));
    }
    if (const auto mark = reader_.MarkOf(secondary)) {
      return reader_.Error({secondary, *mark}, std::move(secondary_message));
    }
    return reader_.Error({primary, YAML::Mark::null_mark()},
                         std::move(primary_message));
  }

  // A warning must fire before its critical: on a "below" ratio that means a
  // larger threshold. node-mixin shipped these swapped for two years.
  Status CheckWarningLooser(const std::string& section,
                            const std::string& ratio_key,
                            const RatioThreshold& warning,
                            const RatioThreshold& critical) const {
    if (warning.ratio > critical.ratio) return std::nullopt;
    const std::string why =
        ": a warning must be looser than its critical, so that it fires first";
    return RelationError(
        section + ".warning." + ratio_key,
        FormatNumber(warning.ratio) + " must be greater than critical." +
            ratio_key + " (" + FormatNumber(critical.ratio) + ")" + why,
        section + ".critical." + ratio_key,
        FormatNumber(critical.ratio) + " must be less than warning." +
            ratio_key + " (" + FormatNumber(warning.ratio) + ")" + why);
  }

  Status CheckRelations() const {
    const Thresholds& t = config_->thresholds;
    if (Status status = CheckComponentReference("thresholds.wal.component",
                                                t.wal.component, true)) {
      return status;
    }
    if (Status status = CheckComponentReference("thresholds.backups.component",
                                                t.backups.component, true)) {
      return status;
    }
    if (Status status = CheckComponentReference("thresholds.tmp.component",
                                                t.tmp.component, false)) {
      return status;
    }
    const std::vector<CleanupRule>& rules = config_->cleanup.rules;
    for (size_t i = 0; i < rules.size(); ++i) {
      if (rules[i].component.empty()) continue;
      // Default rules have no position of their own: their index is the
      // default list's.
      const std::string path =
          "cleanup.rules[" + std::to_string(i) + "].component";
      if (Status status =
              CheckComponentReference(path, rules[i].component, false)) {
        return status;
      }
    }
    if (Status status =
            CheckWarningLooser("thresholds.disk_space", "avail_ratio_below",
                               t.disk_space.warning, t.disk_space.critical)) {
      return status;
    }
    // Emergency (§1, disk above 98%) is used space and must lie beyond
    // critical's used space, 1 - critical.avail_ratio_below. The epsilon
    // treats 0.9 vs 1 - 0.1 as equal despite binary rounding.
    const double critical_used = 1 - t.disk_space.critical.ratio;
    if (t.disk_space.emergency_used.ratio <= critical_used + 1e-9) {
      const std::string why =
          ": the emergency must be tighter than critical, so it fires last";
      return RelationError(
          "thresholds.disk_space.emergency.used_ratio_above",
          FormatNumber(t.disk_space.emergency_used.ratio) +
              " must be greater than " + FormatNumber(critical_used) +
              " (1 - critical.avail_ratio_below)" + why,
          "thresholds.disk_space.critical.avail_ratio_below",
          FormatNumber(t.disk_space.critical.ratio) + " must be greater than " +
              FormatNumber(1 - t.disk_space.emergency_used.ratio) +
              " (1 - emergency.used_ratio_above)" + why);
    }
    if (Status status =
            CheckWarningLooser("thresholds.inodes", "free_ratio_below",
                               t.inodes.warning, t.inodes.critical)) {
      return status;
    }
    const FillPrediction& fill = t.fill_prediction;
    if (fill.lookback.value < fill.for_duration.value) {
      const std::string why =
          ": a prediction window shorter than its for would alert on a trend "
          "it never saw whole";
      return RelationError("thresholds.fill_prediction.lookback",
                           fill.lookback.text + " is shorter than for (" +
                               fill.for_duration.text + ")" + why,
                           "thresholds.fill_prediction.for",
                           fill.for_duration.text +
                               " is longer than lookback (" +
                               fill.lookback.text + ")" + why);
    }
    return std::nullopt;
  }

  // A threshold section names the component it watches; the WAL and backup
  // alerts count segments, so those components need a segment_pattern.
  Status CheckComponentReference(const std::string& path,
                                 const std::string& name,
                                 bool needs_segments) const {
    const Component* component = config_->FindComponent(name);
    if (component == nullptr) {
      std::string known;
      for (const Component& c : config_->components) {
        known += (known.empty() ? "" : ", ") + c.name;
      }
      std::string message = "\"" + name +
                            "\" is not a component (components: " +
                            (known.empty() ? "none" : known) + ")";
      if (const auto mark = reader_.MarkOf(path)) {
        return reader_.Error({path, *mark}, std::move(message));
      }
      // The default name, made dangling by a components list without it.
      return reader_.Error(
          {path,
           reader_.KeyMarkOf("components").value_or(YAML::Mark::null_mark())},
          message +
              "; the components list replaced the default one, so "
              "add \"" +
              name + "\" or set " + path);
    }
    if (needs_segments && component->segment_pattern.empty()) {
      const std::string component_path = "components." + name;
      return reader_.Error(
          {component_path,
           reader_.KeyMarkOf(component_path).value_or(YAML::Mark::null_mark())},
          "has no segment_pattern, but " + path +
              " names it and its alerts count segments");
    }
    return std::nullopt;
  }

  YamlReader reader_;
  Config* config_;
  bool rules_from_file_ = false;  // the file set cleanup.rules
};

// Parses `yaml` onto `*config` (which holds the defaults). Every exception
// the libraries throw stops here.
Status ParseOnto(std::string_view yaml, const std::string& source_name,
                 const std::string& base_dir, Config* config) {
  YamlReader reporter(source_name);
  try {
    const std::string text(yaml);
    YAML::Mark second;
    if (detail::HasSecondDocument(text, &second)) {
      return reporter.Error({"", second},
                            "a second YAML document; a config file holds one");
    }
    const YAML::Node document = YAML::Load(text);
    if (!document.IsDefined() || document.IsNull()) {
      return reporter.Error({"", YAML::Mark::null_mark()},
                            "no configuration in the file (expected a "
                            "mapping of sections: root, components, scan, "
                            "thresholds, alerting, dashboard)");
    }
    ConfigParser parser(source_name, config);
    return parser.Parse(document, AbsoluteDir(base_dir));
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp gives up at a fixed depth and calls it a "bad file".
    return reporter.Error({"", e.mark},
                          "invalid YAML: nested " + std::to_string(e.depth()) +
                              " levels deep, past yaml-cpp's limit (a config "
                              "is nested 4 levels at most)");
  } catch (const YAML::Exception& e) {
    return reporter.Error({"", e.mark}, "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return reporter.Error({"", YAML::Mark::null_mark()}, e.what());
  }
}

// The embedded default parsed once; immutable afterwards, so shared safely.
struct Embedded {
  Config config;
  Status error;
};

const Embedded& EmbeddedDefault() {
  static const Embedded embedded = [] {
    Embedded result;
    result.config.source = kEmbeddedSource;
    result.error =
        ParseOnto(DefaultConfigYaml(), kEmbeddedSource, "/", &result.config);
    return result;
  }();
  return embedded;
}

}  // namespace

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  if (!IsAlpha(name[0]) && name[0] != '_') return false;
  for (const char c : name) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '_') return false;
  }
  return true;
}

std::string_view CleanupEntryTypeName(CleanupEntryType type) {
  switch (type) {
    case CleanupEntryType::kFile:
      return "file";
    case CleanupEntryType::kDirectory:
      return "directory";
    case CleanupEntryType::kEmptyFile:
      return "empty_file";
  }
  return "file";
}

const CleanupRule* Config::FindCleanupRule(std::string_view name) const {
  for (const CleanupRule& rule : cleanup.rules) {
    if (rule.name == name) return &rule;
  }
  return nullptr;
}

const Component* Config::FindComponent(std::string_view name) const {
  for (const Component& component : components) {
    if (component.name == name) return &component;
  }
  return nullptr;
}

Status ParseConfig(std::string_view yaml, const std::string& source_name,
                   const std::string& base_dir, Config* out) {
  const Embedded& defaults = EmbeddedDefault();
  if (defaults.error) return defaults.error;
  Config config = defaults.config;
  config.source = source_name;
  if (Status status = ParseOnto(yaml, source_name, base_dir, &config)) {
    return status;
  }
  *out = std::move(config);
  return std::nullopt;
}

Status ReadConfigText(const std::string& path, std::string* text) {
  return ReadUserFile(path, kConfigFileKind, text);
}

Status LoadConfigFile(const std::string& path, Config* out) {
  std::string base_dir;
  try {
    base_dir = fs::absolute(path).parent_path().string();
  } catch (const std::exception& e) {
    return ConfigError{
        path, 0, 0, "",
        std::string("cannot resolve config file path: ") + e.what()};
  }
  std::string text;
  if (auto error = ReadConfigText(path, &text)) return error;
  return ParseConfig(text, path, base_dir, out);
}

Status OverrideRoot(const std::string& root, Config* config) {
  Config changed = *config;
  try {
    changed.root = AbsoluteDir(root);
  } catch (const std::exception& e) {
    return ConfigError{config->source, 0, 0, "root",
                       std::string("cannot resolve: ") + e.what()};
  }
  if (Status status = ResolveComponents(YamlReader(config->source), &changed)) {
    return status;
  }
  ResolveCleanupRules(&changed);
  *config = std::move(changed);
  return std::nullopt;
}

Config DefaultConfig(const std::string& root) {
  const Embedded& defaults = EmbeddedDefault();
  // The default is compiled in and tested; failing here is a build defect.
  if (defaults.error) {
    std::fprintf(stderr, "stemedb: broken embedded default config: %s\n",
                 defaults.error->ToString().c_str());
    std::abort();
  }
  Config config = defaults.config;
  if (root.empty()) return config;
  if (Status status = OverrideRoot(root, &config)) {
    std::fprintf(stderr, "stemedb: %s\n", status->ToString().c_str());
    std::abort();
  }
  return config;
}

}  // namespace stemedb
