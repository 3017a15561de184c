// The Quick Diagnosis tree: each branch of the runbook reached from the
// numbers that should reach it, the exit status from the alerts' thresholds.
#include "stemedb/diagnose/diagnosis.h"

#include <gtest/gtest.h>

#include "fixture.h"

namespace stemedb::diagnose {
namespace {

using testing::kGiB;
using testing::kNow;
using testing::Node;
using testing::Rule;

const Limits kLimits = LimitsFrom(Thresholds{});

// The detail of the finding that names `alert`; empty when none does.
std::string DetailOf(const Report& r, const std::string& alert) {
  for (const auto& f : r.findings) {
    if (f.alert == alert) return f.detail;
  }
  return "";
}

bool HasFinding(const Report& r, const std::string& alert) {
  for (const auto& f : r.findings) {
    if (f.alert == alert) return true;
  }
  return false;
}

TEST(DiagnosisTest, LimitsAreTheAlertThresholds) {
  Thresholds t;
  t.disk_space.warning.ratio = 0.3;
  t.disk_space.critical.ratio = 0.15;
  t.disk_space.emergency_used.ratio = 0.97;
  t.inodes.warning.ratio = 0.2;
  t.inodes.critical.ratio = 0.02;
  t.wal.max_filesystem_share = 0.4;
  t.wal.max_segments = 9;
  t.wal.component = "journal";
  const Limits l = LimitsFrom(t);
  EXPECT_EQ(l.disk_warning_avail_ratio, 0.3);
  EXPECT_EQ(l.disk_critical_avail_ratio, 0.15);
  EXPECT_EQ(l.emergency_used_ratio, 0.97);
  EXPECT_EQ(l.inode_warning_free_ratio, 0.2);
  EXPECT_EQ(l.inode_critical_free_ratio, 0.02);
  EXPECT_EQ(l.most_space_share, 0.4);
  EXPECT_EQ(l.wal_max_segments, 9);
  EXPECT_EQ(l.wal_component, "journal");
  EXPECT_EQ(l.wal_retention_seconds, 7 * 86400);
}

TEST(DiagnosisTest, HealthyNodeIsOkWithNoSection) {
  const Report r = Diagnose(Node(50 * kGiB, 5 * kGiB, 20 * kGiB), kLimits);
  EXPECT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.section, "");
  EXPECT_TRUE(r.findings.empty());
  ASSERT_EQ(r.filesystems.size(), 1u);
  EXPECT_EQ(r.filesystems[0].steps.size(), 5u);
  for (const auto& s : r.filesystems[0].steps)
    EXPECT_FALSE(s.answer) << s.check;
}

TEST(DiagnosisTest, Over98PercentUsedIsSection1Critical) {
  auto n = Node(kGiB, 5 * kGiB, 20 * kGiB);  // 99% used
  n.rules.push_back(Rule("wal_beyond_retention", "1", 3 * kGiB));
  n.rules.push_back(Rule("journal_older_than_7d", "1", kGiB, "/"));
  const Report r = Diagnose(n, kLimits);
  EXPECT_EQ(r.status, Status::kCritical);
  EXPECT_EQ(r.section, "1");
  EXPECT_EQ(r.section_title, "Emergency Cleanup");
  EXPECT_EQ(r.mountpoint, "/data");
  EXPECT_TRUE(HasFinding(r, "StemeDBDiskSpaceEmergency"));
  EXPECT_TRUE(HasFinding(r, "StemeDBDiskSpaceCritical"));
  // Only the rules on this filesystem free it.
  EXPECT_EQ(r.filesystems[0].cleanup_bytes, 3 * kGiB);
  EXPECT_NE(r.reason.find("3.0G"), std::string::npos) << r.reason;
  // 99 - 3 = 96% used after cleanup: still above 95%, so §5 next.
  EXPECT_NE(r.then.find("§5"), std::string::npos) << r.then;
}

TEST(DiagnosisTest, CleanupThatFreesEnoughHasNoFollowUp) {
  auto n = Node(kGiB, 5 * kGiB, 20 * kGiB);
  n.rules.push_back(Rule("wal_beyond_retention", "1", 10 * kGiB));
  const Report r = Diagnose(n, kLimits);
  EXPECT_EQ(r.section, "1");
  EXPECT_EQ(r.then, "");
}

TEST(DiagnosisTest, UnmeasuredRulesPromiseNothing) {
  auto n = Node(kGiB, 5 * kGiB, 20 * kGiB);
  n.rules.push_back(Rule("wal_beyond_retention", "1", 0));
  n.rules.back().measured = false;
  Report r = Diagnose(n, kLimits);
  EXPECT_EQ(r.section, "1");
  EXPECT_EQ(r.then, "");  // not "still 99% after cleanup"
  EXPECT_FALSE(r.filesystems[0].cleanup_measured);
  // Short of space, nothing dominating, rules unmeasured: §1's steps are
  // to be looked at, not §5.
  n = Node(15 * kGiB, 30 * kGiB, 40 * kGiB);
  n.rules.push_back(Rule("backups_older_than_30d", "1", 0));
  n.rules.back().measured = false;
  r = Diagnose(n, kLimits);
  EXPECT_EQ(r.section, "1");
  EXPECT_FALSE(r.filesystems[0].steps[4].answer);
}

TEST(DiagnosisTest, ExactlyAtTheEmergencyRatioIsNotSection1) {
  // 98% used exactly: the alert's "> 0.98" does not fire.
  auto n = Node(2 * kGiB, 60 * kGiB, 20 * kGiB);
  const Report r = Diagnose(n, kLimits);
  EXPECT_FALSE(HasFinding(r, "StemeDBDiskSpaceEmergency"));
  EXPECT_EQ(r.section, "2");
}

TEST(DiagnosisTest, InodesRunOutIsSection4EvenWithAFullWal) {
  // WAL takes 60%, but the inodes are gone: bytes do not help.
  const Report r =
      Diagnose(Node(30 * kGiB, 60 * kGiB, 5 * kGiB, /*files_free=*/0), kLimits);
  EXPECT_EQ(r.status, Status::kCritical);
  EXPECT_EQ(r.section, "4");
  EXPECT_TRUE(HasFinding(r, "StemeDBInodeExhaustionCritical"));
  EXPECT_TRUE(HasFinding(r, "StemeDBWALFillingFilesystem"));
}

TEST(DiagnosisTest, BothExhaustedIsSection1) {
  const Report r =
      Diagnose(Node(0, 60 * kGiB, 5 * kGiB, /*files_free=*/0), kLimits);
  EXPECT_EQ(r.section, "1");
  EXPECT_EQ(r.status, Status::kCritical);
}

TEST(DiagnosisTest, WalUsingMostSpaceIsSection2Warning) {
  const Report r = Diagnose(Node(30 * kGiB, 55 * kGiB, 5 * kGiB), kLimits);
  EXPECT_EQ(r.status, Status::kWarning);
  EXPECT_EQ(r.section, "2");
  EXPECT_TRUE(HasFinding(r, "StemeDBWALFillingFilesystem"));
}

TEST(DiagnosisTest, DatabaseUsingMostSpaceWhileShortIsSection3) {
  const Report r = Diagnose(Node(8 * kGiB, 5 * kGiB, 80 * kGiB), kLimits);
  EXPECT_EQ(r.status, Status::kCritical);  // 8% available < 10%
  EXPECT_EQ(r.section, "3");
  EXPECT_EQ(r.section_title, "Database Compaction");
}

TEST(DiagnosisTest, LargeDatabaseOnARoomyDiskIsFine) {
  const Report r = Diagnose(Node(30 * kGiB, 5 * kGiB, 60 * kGiB), kLimits);
  EXPECT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.section, "");
}

