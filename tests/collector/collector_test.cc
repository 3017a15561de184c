#include "stemedb/collector/collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "stemedb/base/valid_utf8.h"
#include "stemedb/collector/process_metrics.h"
#include "stemedb/config/metric_names.h"
#include "stemedb/config/metrics.h"
#include "stemedb/engine/exporter.h"
#include "test_support.h"

namespace stemedb::exporter {
namespace {

namespace m = stemedb::metrics;
using ::testing::HasSubstr;

ComponentState Walked(const std::string& name, bool segments) {
  ComponentState c;
  c.name = name;
  c.has_segments = segments;
  c.attempted = true;
  c.have_stats = true;
  c.last_success = true;
  c.last_success_timestamp = 1700000000.5;
  c.last_duration_seconds = 0.25;
  c.stats.name = name;
  c.stats.present = true;
  c.stats.complete = true;
  c.stats.allocated_bytes = 8192;
  c.stats.apparent_bytes = 5000;
  c.stats.files = 3;
  c.stats.directories = 2;
  c.stats.has_segments = segments;
  return c;
}

Snapshot TwoComponents() {
  Snapshot s;
  s.version = "1.2.3";
  s.revision = "abc";
  auto wal = Walked("wal", true);
  wal.stats.segments.count = 2;
  wal.stats.segments.allocated_bytes = 4096;
  wal.stats.segments.oldest_mtime = 1600000000;
  wal.stats.segments.newest_mtime = 1600000100;
  wal.errors_total[static_cast<int>(measure::ErrorReason::kPermission)] = 4;
  s.components.push_back(wal);
  s.components.push_back(Walked("db", false));
  FilesystemState fs;
  fs.mount = {0, "/data", "/dev/vdb", "ext4", false};
  fs.stat_success = true;
  fs.have_capacity = true;
  fs.capacity = {1000, 400, 300, 50, 10, false};
  s.filesystems.push_back(fs);
  s.links.push_back({"wal", "/data", "/dev/vdb"});
  s.links.push_back({"db", "/data", "/dev/vdb"});
  return s;
}

// name{labels} -> value, from the families.
std::map<std::string, double> Flatten(
    const std::vector<prometheus::MetricFamily>& families) {
  std::map<std::string, double> out;
  for (const auto& f : families) {
    for (const auto& cm : f.metric) {
      std::string key = f.name + "{";
      for (const auto& l : cm.label) key += l.name + "=" + l.value + ",";
      key += "}";
      out[key] = f.type == prometheus::MetricType::Counter ? cm.counter.value
                                                           : cm.gauge.value;
    }
  }
  return out;
}

TEST(CollectorTest, EveryContractFamilyIsPresentWithItsValues) {
  auto v = Flatten(BuildMetricFamilies(TwoComponents()));
  const std::string wal = "{component=wal,}";
  EXPECT_EQ(v[std::string(m::kComponentAllocatedBytes) + wal], 8192);
  EXPECT_EQ(v[std::string(m::kComponentApparentBytes) + wal], 5000);
  EXPECT_EQ(v[std::string(m::kComponentFiles) + wal], 3);
  EXPECT_EQ(v[std::string(m::kComponentDirectories) + wal], 2);
  EXPECT_EQ(v[std::string(m::kComponentPresent) + wal], 1);
  EXPECT_EQ(v[std::string(m::kSegments) + wal], 2);
  EXPECT_EQ(v[std::string(m::kSegmentAllocatedBytes) + wal], 4096);
  EXPECT_EQ(v[std::string(m::kOldestSegmentTimestamp) + wal], 1600000000);
  EXPECT_EQ(v[std::string(m::kNewestSegmentTimestamp) + wal], 1600000100);
  const std::string fs = "{device=/dev/vdb,fstype=ext4,mountpoint=/data,}";
  EXPECT_EQ(v[std::string(m::kFilesystemSizeBytes) + fs], 1000);
  EXPECT_EQ(v[std::string(m::kFilesystemFreeBytes) + fs], 400);
  EXPECT_EQ(v[std::string(m::kFilesystemAvailBytes) + fs], 300);
  EXPECT_EQ(v[std::string(m::kFilesystemFiles) + fs], 50);
  EXPECT_EQ(v[std::string(m::kFilesystemFilesFree) + fs], 10);
  EXPECT_EQ(v[std::string(m::kFilesystemReadonly) + fs], 0);
  EXPECT_EQ(v[std::string(m::kComponentFilesystemInfo) +
              "{component=db,device=/dev/vdb,mountpoint=/data,}"],
            1);
  EXPECT_EQ(v[std::string(m::kScanSuccess) + wal], 1);
  EXPECT_EQ(v[std::string(m::kScanDurationSeconds) + wal], 0.25);
  EXPECT_EQ(v[std::string(m::kLastScanSuccessTimestamp) + wal], 1700000000.5);
  EXPECT_EQ(v[std::string(m::kScanErrorsTotal) +
              "{component=wal,reason=permission,}"],
            4);
  EXPECT_EQ(
      v[std::string(m::kScanErrorsTotal) + "{component=db,reason=timeout,}"],
      0);
  EXPECT_EQ(v[std::string(m::kBuildInfo) + "{revision=abc,version=1.2.3,}"], 1);
}

// A mountpoint or device with a byte that is not UTF-8 (tmpfs mounted as
// "dev\xffx") must not make Prometheus refuse the scrape: the value is
// repaired and counted, every other series is untouched.
TEST(CollectorTest, InvalidUtf8LabelValuesAreRepairedAndCounted) {
  Snapshot s = TwoComponents();
  s.filesystems[0].mount.device = "dev\xffx";
  s.filesystems[0].mount.mountpoint = "/tmp/x/mnt\xffz";
  s.links[0].mountpoint = "/tmp/x/mnt\xffz";
  s.links[0].device = "dev\xffx";
  const uint64_t before = InvalidUtf8Total();
  auto v = Flatten(BuildMetricFamilies(s));
  // 7 filesystem families (5 capacity, readonly, stat_success) x 2 values,
  // plus the link's 2, plus the accounting's 3 series (components,
  // cleanup_roots, other) x 2.
  EXPECT_EQ(InvalidUtf8Total(), before + 22);
  EXPECT_EQ(v[std::string(m::kFilesystemSizeBytes) +
              "{device=dev\\xffx,fstype=ext4,mountpoint=/tmp/x/mnt\\xffz,}"],
            1000);
  EXPECT_EQ(v[std::string(m::kInvalidUtf8Total) + "{}"],
            static_cast<double>(before + 22));
  const std::string text = RenderText(s);
  EXPECT_THAT(text, HasSubstr("mountpoint=\"/tmp/x/mnt\\\\xffz\""));
  EXPECT_EQ(text.find('\xff'), std::string::npos);
}

TEST(CollectorTest, ComponentWithoutSegmentPatternHasNoSegmentSeries) {
  auto v = Flatten(BuildMetricFamilies(TwoComponents()));
  EXPECT_EQ(v.count(std::string(m::kSegments) + "{component=db,}"), 0u);
}

TEST(CollectorTest, NoSegmentTimestampsWhileThereAreNoSegments) {
  Snapshot s = TwoComponents();
  s.components[0].stats.segments = {};
  auto v = Flatten(BuildMetricFamilies(s));
  EXPECT_EQ(v[std::string(m::kSegments) + "{component=wal,}"], 0);
  EXPECT_EQ(
      v.count(std::string(m::kOldestSegmentTimestamp) + "{component=wal,}"),
      0u);
}

TEST(CollectorTest, RemovedComponentLeavesNoSeries) {
  Snapshot s = TwoComponents();
  s.components.pop_back();  // db gone from the config
  s.links.pop_back();
  std::string text = RenderText(s);
  EXPECT_THAT(text, HasSubstr("component=\"wal\""));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("component=\"db\"")));
}

