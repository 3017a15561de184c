// The one configuration model shared by stemedb_disk_exporter and
// stemedb_rulegen, and its strict YAML loader.
//
// Thread safety: a Config is a plain value; share it read-only or copy it.
// Loading functions are reentrant.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stemedb/base/error.h"
#include "stemedb/base/user_file.h"
#include "stemedb/config/stemedb_config.h"

namespace stemedb {

// The config unit's name for the one error value (stemedb/error.h).
using ConfigError = Error;

// A Prometheus duration ("15m", "1h30m", "7d"): the value, and the text as
// written so generated rules carry exactly what the user wrote.
struct Duration {
  std::chrono::milliseconds value{0};
  std::string text;

  double seconds() const { return value.count() / 1000.0; }
};

// The longest duration Prometheus accepts: its nanoseconds fit in an int64
// (prometheus/common model.ParseDuration), about 292.47 years.
inline constexpr int64_t kMaxDurationMillis =
    std::numeric_limits<int64_t>::max() / 1'000'000;

// Parses Prometheus' duration syntax: one or more of <int>y|w|d|h|m|s|ms in
// that order, e.g. "90s", "1h30m", "7d". Zero ("0s") is allowed by the syntax;
// callers that need a positive value check it. Returns nullopt when invalid;
// then *out_of_range (when given) tells a well-formed duration longer than
// kMaxDurationMillis from a syntax error.
std::optional<Duration> ParseDuration(std::string_view text,
                                      bool* out_of_range = nullptr);

// `from + d`, saturated at the latest time the clock can hold: a duration
// near the Prometheus maximum added to a clock's now() would otherwise wrap
// into the past (a timeout that has always expired, a walk interval of 0).
template <typename TimePoint>
TimePoint SaturatingAdd(TimePoint from, std::chrono::milliseconds d) {
  using Rep = typename TimePoint::duration;
  const auto room = TimePoint::max() - from;
  if (d.count() <= 0) return from;
  if (std::chrono::duration_cast<std::chrono::milliseconds>(room) <= d) {
    return TimePoint::max();
  }
  return from + std::chrono::duration_cast<Rep>(d);
}

// True for a valid Prometheus label name that is not reserved ("__" prefix).
bool IsValidLabelName(std::string_view name);

// One directory of a StemeDB data layout, reported as label component=name.
struct Component {
  std::string name;  // label value; [a-z0-9_]+ so it is also safe in PromQL
  std::string path;  // as written: relative to Config::root, or absolute
  std::string resolved_path;  // absolute, lexically normalised; set by loader
  // Glob (fnmatch(3), no FNM_PATHNAME) for entries directly in the directory
  // that are segments: WAL segment files, backup sets. Empty: no segments.
  std::string segment_pattern;
  // A required component that is missing is reported present=0 and counted as
  // an error; an optional one (tmp, "where present") is just present=0.
  bool optional = false;
};

// How component numbers are kept: a full walk every interval, or a first
// walk and then kernel change notifications (inotify) with re-reads of what
// changed. Components on filesystems whose notifications miss changes (nfs,
// cifs, fuse, ...) are walked either way.
enum class ScanMode { kWatch, kWalk };

struct ScanOptions {
  Duration interval{std::chrono::seconds(60), "1m"};  // between walk starts
  Duration timeout{std::chrono::minutes(5), "5m"};    // a walk is cut off
  Duration statfs_timeout{std::chrono::seconds(5), "5s"};  // per filesystem
  bool one_filesystem = true;  // like du -x: do not descend into other mounts
  int threads = 2;             // walker threads shared by all components
  int max_depth = 256;         // deeper directories count as reason "loop"
  ScanMode mode = ScanMode::kWatch;
  // Watch mode: a full walk compares its totals with the watched ones.
  Duration reconcile_interval{std::chrono::hours(1), "1h"};
};

// A threshold on a ratio in (0,1) that must hold for a duration.
struct RatioThreshold {
  double ratio = 0;
  Duration for_duration;
};

struct DiskSpaceThresholds {  // on filesystem avail/size
  RatioThreshold warning{0.20, {std::chrono::minutes(15), "15m"}};
  RatioThreshold critical{0.10, {std::chrono::minutes(5), "5m"}};
  RatioThreshold emergency_used{0.98, {std::chrono::minutes(1), "1m"}};  // §1
};

struct InodeThresholds {  // on filesystem files_free/files, files > 0
  RatioThreshold warning{0.10, {std::chrono::minutes(15), "15m"}};
  RatioThreshold critical{0.05, {std::chrono::minutes(5), "5m"}};
};

struct FillPrediction {  // predict_linear(avail[lookback], horizon) < 0
  Duration horizon{std::chrono::hours(36), "36h"};
  Duration lookback{std::chrono::hours(6), "6h"};
  Duration for_duration{std::chrono::minutes(90), "90m"};
  // Only predict on filesystems already below this avail ratio, so a freshly
  // written large file on an empty disk does not page anybody.
  double avail_ratio_below = 0.45;
  // The short-horizon page (StemeDBDiskWillFillVerySoon): full within
  // `horizon` at the rate of the last `lookback`, below `avail_ratio_below`,
  // and at least `daily_low_margin` of the size below the lowest avail
  // within an hour of the same time the day before (a nightly job's dip,
  // which recurs, does not page; the page needs a day of history).
  struct Critical {
    Duration horizon{std::chrono::hours(4), "4h"};
    Duration lookback{std::chrono::minutes(10), "10m"};
    Duration for_duration{std::chrono::minutes(2), "2m"};
    double avail_ratio_below = 0.45;
    double daily_low_margin = 0.02;
  } critical;
};

// The filesystem's own health: read-only (the database cannot write) and
// statfs that does not answer (the numbers are stale).
struct FilesystemHealthThresholds {
  Duration readonly_for{std::chrono::minutes(1), "1m"};
  Duration stat_failing_for{std::chrono::minutes(5), "5m"};
};

struct WalThresholds {  // §2
  std::string component = "wal";
  Duration retention{std::chrono::hours(24 * 7), "7d"};  // oldest segment age
  int64_t max_segments = 100;
  double max_filesystem_share = 0.50;  // WAL bytes / filesystem size
  // Draining: at least `shrinking_ratio` fewer segments than
  // `shrinking_lookback` ago (cleanup removing a backlog), which silences
  // the segment count alert: nothing is left to clean.
  Duration shrinking_lookback{std::chrono::hours(24), "24h"};
  double shrinking_ratio = 0.05;
  Duration for_duration{std::chrono::minutes(30), "30m"};
};

struct BackupThresholds {  // §1 step 2, Prevention 3
  std::string component = "backups";
  Duration max_age{std::chrono::hours(36), "36h"};       // newest backup
  Duration retention{std::chrono::hours(24 * 7), "7d"};  // oldest backup
  int64_t max_count = 7;
  Duration for_duration{std::chrono::minutes(30), "30m"};
};

struct TmpThresholds {  // §4
  std::string component = "tmp";
  int64_t max_files = 10000;
  int64_t max_bytes = int64_t{1} << 30;
  Duration for_duration{std::chrono::hours(1), "1h"};
};

// The info alert for cleanup that is not running (runbook Common Cause 1):
// what the cleanup rules would free, summed per filesystem, above this share
// of the filesystem for this long.
struct ReclaimableThresholds {
  double max_filesystem_share = 0.10;
  Duration for_duration{std::chrono::hours(12), "12h"};
};

struct ExporterThresholds {
  // No successful scan for this long: the numbers on the dashboard are stale.
  Duration scan_stale_after{std::chrono::minutes(15), "15m"};
  Duration for_duration{std::chrono::minutes(5), "5m"};  // down / failing
};

struct Thresholds {
  DiskSpaceThresholds disk_space;
  InodeThresholds inodes;
  FillPrediction fill_prediction;
  WalThresholds wal;
  BackupThresholds backups;
  TmpThresholds tmp;
  ReclaimableThresholds reclaimable;
  ExporterThresholds exporter;
  FilesystemHealthThresholds filesystem_health;
};

// Alert families, each switched on or off as a whole (alerts.<family>.
// enabled): a component absent by design (backups kept off-host) turns its
// family off instead of living with an alert that never clears.
struct AlertFamilies {
  bool disk_space = true;       // StemeDBDiskSpace{Warning,Critical,Emergency}
  bool inodes = true;           // StemeDBInodeExhaustion{,Critical}
  bool fill_prediction = true;  // StemeDBDiskWillFill*, StemeDBInodesWillFill*
  bool filesystem_health = true;  // read-only, statfs failing
  bool wal = true;                // StemeDBWAL*
  bool backups = true;            // StemeDBBackup*
  bool tmp = true;                // StemeDBTmpFiles*
  bool cleanup = true;            // StemeDBCleanupNotRunning
  bool exporter = true;           // down, absent, config reload failed
  bool scan = true;               // scans failing, stale or incomplete
};

enum class MetricsSource { kExporter, kNodeExporter };

// One PromQL label matcher, e.g. mountpoint="/data" or fstype!~"tmpfs".
struct LabelMatcher {
  std::string name;
  std::string op;     // =, !=, =~ or !~
  std::string value;  // unescaped
};

struct AlertingOptions {
  MetricsSource source = MetricsSource::kExporter;
  // With source node_exporter: label matchers added to every
  // node_filesystem_* selector, e.g. mountpoint="/data".
  std::string node_exporter_selector = "mountpoint=\"/data\"";
  // The same, parsed by the loader (which refuses text that is not a matcher
  // list, an `instance` matcher, and a regex without a literal first
  // alternative: rule tests need a label value the selector accepts).
  std::vector<LabelMatcher> node_exporter_matchers = {
      {"mountpoint", "=", "/data"}};
  std::string job = "stemedb_disk";  // the exporter's scrape job
  std::string group_name = "stemedb_disk";
  std::string runbook_url =
      "https://github.com/stemedb/stemedb/blob/main/docs/operations/runbooks/"
      "disk-full.md";
  std::map<std::string, std::string> labels;  // added to every alert
};

struct DashboardOptions {
  std::string title = "StemeDB disk";
  std::string uid = "stemedb-disk";
  Duration refresh{std::chrono::seconds(30), "30s"};
  // Planned growth per day, in bytes, per component name (the runbook's
  // Capacity Planning, sized for the deployment). Each becomes a line on its
  // component's growth panel; none by default, so no node sits above a line
  // drawn for somebody else's workload.
  std::map<std::string, int64_t> growth_per_day;
};

// What a cleanup rule matches.
enum class CleanupEntryType {
  kFile,       // regular files (find -type f)
  kDirectory,  // directories, counted with everything below them (rm -rf)
  kEmptyFile,  // regular files of size 0 (find -type f -empty)
};

// One cleanup step of the runbook: entries below a directory whose name
// matches a glob and whose mtime is older than a duration. The exporter
// reports what the rule would free (stemedb_disk_reclaimable_*{rule}).
struct CleanupRule {
  std::string name;       // [a-z0-9_]+, unique; the metric label `rule`
  int section = 1;        // runbook section, 1..5
  std::string component;  // EITHER the component whose directory is walked
  std::string path;       // OR a directory as written (absolute or from root)
  // Absolute, lexically normal: the component's resolved_path, or path
  // resolved against root. Set by the loader.
  std::string resolved_path;
  std::string match = "*";  // fnmatch(3) glob on the entry's name (no '/')
  CleanupEntryType type = CleanupEntryType::kFile;
  // mtime older than now - older_than; 0s matches any age.
  Duration older_than{std::chrono::milliseconds(0), "0s"};
  // The runbook command that frees it, shown to humans; "<path>" stands for
  // resolved_path. May be empty.
  std::string command;
  std::string resolved_command;  // command with <path> replaced; by loader
};

// "file", "directory" or "empty_file".
std::string_view CleanupEntryTypeName(CleanupEntryType type);

// The most cleanup rules a config may hold.
inline constexpr size_t kMaxCleanupRules = 64;

struct CleanupOptions {
  std::vector<CleanupRule> rules;  // in file order; names unique
};

struct Config {
  std::string source;  // where it came from, for messages and headers
  std::string root;    // absolute; the layout's base directory
  std::vector<Component> components;  // in file order; names unique
  ScanOptions scan;
  CleanupOptions cleanup;
  Thresholds thresholds;
  AlertFamilies alerts;
  AlertingOptions alerting;
  DashboardOptions dashboard;
  StemedbConfig stemedb;         // key stemedb_config (stemedb_config.h)
  PreventionOptions prevention;  // section prevention
  // Where each threshold in force came from, by its dotted key under
  // thresholds ("wal.retention"); a key not here is the built-in default.
  // Set by the loader (thresholds_in_force.h reads it).
  std::map<std::string, ThresholdSource> threshold_sources;

