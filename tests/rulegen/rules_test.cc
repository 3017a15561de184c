// The rule model against the issue's list and the config it came from.
#include "stemedb/rulegen/rules.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "stemedb/config/config.h"
#include "stemedb/config/metric_names.h"
#include "test_config.h"

namespace stemedb::rulegen {
namespace {

using testutil::LoadTestConfig;

RuleSet Build(const Config& config) {
  RuleSet rules;
  auto err = BuildRuleSet(config, &rules);
  EXPECT_FALSE(err.has_value()) << err->ToString();
  return rules;
}

TEST(RulesTest, EveryAlertTheIssueAsksFor) {
  const RuleSet rules = Build(DefaultConfig());
  std::set<std::string> names;
  for (const AlertRule* a : rules.Alerts()) names.insert(a->name);
  const std::set<std::string> expected = {
      // The runbook's three.
      "StemeDBDiskSpaceWarning", "StemeDBDiskSpaceCritical",
      "StemeDBInodeExhaustion",
      // From its sections.
      "StemeDBDiskSpaceEmergency", "StemeDBInodeExhaustionCritical",
      "StemeDBWALRetentionExceeded", "StemeDBWALTooManySegments",
      "StemeDBWALFillingFilesystem", "StemeDBDiskWillFillSoon",
      "StemeDBBackupTooOld", "StemeDBBackupsMissing",
      "StemeDBBackupsBeyondRetention", "StemeDBBackupsOlderThanRetention",
      "StemeDBTmpFilesAccumulating", "StemeDBDiskExporterDown",
      "StemeDBDiskExporterAbsent", "StemeDBDiskScanFailing",
      "StemeDBDiskScanStale",
      // Failure modes that silence the others, and the short-horizon page.
      "StemeDBFilesystemReadOnly", "StemeDBFilesystemStatFailing",
      "StemeDBDiskScanIncomplete", "StemeDBDiskConfigReloadFailed",
      "StemeDBDiskWillFillVerySoon", "StemeDBInodesWillFillSoon",
      // Cleanup is not running (Common Cause 1).
      "StemeDBCleanupNotRunning"};
  EXPECT_EQ(names, expected);
}

// The disk and inode pages say what the cleanup rules would free
// on that filesystem (bytes, or entries for inodes), in exporter mode.
TEST(RulesTest, DiskAndInodeDescriptionsQueryWhatCleanupWouldFree) {
  const RuleSet rules = Build(DefaultConfig());
  for (const char* name :
       {"StemeDBDiskSpaceWarning", "StemeDBDiskSpaceCritical",
        "StemeDBDiskSpaceEmergency", "StemeDBCleanupNotRunning"}) {
    const AlertRule* a = rules.FindAlert(name);
    ASSERT_NE(a, nullptr) << name;
    EXPECT_NE(a->description_query.find("query (printf `sort_desc(sum by "
                                        "(section) (stemedb_disk_"
                                        "reclaimable_bytes{"),
              std::string::npos)
        << name;
    EXPECT_NE(a->description_query.find("$labels.mountpoint $labels.device"),
              std::string::npos)
        << name;
  }
  for (const char* name :
       {"StemeDBInodeExhaustion", "StemeDBInodeExhaustionCritical"}) {
    const AlertRule* a = rules.FindAlert(name);
    ASSERT_NE(a, nullptr) << name;
    EXPECT_NE(a->description_query.find("stemedb_disk_reclaimable_entries{"),
              std::string::npos)
        << name;
  }
  const AlertRule* info = rules.FindAlert("StemeDBCleanupNotRunning");
  EXPECT_EQ(info->severity, "info");
  EXPECT_EQ(info->for_duration.text, "12h");
  EXPECT_EQ(info->Limit("ratio"), 0.1);
  EXPECT_NE(info->expr.find("> 0.1"), std::string::npos);
  // node_exporter's series carry another instance: no query there.
  const RuleSet node = Build(LoadTestConfig("node-exporter.yaml"));
  EXPECT_TRUE(
      node.FindAlert("StemeDBDiskSpaceCritical")->description_query.empty());
}

TEST(RulesTest, RunbookSemanticsOfTheThree) {
  const RuleSet rules = Build(DefaultConfig());
  const AlertRule* warning = rules.FindAlert("StemeDBDiskSpaceWarning");
  const AlertRule* critical = rules.FindAlert("StemeDBDiskSpaceCritical");
  const AlertRule* inodes = rules.FindAlert("StemeDBInodeExhaustion");
  ASSERT_TRUE(warning && critical && inodes);
  EXPECT_EQ(warning->severity, "warning");
  EXPECT_EQ(warning->for_duration.text, "15m");
  EXPECT_NE(warning->expr.find(") < 0.2\n"), std::string::npos);
  EXPECT_EQ(critical->severity, "critical");
  EXPECT_EQ(critical->for_duration.text, "5m");
  EXPECT_NE(critical->expr.find(") < 0.1\n"), std::string::npos);
  EXPECT_EQ(inodes->severity, "warning");
  EXPECT_EQ(inodes->for_duration.text, "15m");
  EXPECT_NE(inodes->expr.find(") < 0.1\n"), std::string::npos);
  // Guards.
  for (const AlertRule* a : {warning, critical, inodes}) {
    EXPECT_NE(
        a->expr.find(
            "stemedb_disk_filesystem_readonly{job=\"stemedb_disk\"} == 0"),
        std::string::npos)
        << a->name;
  }
  EXPECT_NE(inodes->expr.find(
                "stemedb_disk_filesystem_files{job=\"stemedb_disk\"} > 0"),
            std::string::npos);
}

TEST(RulesTest, ConventionsOnEveryAlert) {
  const Config config = DefaultConfig();
  const RuleSet rules = Build(config);
  for (const AlertRule* a : rules.Alerts()) {
    SCOPED_TRACE(a->name);
    EXPECT_TRUE(a->severity == "critical" || a->severity == "warning" ||
                a->severity == "info");
    ASSERT_FALSE(a->summary.empty());
    EXPECT_TRUE(a->summary.front() >= 'A' && a->summary.front() <= 'Z');
    EXPECT_EQ(a->summary.back(), '.');
    EXPECT_EQ(a->summary.find("{{"), std::string::npos);  // static
    EXPECT_NE(a->description.find("{{ $labels."), std::string::npos);
    EXPECT_EQ(a->runbook_url.rfind(config.alerting.runbook_url + "#", 0), 0u);
    EXPECT_GT(a->runbook_url.size(), config.alerting.runbook_url.size() + 1);
  }
}

TEST(RulesTest, ThresholdsAndLabelsComeFromTheConfig) {
  const Config config = LoadTestConfig("node-exporter.yaml");
  const RuleSet rules = Build(config);
  const AlertRule* warning = rules.FindAlert("StemeDBDiskSpaceWarning");
  ASSERT_NE(warning, nullptr);
  EXPECT_NE(warning->expr.find(") < 0.25\n"), std::string::npos);
  EXPECT_EQ(warning->for_duration.text, "10m");
  EXPECT_NE(warning->summary.find("25%"), std::string::npos);
  const AlertRule* emergency = rules.FindAlert("StemeDBDiskSpaceEmergency");
  ASSERT_NE(emergency, nullptr);
  EXPECT_NE(emergency->expr.find(") > 0.99\n"), std::string::npos);
  for (const AlertRule* a : rules.Alerts()) {
    EXPECT_EQ(a->extra_labels.at("team"), "storage") << a->name;
    EXPECT_EQ(a->extra_labels.at("service"), "stemedb") << a->name;
  }
  EXPECT_EQ(rules.groups.at(1).name, "stemedb_disk_node");
}

TEST(RulesTest, NodeExporterModeSelectsEveryFilesystemSeries) {
  const Config config = LoadTestConfig("node-exporter.yaml");
  const RuleSet rules = Build(config);
  const std::string selector = config.alerting.node_exporter_selector;
  for (const char* name :
       {"StemeDBDiskSpaceWarning", "StemeDBDiskSpaceCritical",
        "StemeDBDiskSpaceEmergency", "StemeDBInodeExhaustion",
        "StemeDBInodeExhaustionCritical", "StemeDBDiskWillFillSoon"}) {
    const AlertRule* a = rules.FindAlert(name);
    ASSERT_NE(a, nullptr) << name;
    // Every node_filesystem_ selector carries the configured matchers.
    size_t pos = 0;
    int selectors = 0;
    while ((pos = a->expr.find("node_filesystem_", pos)) != std::string::npos) {
      const size_t open = a->expr.find_first_of("{", pos);
      ASSERT_NE(open, std::string::npos);
      EXPECT_EQ(a->expr.compare(open + 1, selector.size(), selector), 0)
          << name << ": " << a->expr;
      ++selectors;
      pos = open;
    }
    EXPECT_GE(selectors, 3) << name;
    EXPECT_EQ(a->expr.find(metrics::kPrefix), std::string::npos) << name;
  }
  // Component alerts stay on the exporter's metrics and job.
  const AlertRule* wal = rules.FindAlert("StemeDBWALTooManySegments");
  ASSERT_NE(wal, nullptr);
  EXPECT_NE(wal->expr.find(std::string(metrics::kSegments) +
                           "{job=\"stemedb-disk-exporter\",component=\"wal\"}"),
            std::string::npos);
  const AlertRule* down = rules.FindAlert("StemeDBDiskExporterDown");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->expr, "up{job=\"stemedb-disk-exporter\"} == 0");
}

TEST(RulesTest, CriticalTwinsInhibitTheirWarnings) {
  const RuleSet rules = Build(DefaultConfig());
  const AlertRule* critical = rules.FindAlert("StemeDBDiskSpaceCritical");
  ASSERT_NE(critical, nullptr);
  EXPECT_NE(std::find(critical->inhibits.begin(), critical->inhibits.end(),
                      "StemeDBDiskSpaceWarning"),
            critical->inhibits.end());
  EXPECT_NE(std::find(critical->inhibit_equal.begin(),
                      critical->inhibit_equal.end(), "mountpoint"),
            critical->inhibit_equal.end());
  for (const AlertRule* a : rules.Alerts()) {
    for (const std::string& target : a->inhibits) {
      EXPECT_NE(rules.FindAlert(target), nullptr)
          << a->name << " -> " << target;
    }
  }
}

TEST(RulesTest, RecordingRulesUseTheContractNames) {
  const RuleSet rules = Build(DefaultConfig());
  std::set<std::string> records;
  for (const RecordingRule& r : rules.groups.at(0).records) {
    records.insert(r.record);
  }
  EXPECT_EQ(records,
            (std::set<std::string>{
                std::string(metrics::kRecordFilesystemUsedRatio),
                std::string(metrics::kRecordFilesystemAvailRatio),
                std::string(metrics::kRecordFilesystemInodesFreeRatio),
                std::string(metrics::kRecordComponentGrowthRate),
                std::string(metrics::kRecordFilesystemTimeUntilFull),
                std::string(metrics::kRecordFilesystemInodesTimeUntilFull)}));
}

// alerts.<family>.enabled: false drops exactly that family's alerts.
TEST(RulesTest, DisabledFamiliesDropTheirAlerts) {
  Config config = DefaultConfig();
  config.alerts.backups = false;
  config.alerts.wal = false;
  const RuleSet rules = Build(config);
  const size_t all = Build(DefaultConfig()).Alerts().size();
  EXPECT_EQ(rules.Alerts().size(), all - 7);
  for (const AlertRule* a : rules.Alerts()) {
    EXPECT_EQ(a->name.find("Backup"), std::string::npos) << a->name;
    EXPECT_EQ(a->name.find("WAL"), std::string::npos) << a->name;
  }
}

// The read-only alert pages, and every other filesystem alert still skips a
// read-only filesystem: together no read-only node is silent.
TEST(RulesTest, ReadOnlyPagesWhereTheOthersAreSilent) {
  const RuleSet rules = Build(DefaultConfig());
  const AlertRule* ro = rules.FindAlert("StemeDBFilesystemReadOnly");
  ASSERT_NE(ro, nullptr);
  EXPECT_EQ(ro->severity, "critical");
  EXPECT_EQ(ro->expr, std::string(metrics::kFilesystemReadonly) +
                          "{job=\"stemedb_disk\"} == 1");
}

// Each backup retention alert names the limit that fired it, and only it.
TEST(RulesTest, BackupRetentionDescriptionsStateTheirOwnFact) {
  const RuleSet rules = Build(DefaultConfig());
  const AlertRule* count = rules.FindAlert("StemeDBBackupsBeyondRetention");
  const AlertRule* age = rules.FindAlert("StemeDBBackupsOlderThanRetention");
  ASSERT_NE(count, nullptr);
  ASSERT_NE(age, nullptr);
  EXPECT_EQ(count->expr.find(" or "), std::string::npos);
  EXPECT_EQ(count->description.find("7d"), std::string::npos);
  EXPECT_NE(count->description.find("backups, more than the retention of 7"),
            std::string::npos);
  EXPECT_NE(age->description.find("humanizeDuration }} old, beyond the "
                                  "retention of 7d"),
            std::string::npos);
}

}  // namespace
}  // namespace stemedb::rulegen
