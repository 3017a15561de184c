#include "schema.h"

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "host_settings.h"
#include "names.h"
#include "relations.h"
#include "resolve.h"
#include "selector.h"
#include "stemedb/config/pattern.h"
#include "stemedb/config/yaml_reader.h"

namespace stemedb::detail {
namespace {

using Field = YamlReader::Field;

// The largest integer threshold: the rules compare `value > n` in float64,
// so n and n + 1 (the first value that fires, which the generated tests
// feed) must both be exact doubles. Beyond 2^53 they round together.
constexpr int64_t kMaxExactThreshold = (int64_t{1} << 53) - 1;
constexpr std::string_view kExactThresholdWhy =
    "the alerts compare in float64, which holds integers exactly up to 2^53";

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

// Reads one document onto a Config that already holds the defaults.
class ConfigParser {
 public:
  ConfigParser(std::string source, bool read_host_files, Config* config)
      : reader_(std::move(source)),
        config_(config),
        read_host_files_(read_host_files) {}

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
        MapField("alerts", AlertFamilyFields()),
        MapField("alerting", AlertingFields()),
        MapField("dashboard", DashboardFields()),
        {"stemedb_config",
         [this](const YAML::Node& node, const Where& where) -> Status {
           config_->stemedb.path.clear();  // null disables, as "" does
           if (node.IsNull()) return std::nullopt;
           return reader_.ReadString(node, where, &config_->stemedb.path, true);
         }},
        MapField("prevention", PreventionFields()),
    };
    if (Status status =
            reader_.ReadMap(document, {"", document.Mark()}, sections)) {
      return status;
    }
    if (root) config_->root = ResolvePath(base_dir, *root);
    if (Status status = ResolveComponents(reader_, config_)) return status;
    if (read_host_files_) {
      if (Status s = ApplyHostSettings(reader_, base_dir, config_)) return s;
    }
    if (!rules_from_file_) FollowThresholds();
    if (Status status = CheckRelations(reader_, *config_)) return status;
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

  // Every threshold family refuses null (see RefuseNull).
  std::vector<Field> ThresholdFields() {
    std::vector<Field> fields = ThresholdFamilyFields();
    for (Field& field : fields) field = RefuseNull(std::move(field));
    return fields;
  }

  // `backups: null` reads to a human as "no backups", yet would keep every
  // default threshold and alert: refused, with the way to say it.
  Field RefuseNull(Field field) {
    const std::string_view family =
        field.key == "reclaimable" ? "cleanup" : field.key;
    return {field.key,
            [this, family, read = std::move(field.read)](
                const YAML::Node& node, const Where& where) -> Status {
              if (node.IsNull()) {
                return reader_.Error(
                    where,
                    "null keeps every default threshold; to switch "
                    "these alerts off, write alerts." +
                        std::string(family) + ".enabled: false");
              }
              return read(node, where);
            }};
  }

  // alerts.<family>.enabled: an unknown family is an unknown key.
  std::vector<Field> AlertFamilyFields() {
    AlertFamilies& a = config_->alerts;
    auto family = [this](std::string_view key, bool* enabled) {
      return MapField(key, {BoolField("enabled", enabled)});
    };
    return {
        family("disk_space", &a.disk_space),
        family("inodes", &a.inodes),
        family("fill_prediction", &a.fill_prediction),
        family("filesystem_health", &a.filesystem_health),
        family("wal", &a.wal),
        family("backups", &a.backups),
        family("tmp", &a.tmp),
        family("cleanup", &a.cleanup),
        family("exporter", &a.exporter),
        family("scan", &a.scan),
    };
  }

  std::vector<Field> FillCriticalFields() {
    FillPrediction::Critical& c = config_->thresholds.fill_prediction.critical;
    return {
        DurationField("horizon", &c.horizon, true),
        DurationField("lookback", &c.lookback, true),
        ForField(&c.for_duration),
        RatioField("avail_ratio_below", &c.avail_ratio_below),
        RatioField("daily_low_margin", &c.daily_low_margin),
    };
  }

  std::vector<Field> ThresholdFamilyFields() {
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
                MapField("critical", FillCriticalFields()),
            }),
        MapField(
            "wal",
            {
                StringField("component", &t.wal.component),
                DurationField("retention", &t.wal.retention, true),
                IntField("max_segments", &t.wal.max_segments, 1,
                         kMaxExactThreshold, kExactThresholdWhy),
                RatioField("max_filesystem_share", &t.wal.max_filesystem_share),
                DurationField("shrinking_lookback", &t.wal.shrinking_lookback,
                              true),
                RatioField("shrinking_ratio", &t.wal.shrinking_ratio),
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
        MapField(
            "filesystem_health",
            {
                DurationField("readonly_for", &t.filesystem_health.readonly_for,
                              false),
                DurationField("stat_failing_for",
                              &t.filesystem_health.stat_failing_for, false),
            }),
    };
  }