  // The component with this name, or nullptr.
  const Component* FindComponent(std::string_view name) const;
  // The cleanup rule with this name, or nullptr.
  const CleanupRule* FindCleanupRule(std::string_view name) const;
};

// The documented default configuration (config/default.yaml, embedded at build
// time) as text.
std::string_view DefaultConfigYaml();

// Parses and validates YAML text. `source_name` names it in errors; relative
// `root` resolves against `base_dir`. On success fills *out and returns
// nullopt; on failure returns the first error and leaves *out untouched.
// Strict: unknown keys, wrong types, bad durations, ratios outside (0,1), a
// warning tighter than its critical, invalid label names, a prediction
// lookback shorter than its for, are all errors with position and key path.
// Reads the files the config names (stemedb_config, prevention's
// journald_config): their errors name them, with position.
Status ParseConfig(std::string_view yaml, const std::string& source_name,
                   const std::string& base_dir, Config* out);

// The largest config file read (1 MiB; the default config is 5 KiB).
inline constexpr size_t kMaxConfigFileBytes = kConfigFileKind.max_bytes;

// Reads a config file's text (the main config, or the exporter's web
// config) by the one rule for user-named files (stemedb/user_file.h): a
// FIFO, directory or device, an unreadable file or one over
// kMaxConfigFileBytes is an error naming the file, and nothing blocks.
Status ReadConfigText(const std::string& path, std::string* text);

// Reads and parses a file; relative paths in it resolve against its directory.
Status LoadConfigFile(const std::string& path, Config* out);

// The embedded default, with root replaced by `root` when non-empty.
Config DefaultConfig(const std::string& root = "");

// The embedded default as a config file would load it: StemeDB's
// config.toml and journald's config read at their default paths (what the
// tools use without --config). Errors as LoadConfigFile's.
Status LoadDefaultConfig(Config* out);

// Replaces config->root (a relative `root` resolves against the current
// directory, like a --root flag) and re-resolves every component. Fails,
// leaving *config untouched, when two components would then be one directory.
Status OverrideRoot(const std::string& root, Config* config);

}  // namespace stemedb