TEST(CollectorTest, NeverWalkedComponentEmitsNothingYet) {
  Snapshot s;
  ComponentState c;
  c.name = "wal";
  s.components.push_back(c);
  std::string text = RenderText(s);
  EXPECT_THAT(text, ::testing::Not(HasSubstr("component=\"wal\"")));
  EXPECT_THAT(text, HasSubstr(std::string(m::kBuildInfo)));
}

TEST(CollectorTest, FailedWalkKeepsLastValuesAndReportsFailure) {
  Snapshot s = TwoComponents();
  s.components[0].last_success = false;
  auto v = Flatten(BuildMetricFamilies(s));
  EXPECT_EQ(v[std::string(m::kScanSuccess) + "{component=wal,}"], 0);
  EXPECT_EQ(v[std::string(m::kComponentAllocatedBytes) + "{component=wal,}"],
            8192);
}

TEST(CollectorTest, HungStatfsKeepsValuesAndSaysSo) {
  Snapshot s = TwoComponents();
  s.filesystems[0].stat_success = false;
  auto v = Flatten(BuildMetricFamilies(s));
  EXPECT_EQ(v[std::string(m::kFilesystemStatSuccess) +
              "{device=/dev/vdb,fstype=ext4,mountpoint=/data,}"],
            0);
  EXPECT_EQ(v[std::string(m::kFilesystemSizeBytes) +
              "{device=/dev/vdb,fstype=ext4,mountpoint=/data,}"],
            1000);
}