  // The runbook's advice is in whole days.
  Field AdviceField(std::string_view key, std::chrono::milliseconds* out) {
    return {key, [this, out](const YAML::Node& node, const Where& where) {
              Duration d;
              if (Status s = reader_.ReadDuration(node, where, true, &d)) {
                return s;
              }
              *out = d.value;
              return Status();
            }};
  }

  std::vector<Field> PreventionFields() {
    PreventionOptions& p = config_->prevention;
    return {
        StringField("journald_config", &p.journald_config, true),
        AdviceField("wal_retention_advice", &p.wal_retention_advice),
        AdviceField("backup_retention_advice", &p.backup_retention_advice),
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
           std::vector<LabelMatcher> matchers;
           if (Status err = ParseSelector(text, &matchers)) {
             return reader_.Error(where, err->message);
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
        {"growth_per_day",
         [this](const YAML::Node& node, const Where& where) {
           return ReadGrowthPerDay(node, where);
         }},
    };
  }

  // component name -> planned bytes per day; names are checked against the
  // components list with the other cross-field relations.
  Status ReadGrowthPerDay(const YAML::Node& node, const Where& where) {
    std::map<std::string, int64_t> growth;
    Status status = reader_.ReadEntries(
        node, where,
        [&](const std::string& name, const Where&, const YAML::Node& value,
            const Where& value_where) -> Status {
          return reader_.ReadInt(value, value_where, 1, int64_t{1} << 50,
                                 &growth[name]);
        });
    if (status) return status;
    config_->dashboard.growth_per_day = std::move(growth);
    return std::nullopt;
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

  // The keys of one cleanup rule. `names` holds the names read so far, with
  // where, so a duplicate says where the first one is.
  std::vector<Field> CleanupRuleFields(
      CleanupRule* rule, bool* has_name,
      std::map<std::string, YAML::Mark>* names) {
    // By value: the pointers outlive this call, the parameters do not.
    return {
        {"name",
         [=, this](const YAML::Node& n, const Where& w) -> Status {
           *has_name = true;
           if (Status s = reader_.ReadString(n, w, &rule->name)) return s;
           if (!IsValidRuleName(rule->name)) {
             return reader_.Error(w, "\"" + rule->name +
                                         "\" is not a valid rule name "
                                         "([a-z0-9_]+; it becomes the "
                                         "label value rule=)");
           }
           const auto [first, added] = names->emplace(rule->name, w.mark);
           if (!added) {
             return reader_.Error(
                 w, "duplicate rule name (first at " +
                        std::to_string(first->second.line + 1) + ":" +
                        std::to_string(first->second.column + 1) + ")");
           }
           return std::nullopt;
         }},
        {"section",
         [=, this](const YAML::Node& n, const Where& w) -> Status {
           std::string text;
           if (Status s = reader_.ReadString(n, w, &text)) return s;
           if (text.size() != 1 || text[0] < '1' || text[0] > '5') {
             return reader_.Error(w, "\"" + text +
                                         "\" is not a runbook section "
                                         "(1, 2, 3, 4 or 5)");
           }
           rule->section = text[0] - '0';
           return std::nullopt;
         }},
        StringField("component", &rule->component),
        StringField("path", &rule->path),
        {"match",
         [=, this](const YAML::Node& n, const Where& w) -> Status {
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
           return ReadGlob(n, w, false, &rule->match);
         }},
        {"type",
         [=, this](const YAML::Node& n, const Where& w) -> Status {
           std::string text;
           if (Status s = reader_.ReadString(n, w, &text)) return s;
           for (const CleanupEntryType type :
                {CleanupEntryType::kFile, CleanupEntryType::kDirectory,
                 CleanupEntryType::kEmptyFile}) {
             if (text == CleanupEntryTypeName(type)) {
               rule->type = type;
               return std::nullopt;
             }
           }
           return reader_.Error(w, "\"" + text +
                                       "\" is not an entry type (file, "
                                       "directory or empty_file)");
         }},
        DurationField("older_than", &rule->older_than, false),
        StringField("command", &rule->command, true),
    };
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
          const std::vector<Field> fields =
              CleanupRuleFields(&rule, &has_name, &names);
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

  YamlReader reader_;
  Config* config_;
  bool read_host_files_;
  bool rules_from_file_ = false;  // the file set cleanup.rules
};

}  // namespace

Status ParseDocument(const YAML::Node& document, const std::string& source,
                     const std::string& base_dir, bool read_host_files,
                     Config* config) {
  return ConfigParser(source, read_host_files, config)
      .Parse(document, base_dir);
}

}  // namespace stemedb::detail
