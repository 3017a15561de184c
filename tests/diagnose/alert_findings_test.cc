// diagnose names the alerts the generated rules fire on the same numbers
// (e2e_diagnose_agrees proves it against promtool on real trees); here the
// cases a real tree cannot make, and the limits a running exporter hands
// to `diagnose --from`.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "fixture.h"
#include "stemedb/diagnose/diagnosis.h"
#include "stemedb/diagnose/render.h"

namespace stemedb::diagnose {
namespace {

using testing::kGiB;
using testing::Node;
using testing::Rule;

const Limits kLimits = LimitsFrom(Thresholds{});

std::set<std::string> Alerts(const Report& r) {
  std::set<std::string> out;
  for (const auto& f : r.findings) out.insert(f.alert);
  return out;
}

// Each rule has its own threshold: past the critical one the warning's
// expression holds too, and Prometheus fires both (Alertmanager inhibits).
TEST(AlertFindingsTest, CriticalComesWithItsWarning) {
  EXPECT_EQ(Alerts(Diagnose(Node(5 * kGiB, kGiB, kGiB), kLimits)),
            (std::set<std::string>{"StemeDBDiskSpaceCritical",
                                   "StemeDBDiskSpaceWarning"}));
  EXPECT_EQ(Alerts(Diagnose(Node(kGiB, kGiB, kGiB), kLimits)),
            (std::set<std::string>{"StemeDBDiskSpaceEmergency",
                                   "StemeDBDiskSpaceCritical",
                                   "StemeDBDiskSpaceWarning"}));
  EXPECT_EQ(Alerts(Diagnose(Node(50 * kGiB, kGiB, kGiB, 20), kLimits)),
            (std::set<std::string>{"StemeDBInodeExhaustionCritical",
                                   "StemeDBInodeExhaustion"}));
}

// The read-only guard is on the space and inode alerts only: the WAL's
// share and what cleanup would free are facts of a read-only disk too.
TEST(AlertFindingsTest, ReadOnlyKeepsTheShareAlerts) {
  auto n = Node(kGiB, 60 * kGiB, kGiB, 10);
  n.filesystems[0].readonly = true;
  n.rules.push_back(Rule("wal_beyond_retention", "1", 30 * kGiB));
  EXPECT_EQ(Alerts(Diagnose(n, kLimits)),
            (std::set<std::string>{"StemeDBFilesystemReadOnly",
                                   "StemeDBWALFillingFilesystem",
                                   "StemeDBCleanupNotRunning"}));
}

// sum(reclaimable bytes of the rules on a filesystem) / its size above the
// share; rules on another filesystem do not count.
TEST(AlertFindingsTest, CleanupNotRunningAboveItsShare) {
  auto n = Node(50 * kGiB, kGiB, kGiB);
  n.rules.push_back(Rule("wal_beyond_retention", "1", 6 * kGiB));
  n.rules.push_back(Rule("journal_older_than_7d", "1", 50 * kGiB, "/"));
  n.rules.push_back(Rule("tmp_files", "4", 4 * kGiB));
  EXPECT_TRUE(Alerts(Diagnose(n, kLimits)).empty());  // 10%: not above
  n.rules[2].bytes += 1;
  const Report r = Diagnose(n, kLimits);
  EXPECT_EQ(Alerts(r), std::set<std::string>{"StemeDBCleanupNotRunning"});
  EXPECT_EQ(r.status, Status::kOk);  // an info alert
  EXPECT_EQ(r.findings[0].subject, "/data");
  Limits off = kLimits;
  off.families.cleanup = false;
  EXPECT_TRUE(Alerts(Diagnose(n, off)).empty());
}

// A statvfs that did not answer in time: the exporter keeps the older
// numbers with stat_success 0, and the rules read both.
TEST(AlertFindingsTest, StatFailingWithOlderNumbers) {
  auto n = Node(15 * kGiB, kGiB, kGiB);
  n.filesystems[0].stat_success = false;
  EXPECT_EQ(Alerts(Diagnose(n, kLimits)),
            (std::set<std::string>{"StemeDBFilesystemStatFailing",
                                   "StemeDBDiskSpaceWarning"}));
  n.filesystems[0].have_capacity = false;  // never answered
  const Report r = Diagnose(n, kLimits);
  EXPECT_EQ(Alerts(r), std::set<std::string>{"StemeDBFilesystemStatFailing"});
  EXPECT_EQ(r.status, Status::kUnknown);
}

// stemedb_disk_scan_success 0: the last walk found no directory or stopped
// before the end.
TEST(AlertFindingsTest, ScanFailingWhenTheLastWalkFailed) {
  auto n = Node(50 * kGiB, kGiB, kGiB);
  n.components[1].scan_success = false;
  EXPECT_EQ(Alerts(Diagnose(n, kLimits)),
            std::set<std::string>{"StemeDBDiskScanFailing"});
  n.components[1].present = false;
  const Report r = Diagnose(n, kLimits);
  ASSERT_EQ(Alerts(r), std::set<std::string>{"StemeDBDiskScanFailing"});
  EXPECT_EQ(r.findings[0].subject, "db");
  Limits off = kLimits;
  off.families.scan = false;
  EXPECT_TRUE(Alerts(Diagnose(n, off)).empty());
}

// `diagnose --from` judges with the exporter's limits, every one of them.
TEST(AlertFindingsTest, EveryLimitReachesDiagnoseFrom) {
  Thresholds t;
  t.backups.component = "snapshots";
  t.backups.max_age = Duration{std::chrono::hours(50), "50h"};
  t.backups.retention = Duration{std::chrono::hours(24 * 9), "9d"};
  t.backups.max_count = 3;
  t.tmp.component = "scratch";
  t.tmp.max_files = 200;
  t.tmp.max_bytes = 12345;
  t.reclaimable.max_filesystem_share = 0.25;
  AlertFamilies families;
  families.backups = false;
  families.scan = false;
  const Limits want = LimitsFrom(t, families);
  auto n = Node(50 * kGiB, kGiB, kGiB);
  n.filesystems[0].stat_success = false;
  Numbers numbers;
  Limits got;
  ASSERT_FALSE(ParseJson(RenderJson(Diagnose(n, want)), &numbers, &got));
  EXPECT_EQ(got.backups_component, "snapshots");
  EXPECT_EQ(got.backup_max_age_seconds, 50 * 3600);
  EXPECT_EQ(got.backup_retention_seconds, 9 * 86400);
  EXPECT_EQ(got.backup_max_count, 3);
  EXPECT_EQ(got.tmp_component, "scratch");
  EXPECT_EQ(got.tmp_max_files, 200);
  EXPECT_EQ(got.tmp_max_bytes, 12345);
  EXPECT_EQ(got.reclaimable_max_share, 0.25);
  EXPECT_FALSE(got.families.backups);
  EXPECT_FALSE(got.families.scan);
  EXPECT_TRUE(got.families.disk_space);
  EXPECT_TRUE(got.families.cleanup);
  ASSERT_EQ(numbers.filesystems.size(), 1u);
  EXPECT_FALSE(numbers.filesystems[0].stat_success);
  n.components[0].scan_success = false;
  ASSERT_FALSE(ParseJson(RenderJson(Diagnose(n, want)), &numbers, &got));
  EXPECT_FALSE(numbers.components[0].scan_success);
  EXPECT_TRUE(numbers.components[1].scan_success);
}

}  // namespace
}  // namespace stemedb::diagnose