TEST(CollectorTest, HelpSaysValuesAreCached) {
  std::string text = RenderText(TwoComponents());
  EXPECT_THAT(text, HasSubstr("# HELP stemedb_disk_component_allocated_bytes"));
  auto line_start = text.find("# HELP stemedb_disk_component_allocated_bytes");
  auto line = text.substr(line_start, text.find('\n', line_start) - line_start);
  EXPECT_THAT(line, HasSubstr("Cached"));
}

TEST(CollectorTest, PromtoolAcceptsTheExposition) {
  std::string out;
  int rc = testutil::RunCommand("promtool check metrics",
                                RenderText(TwoComponents()), &out);
  EXPECT_EQ(rc, 0) << out;
}

TEST(CollectorTest, LabelValuesAreEscaped) {
  Snapshot s = TwoComponents();
  s.filesystems[0].mount.mountpoint = "/mnt/with \"quote\"\\and\nnewline";
  std::string out;
  int rc = testutil::RunCommand("promtool check metrics", RenderText(s), &out);
  EXPECT_EQ(rc, 0) << out;
}

// The metrics table (stemedb/config/metrics.h) against what the exporter
// serves: every family emitted is in the table with the same type, HELP and
// label names, and every family in the table is emitted, so a new metric
// cannot skip the table (nor its docs).
// One of everything: TwoComponents with wal watched and a cleanup rule with
// a reading.
Snapshot Full() {
  Snapshot s = TwoComponents();
  s.components[0].watched = true;
  CleanupRuleState rule;
  rule.name = "wal_beyond_retention";
  rule.path = "/data/wal";
  rule.mountpoint = "/data";
  rule.device = "/dev/vdb";
  rule.have_reading = true;
  rule.reading.oldest_mtime = 1600000000;
  s.cleanup_rules.push_back(rule);
  s.thresholds = ThresholdsInForce(Config{});
  s.stemedb_config_loaded = 1;
  s.prevention.push_back({"compaction_disabled", true, "", ""});
  // A complete /proc scan: every deleted-open family is served.
  s.open_deleted = std::make_shared<const measure::OpenDeletedScan>();
  return s;
}

std::string_view TypeName(prometheus::MetricType type) {
  return type == prometheus::MetricType::Counter ? "counter" : "gauge";
}

// Name -> "TYPE\nHELP" of the process families, read back from their text.
std::map<std::string, std::string> ProcessFamilies() {
  std::string text;
  AppendProcessMetrics(&text);
  std::map<std::string, std::string> help, type;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string hash, kind, name, rest;
    words >> hash >> kind >> name;
    std::getline(words, rest);
    if (hash != "#") continue;
    (kind == "HELP" ? help : type)[name] = rest.empty() ? "" : rest.substr(1);
  }
  std::map<std::string, std::string> out;
  for (const auto& [name, t] : type) out[name] = t + "\n" + help[name];
  return out;
}

TEST(MetricsTableTest, EveryServedFamilyIsInTheTableAsServed) {
  std::set<std::string> served;
  for (const prometheus::MetricFamily& f : BuildMetricFamilies(Full())) {
    served.insert(f.name);
    const m::Family* def = m::Find(f.name);
    ASSERT_NE(def, nullptr) << f.name << " is not in metrics.h";
    EXPECT_EQ(TypeName(f.type), m::TypeName(def->type)) << f.name;
    EXPECT_EQ(f.help, m::FullHelp(*def)) << f.name;
    const auto labels = m::Labels(*def);
    const std::set<std::string> want(labels.begin(), labels.end());
    for (const prometheus::ClientMetric& cm : f.metric) {
      std::set<std::string> got;
      for (const auto& l : cm.label) got.insert(l.name);
      EXPECT_EQ(got, want) << f.name;
    }
  }
  for (const auto& [name, type_help] : ProcessFamilies()) {
    served.insert(name);
    const m::Family* def = m::Find(name);
    ASSERT_NE(def, nullptr) << name << " is not in metrics.h";
    EXPECT_EQ(type_help,
              std::string(m::TypeName(def->type)) + "\n" + m::FullHelp(*def));
    EXPECT_TRUE(m::Labels(*def).empty()) << name;
  }
  std::set<std::string> table;
  for (const m::Family& f : m::kFamilies) {
    EXPECT_TRUE(table.insert(std::string(f.name)).second)
        << f.name << " is twice in metrics.h";
  }
  EXPECT_EQ(served, table);
}

TEST(MetricsTableTest, NamesFollowTheConventions) {
  for (const m::Family& f : m::kFamilies) {
    const std::string_view name = f.name;
    const bool process = f.group == m::Group::kProcess;
    EXPECT_EQ(name.starts_with(process ? "process_" : m::kPrefix), true)
        << name;
    EXPECT_EQ(name.ends_with("_total"), f.type == m::Type::kCounter) << name;
    EXPECT_FALSE(f.help.empty()) << name;
  }
}

}  // namespace
}  // namespace stemedb::exporter
