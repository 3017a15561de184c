// The embedded default (config/default.yaml) against the struct defaults in
// config.h and the schema: the two sources of defaults must not drift, and the
// documented file must show every key with a comment.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <set>
#include <string>
#include <utility>

#include "stemedb/config/config.h"
#include "test_support.h"
#include "yaml_leaves.h"

namespace stemedb {
namespace {

using ::stemedb::testutil::CollectLeaves;

const std::string kDefaultYamlPath =
    std::string(STEMEDB_SOURCE_DIR) + "/config/default.yaml";

using testutil::ReadFile;

void ExpectSameDuration(const Duration& parsed, const Duration& declared,
                        const std::string& key) {
  EXPECT_EQ(parsed.value, declared.value) << key;
  EXPECT_EQ(parsed.text, declared.text) << key;
}

void ExpectSameRatio(const RatioThreshold& parsed,
                     const RatioThreshold& declared, const std::string& key) {
  EXPECT_EQ(parsed.ratio, declared.ratio) << key;
  ExpectSameDuration(parsed.for_duration, declared.for_duration, key + ".for");
}

TEST(DefaultConfigTest, EmbeddedTextIsTheFileInTheTree) {
  EXPECT_EQ(DefaultConfigYaml(), ReadFile(kDefaultYamlPath));
}

TEST(DefaultConfigTest, FileOnDiskLoads) {
  Config config;
  const Status error = LoadConfigFile(kDefaultYamlPath, &config);
  EXPECT_FALSE(error.has_value()) << error->ToString();
}

// Field by field, so a value changed in one place and not the other fails.
TEST(DefaultConfigTest, EqualsStructDefaults) {
  const Config parsed = DefaultConfig();
  const Config declared;

  EXPECT_EQ(parsed.root, "/var/lib/stemedb");

  const ScanOptions& ps = parsed.scan;
  const ScanOptions& ds = declared.scan;
  ExpectSameDuration(ps.interval, ds.interval, "scan.interval");
  ExpectSameDuration(ps.timeout, ds.timeout, "scan.timeout");
  ExpectSameDuration(ps.statfs_timeout, ds.statfs_timeout,
                     "scan.statfs_timeout");
  EXPECT_EQ(ps.one_filesystem, ds.one_filesystem);
  EXPECT_EQ(ps.threads, ds.threads);
  EXPECT_EQ(ps.max_depth, ds.max_depth);

  const Thresholds& pt = parsed.thresholds;
  const Thresholds& dt = declared.thresholds;
  ExpectSameRatio(pt.disk_space.warning, dt.disk_space.warning,
                  "disk_space.warning");
  ExpectSameRatio(pt.disk_space.critical, dt.disk_space.critical,
                  "disk_space.critical");
  ExpectSameRatio(pt.disk_space.emergency_used, dt.disk_space.emergency_used,
                  "disk_space.emergency");
  ExpectSameRatio(pt.inodes.warning, dt.inodes.warning, "inodes.warning");
  ExpectSameRatio(pt.inodes.critical, dt.inodes.critical, "inodes.critical");

  ExpectSameDuration(pt.fill_prediction.horizon, dt.fill_prediction.horizon,
                     "fill_prediction.horizon");
  ExpectSameDuration(pt.fill_prediction.lookback, dt.fill_prediction.lookback,
                     "fill_prediction.lookback");
  ExpectSameDuration(pt.fill_prediction.for_duration,
                     dt.fill_prediction.for_duration, "fill_prediction.for");
  EXPECT_EQ(pt.fill_prediction.avail_ratio_below,
            dt.fill_prediction.avail_ratio_below);

  EXPECT_EQ(pt.wal.component, dt.wal.component);
  ExpectSameDuration(pt.wal.retention, dt.wal.retention, "wal.retention");
  EXPECT_EQ(pt.wal.max_segments, dt.wal.max_segments);
  EXPECT_EQ(pt.wal.max_filesystem_share, dt.wal.max_filesystem_share);
  ExpectSameDuration(pt.wal.for_duration, dt.wal.for_duration, "wal.for");

  EXPECT_EQ(pt.backups.component, dt.backups.component);
  ExpectSameDuration(pt.backups.max_age, dt.backups.max_age, "backups.max_age");
  ExpectSameDuration(pt.backups.retention, dt.backups.retention,
                     "backups.retention");
  EXPECT_EQ(pt.backups.max_count, dt.backups.max_count);
  ExpectSameDuration(pt.backups.for_duration, dt.backups.for_duration,
                     "backups.for");

  EXPECT_EQ(pt.tmp.component, dt.tmp.component);
  EXPECT_EQ(pt.tmp.max_files, dt.tmp.max_files);
  EXPECT_EQ(pt.tmp.max_bytes, dt.tmp.max_bytes);
  ExpectSameDuration(pt.tmp.for_duration, dt.tmp.for_duration, "tmp.for");

  EXPECT_EQ(pt.reclaimable.max_filesystem_share,
            dt.reclaimable.max_filesystem_share);
  ExpectSameDuration(pt.reclaimable.for_duration, dt.reclaimable.for_duration,
                     "reclaimable.for");

  ExpectSameDuration(pt.exporter.scan_stale_after, dt.exporter.scan_stale_after,
                     "exporter.scan_stale_after");
  ExpectSameDuration(pt.exporter.for_duration, dt.exporter.for_duration,
                     "exporter.for");

  const FillPrediction::Critical& pc = pt.fill_prediction.critical;
  const FillPrediction::Critical& dc = dt.fill_prediction.critical;
  ExpectSameDuration(pc.horizon, dc.horizon,
                     "fill_prediction.critical.horizon");
  ExpectSameDuration(pc.lookback, dc.lookback,
                     "fill_prediction.critical.lookback");
  ExpectSameDuration(pc.for_duration, dc.for_duration,
                     "fill_prediction.critical.for");
  EXPECT_EQ(pc.avail_ratio_below, dc.avail_ratio_below);
  ExpectSameDuration(pt.filesystem_health.readonly_for,
                     dt.filesystem_health.readonly_for,
                     "filesystem_health.readonly_for");
  ExpectSameDuration(pt.filesystem_health.stat_failing_for,
                     dt.filesystem_health.stat_failing_for,
                     "filesystem_health.stat_failing_for");
  const AlertFamilies& pf = parsed.alerts;
  const AlertFamilies& df = declared.alerts;
  for (const auto& [p, d] : std::initializer_list<std::pair<bool, bool>>{
           {pf.disk_space, df.disk_space},
           {pf.inodes, df.inodes},
           {pf.fill_prediction, df.fill_prediction},
           {pf.filesystem_health, df.filesystem_health},
           {pf.wal, df.wal},
           {pf.backups, df.backups},
           {pf.tmp, df.tmp},
           {pf.cleanup, df.cleanup},
           {pf.exporter, df.exporter},
           {pf.scan, df.scan}}) {
    EXPECT_TRUE(p);
    EXPECT_EQ(p, d);
  }

  const AlertingOptions& pa = parsed.alerting;
  const AlertingOptions& da = declared.alerting;
  EXPECT_EQ(pa.source, da.source);
  EXPECT_EQ(pa.node_exporter_selector, da.node_exporter_selector);
  EXPECT_EQ(pa.job, da.job);
  EXPECT_EQ(pa.group_name, da.group_name);
  EXPECT_EQ(pa.runbook_url, da.runbook_url);
  EXPECT_EQ(pa.labels, da.labels);

  EXPECT_EQ(parsed.dashboard.title, declared.dashboard.title);
  EXPECT_EQ(parsed.dashboard.uid, declared.dashboard.uid);
  ExpectSameDuration(parsed.dashboard.refresh, declared.dashboard.refresh,
                     "dashboard.refresh");
}

// The struct holds no components, so the layout is checked against the
// schema's list instead.
TEST(DefaultConfigTest, ComponentsAreTheDocumentedLayout) {
  struct Expected {
    const char* name;
    const char* path;
    const char* resolved;
    const char* segment_pattern;
    bool optional;
  };
  const Expected expected[] = {
      {"wal", "data/wal", "/var/lib/stemedb/data/wal", "*.log", false},
      {"db", "data/db", "/var/lib/stemedb/data/db", "", false},
      {"backups", "backups", "/var/lib/stemedb/backups", "stemedb-backup-*",
       false},
      {"logs", "logs", "/var/lib/stemedb/logs", "", false},
      {"tmp", "data/tmp", "/var/lib/stemedb/data/tmp", "", true},
  };
  const Config config = DefaultConfig();
  ASSERT_EQ(config.components.size(), std::size(expected));
  for (size_t i = 0; i < std::size(expected); ++i) {
    const Component& c = config.components[i];
    SCOPED_TRACE(expected[i].name);
    EXPECT_EQ(c.name, expected[i].name);
    EXPECT_EQ(c.path, expected[i].path);
    EXPECT_EQ(c.resolved_path, expected[i].resolved);
    EXPECT_EQ(c.segment_pattern, expected[i].segment_pattern);
    EXPECT_EQ(c.optional, expected[i].optional);
  }
  EXPECT_EQ(config.source, "<embedded default>");
}

// The runbook's cleanup steps, as the default rule list.
TEST(DefaultConfigTest, CleanupRulesAreTheRunbookSteps) {
  struct Expected {
    const char* name;
    int section;
    const char* component;
    const char* resolved;
    const char* match;
    CleanupEntryType type;
    const char* older_than;
    const char* command;
  };
  const CleanupEntryType kFile = CleanupEntryType::kFile;
  const Expected expected[] = {
      {"wal_beyond_retention", 1, "wal", "/var/lib/stemedb/data/wal", "*.log",
       kFile, "7d",
       R"(find /var/lib/stemedb/data/wal -name "*.log" -mtime +7 -delete)"},
      {"backups_older_than_30d", 1, "backups", "/var/lib/stemedb/backups",
       "stemedb-backup-*", CleanupEntryType::kDirectory, "30d",
       R"(find /var/lib/stemedb/backups -name "stemedb-backup-*" -mtime +30 -exec rm -rf {} \;)"},
      {"journal_older_than_7d", 1, "", "/var/log/journal", "*.journal", kFile,
       "7d", "journalctl --vacuum-time=7d"},
      {"coredumps_older_than_1d", 1, "", "/var/lib/systemd/coredump", "core.*",
       kFile, "1d",
       R"(find /var/lib/systemd/coredump -name "core.*" -mtime +1 -delete)"},
      {"tmp_files", 4, "", "/var/lib/stemedb/data", "*.tmp", kFile, "0s",
       R"(find /var/lib/stemedb/data -name "*.tmp" -delete)"},
      {"empty_files", 4, "", "/var/lib/stemedb/data", "*",
       CleanupEntryType::kEmptyFile, "0s",
       "find /var/lib/stemedb/data -type f -empty -delete"},
  };
  const Config config = DefaultConfig();
  ASSERT_EQ(config.cleanup.rules.size(), std::size(expected));
  for (size_t i = 0; i < std::size(expected); ++i) {
    const CleanupRule& r = config.cleanup.rules[i];
    SCOPED_TRACE(expected[i].name);
    EXPECT_EQ(r.name, expected[i].name);
    EXPECT_EQ(r.section, expected[i].section);
    EXPECT_EQ(r.component, expected[i].component);
    EXPECT_EQ(r.resolved_path, expected[i].resolved);
    EXPECT_EQ(r.match, expected[i].match);
    EXPECT_EQ(r.type, expected[i].type);
    EXPECT_EQ(r.older_than.text, expected[i].older_than);
    EXPECT_EQ(r.resolved_command, expected[i].command);
  }
}

// Every key of the schema (copied from the schema document, not from the
// loader) is written out in the default file, and nothing else is.
TEST(DefaultConfigTest, FileShowsEverySchemaKey) {
  const std::set<std::string> schema = {
      "root",
      "components.wal.path",
      "components.wal.segment_pattern",
      "components.db.path",
      "components.backups.path",
      "components.backups.segment_pattern",
      "components.logs.path",
      "components.tmp.path",
      "components.tmp.optional",
      "scan.interval",
      "scan.timeout",
      "scan.statfs_timeout",
      "scan.one_filesystem",
      "scan.threads",
      "scan.max_depth",
      "scan.mode",
      "scan.reconcile_interval",
      "thresholds.disk_space.warning.avail_ratio_below",
      "thresholds.disk_space.warning.for",
      "thresholds.disk_space.critical.avail_ratio_below",
      "thresholds.disk_space.critical.for",
      "thresholds.disk_space.emergency.used_ratio_above",
      "thresholds.disk_space.emergency.for",
      "thresholds.inodes.warning.free_ratio_below",
      "thresholds.inodes.warning.for",
      "thresholds.inodes.critical.free_ratio_below",
      "thresholds.inodes.critical.for",
      "thresholds.fill_prediction.horizon",
      "thresholds.fill_prediction.lookback",
      "thresholds.fill_prediction.for",
      "thresholds.fill_prediction.avail_ratio_below",
      "thresholds.wal.component",
      "thresholds.wal.max_filesystem_share",
      "thresholds.wal.shrinking_lookback",
      "thresholds.wal.shrinking_ratio",
      "thresholds.wal.for",
      "thresholds.backups.component",
      "thresholds.backups.max_age",
      "thresholds.backups.max_count",
      "thresholds.backups.for",
      "thresholds.tmp.component",
      "thresholds.tmp.max_files",
      "thresholds.tmp.max_bytes",
      "thresholds.tmp.for",
      "cleanup.rules",
      "thresholds.reclaimable.max_filesystem_share",
      "thresholds.reclaimable.for",
      "thresholds.exporter.scan_stale_after",
      "thresholds.exporter.for",
      "thresholds.fill_prediction.critical.horizon",
      "thresholds.fill_prediction.critical.lookback",
      "thresholds.fill_prediction.critical.for",
      "thresholds.fill_prediction.critical.avail_ratio_below",
      "thresholds.fill_prediction.critical.daily_low_margin",
      "thresholds.filesystem_health.readonly_for",
      "thresholds.filesystem_health.stat_failing_for",
      "alerts.disk_space.enabled",
      "alerts.inodes.enabled",
      "alerts.fill_prediction.enabled",
      "alerts.filesystem_health.enabled",
      "alerts.wal.enabled",
      "alerts.backups.enabled",
      "alerts.tmp.enabled",
      "alerts.cleanup.enabled",
      "alerts.exporter.enabled",
      "alerts.scan.enabled",
      "alerting.source",
      "alerting.node_exporter_selector",
      "alerting.job",
      "alerting.group_name",
      "alerting.runbook_url",
      "alerting.labels",
      "dashboard.title",
      "dashboard.uid",
      "dashboard.refresh",
      "dashboard.growth_per_day",
      "stemedb_config",
      "prevention.journald_config",
      "prevention.wal_retention_advice",
      "prevention.backup_retention_advice",
  };
  std::set<std::string> written;
  CollectLeaves(YAML::Load(std::string(DefaultConfigYaml())), "", &written);
  EXPECT_EQ(written, schema);
}

// The thresholds whose default is StemeDB's config.toml are shown commented
// out: written in the installed file, they would hide the TOML's values.
TEST(DefaultConfigTest, TomlFollowingThresholdsAreCommentedOut) {
  const std::string text(DefaultConfigYaml());
  for (const char* line :
       {"    # retention: 7d  # Oldest segment", "    # max_segments: 100  #",
        "    # retention: 7d  # Oldest backup"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

// "A comment per line saying what it is and why": every line with a key
// carries one.
TEST(DefaultConfigTest, EveryKeyLineIsCommented) {
  std::istringstream text{std::string(DefaultConfigYaml())};
  std::string line;
  int number = 0;
  while (std::getline(text, line)) {
    ++number;
    const size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos || line[start] == '#') continue;
    EXPECT_NE(line.find(" # "), std::string::npos)
        << "default.yaml:" << number << " has no comment: " << line;
  }
}

}  // namespace
}  // namespace stemedb