TEST(DiagnosisTest, FewInodesIsSection4Warning) {
  const Report r =
      Diagnose(Node(50 * kGiB, 5 * kGiB, 5 * kGiB, /*files_free=*/80), kLimits);
  EXPECT_EQ(r.status, Status::kWarning);
  EXPECT_EQ(r.section, "4");
}

TEST(DiagnosisTest, NoInodeTableIsNotExhaustion) {
  auto n = Node(50 * kGiB, 5 * kGiB, 5 * kGiB, 0);
  n.filesystems[0].files = 0;  // btrfs, some FUSE
  const Report r = Diagnose(n, kLimits);
  EXPECT_EQ(r.status, Status::kOk);
}

TEST(DiagnosisTest, OldWalIsSection2) {
  auto n = Node(50 * kGiB, 5 * kGiB, 5 * kGiB);
  n.components[0].oldest_segment_timestamp = kNow - 8 * 86400;
  const Report r = Diagnose(n, kLimits);
  EXPECT_EQ(r.status, Status::kWarning);
  EXPECT_EQ(r.section, "2");
  EXPECT_TRUE(HasFinding(r, "StemeDBWALRetentionExceeded"));
  n.components[0].oldest_segment_timestamp = kNow - 6 * 86400;
  n.components[0].segments = 101;
  const Report r2 = Diagnose(n, kLimits);
  EXPECT_EQ(r2.section, "2");
  EXPECT_TRUE(HasFinding(r2, "StemeDBWALTooManySegments"));
}

// The alert is silent while the WAL drains a backlog, which takes
// Prometheus' history: the finding says so, with the config's numbers.
TEST(DiagnosisTest, TooManySegmentsSaysWhatOnlyHistoryShows) {
  Thresholds t;
  t.wal.shrinking_lookback = {std::chrono::hours(12), "12h"};
  t.wal.shrinking_ratio = 0.1;
  auto n = Node(50 * kGiB, 5 * kGiB, 5 * kGiB);
  n.components[0].segments = 101;
  EXPECT_EQ(DetailOf(Diagnose(n, LimitsFrom(t)), "StemeDBWALTooManySegments"),
            "101 segments, more than 100; the alert is silent while the WAL "
            "drains a backlog (10.0% fewer segments than 12h before), which "
            "only Prometheus' history shows");
}

// No backup now is all a walk sees; the alert also needs Prometheus to
// have watched the component for the age limit without seeing one.
TEST(DiagnosisTest, BackupsMissingSaysWhatOnlyHistoryShows) {
  Thresholds t;
  t.backups.max_age = {std::chrono::hours(30), "30h"};
  auto n = Node(50 * kGiB, 5 * kGiB, 5 * kGiB);
  ComponentNumbers b = n.components[0];
  b.name = "backups";
  b.segments = 0;
  n.components.push_back(b);
  EXPECT_EQ(DetailOf(Diagnose(n, LimitsFrom(t)), "StemeDBBackupsMissing"),
            "no backup now; the alert fires once none has been seen for 1d6h "
            "on a component watched that long (one shipped off-host counts), "
            "which only Prometheus' history shows");
}

TEST(DiagnosisTest, ShortOfSpaceWithCleanupOptionsIsSection1Steps) {
  auto n = Node(15 * kGiB, 30 * kGiB, 40 * kGiB);
  n.rules.push_back(Rule("backups_older_than_30d", "1", 4 * kGiB));
  const Report r = Diagnose(n, kLimits);
  EXPECT_EQ(r.status, Status::kWarning);
  EXPECT_EQ(r.section, "1");
  EXPECT_EQ(r.filesystems[0].cleanup_bytes, 4 * kGiB);
}

TEST(DiagnosisTest, ShortOfSpaceWithNothingToCleanIsSection5) {
  auto n = Node(15 * kGiB, 30 * kGiB, 40 * kGiB);
  n.rules.push_back(Rule("backups_older_than_30d", "1", 0));
  const Report r = Diagnose(n, kLimits);
  EXPECT_EQ(r.status, Status::kWarning);
  EXPECT_EQ(r.section, "5");
  EXPECT_TRUE(r.filesystems[0].steps[4].answer);
}

TEST(DiagnosisTest, WorstFilesystemDecides) {
  auto n = Node(50 * kGiB, 5 * kGiB, 5 * kGiB);
  FilesystemNumbers backups = n.filesystems[0];
  backups.mountpoint = "/backups";
  backups.avail_bytes = backups.free_bytes = kGiB / 2;  // 99.5% used
  n.filesystems.push_back(backups);
  const Report r = Diagnose(n, kLimits);
  EXPECT_EQ(r.status, Status::kCritical);
  EXPECT_EQ(r.section, "1");
  EXPECT_EQ(r.mountpoint, "/backups");
  ASSERT_EQ(r.filesystems.size(), 2u);
  EXPECT_EQ(r.filesystems[0].status, Status::kOk);
}

TEST(DiagnosisTest, NoCapacityIsUnknown) {
  auto n = Node(50 * kGiB, 5 * kGiB, 5 * kGiB);
  n.filesystems[0].have_capacity = false;
  const Report r = Diagnose(n, kLimits);
  EXPECT_EQ(r.status, Status::kUnknown);
  EXPECT_EQ(r.section, "");
  EXPECT_NE(r.reason.find("statvfs"), std::string::npos) << r.reason;
}

TEST(DiagnosisTest, UnknownDoesNotHideACritical) {
  auto n = Node(kGiB / 2, 5 * kGiB, 5 * kGiB);
  FilesystemNumbers hung = n.filesystems[0];
  hung.mountpoint = "/nfs";
  hung.have_capacity = false;
  n.filesystems.push_back(hung);
  const Report r = Diagnose(n, kLimits);
  EXPECT_EQ(r.status, Status::kCritical);
  EXPECT_EQ(r.section, "1");
}

TEST(DiagnosisTest, NoComponentsIsUnknown) {
  Numbers n;
  n.root = "/nowhere";
  n.components.push_back({"wal", "/nowhere/data/wal"});
  n.components.back().complete = true;  // walked: missing
  Report r = Diagnose(n, kLimits);
  EXPECT_EQ(r.status, Status::kUnknown);
  EXPECT_NE(r.reason.find("/nowhere"), std::string::npos) << r.reason;
  n.components.back().complete = false;  // not walked (yet)
  r = Diagnose(n, kLimits);
  EXPECT_EQ(r.status, Status::kUnknown);
  EXPECT_NE(r.reason.find("walked"), std::string::npos) << r.reason;
}

TEST(DiagnosisTest, StatusNamesAndSectionTitles) {
  EXPECT_EQ(StatusName(Status::kOk), "OK");
  EXPECT_EQ(StatusName(Status::kUnknown), "UNKNOWN");
  EXPECT_EQ(static_cast<int>(Status::kCritical), 2);
  EXPECT_EQ(SectionTitle("4"), "Inode Exhaustion");
  EXPECT_EQ(SectionTitle("5"), "Volume Expansion");
  EXPECT_EQ(SectionTitle("6"), "");
}

}  // namespace
}  // namespace stemedb::diagnose
