#include "stemedb/exporter/exporter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "test_util.h"

namespace stemedb::exporter {
namespace {

using stemedb::testing::TempDir;
using stemedb::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::Not;

Component Make(const std::string& root, const std::string& name,
               const std::string& pattern = "", bool optional = false) {
  Component c;
  c.name = name;
  c.path = name;
  c.resolved_path = root + "/" + name;
  c.segment_pattern = pattern;
  c.optional = optional;
  return c;
}

Config TwoComponents(const std::string& root) {
  Config c;
  c.root = root;
  c.scan.interval = {std::chrono::milliseconds(50), "50ms"};
  c.components.push_back(Make(root, "wal", "*.log"));
  c.components.push_back(Make(root, "db"));
  return c;
}

const ComponentState* Find(const Snapshot& s, const std::string& name) {
  for (const auto& c : s.components) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

TEST(ExporterTest, RunOnceReportsWhatTheTreeHolds) {
  TempDir dir;
  WriteFile(dir / "wal/a.log", std::string(100, 'x'));
  WriteFile(dir / "wal/b.log", std::string(200, 'x'));
  WriteFile(dir / "wal/not-a-segment", "x");
  WriteFile(dir / "db/shard/1.kv", std::string(10, 'x'));
  Exporter e(TwoComponents(dir.path()), nullptr);
  e.RunOnce();
  auto s = e.CurrentSnapshot();
  const auto* wal = Find(*s, "wal");
  ASSERT_NE(wal, nullptr);
  EXPECT_TRUE(wal->last_success);
  EXPECT_EQ(wal->stats.files, 3u);
  EXPECT_EQ(wal->stats.segments.count, 2u);
  const auto* db = Find(*s, "db");
  EXPECT_EQ(db->stats.files, 1u);
  EXPECT_EQ(db->stats.directories, 2u);
  ASSERT_FALSE(s->filesystems.empty());
  EXPECT_GT(s->filesystems[0].capacity.size_bytes, 0u);
  EXPECT_EQ(s->links.size(), 2u);
  EXPECT_TRUE(e.Ready());
}

TEST(ExporterTest, MissingRequiredComponentFailsItsScanOnly) {
  TempDir dir;
  WriteFile(dir / "wal/a.log", "x");
  Config c = TwoComponents(dir.path());
  c.components.push_back(Make(dir.path(), "tmp", "", /*optional=*/true));
  Exporter e(c, nullptr);
  e.RunOnce();
  auto s = e.CurrentSnapshot();
  EXPECT_TRUE(Find(*s, "wal")->last_success);
  EXPECT_FALSE(Find(*s, "db")->last_success);
  EXPECT_FALSE(Find(*s, "db")->stats.present);
  EXPECT_TRUE(Find(*s, "tmp")->last_success);  // optional: absent is fine
  EXPECT_THAT(*e.Exposition(),
              HasSubstr("stemedb_disk_component_present{component=\"db\"} 0"));
}

TEST(ExporterTest, BackgroundWalksPickUpChanges) {
  TempDir dir;
  WriteFile(dir / "wal/a.log", "x");
  WriteFile(dir / "db/x", "x");
  Exporter e(TwoComponents(dir.path()), nullptr);
  e.Start();
  e.WaitForWalks(1);
  EXPECT_THAT(*e.Exposition(),
              HasSubstr("stemedb_disk_segments{component=\"wal\"} 1"));
  WriteFile(dir / "wal/b.log", "x");
  // A walk that finishes after this point started after the write.
  e.WaitForWalks(e.WalksFinished() + 2);
  EXPECT_THAT(*e.Exposition(),
              HasSubstr("stemedb_disk_segments{component=\"wal\"} 2"));
  e.Stop();
}

TEST(ExporterTest, FailedReloadKeepsConfigAndCountsFailure) {
  TempDir dir;
  WriteFile(dir / "wal/a.log", "x");
  WriteFile(dir / "db/x", "x");
  bool fail = true;
  Exporter e(TwoComponents(dir.path()), [&](Config* out) {
    if (fail) {
      return std::optional<ConfigError>(
          ConfigError{"c.yaml", 3, 7, "scan.interval", "bad"});
    }
    Config c = TwoComponents(dir.path());
    c.components.pop_back();  // db removed
    *out = c;
    return std::optional<ConfigError>();
  });
  e.RunOnce();
  auto err = e.Reload();
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->ToString(), "c.yaml:3:7: scan.interval: bad");
  std::string text = *e.Exposition();
  EXPECT_THAT(text, HasSubstr("stemedb_disk_config_last_reload_successful 0"));
  EXPECT_THAT(text, HasSubstr("stemedb_disk_config_reload_failures_total 1"));
  EXPECT_THAT(text, HasSubstr("component=\"db\""));

  fail = false;
  EXPECT_FALSE(e.Reload().has_value());
  text = *e.Exposition();
  EXPECT_THAT(text, HasSubstr("stemedb_disk_config_last_reload_successful 1"));
  EXPECT_THAT(text, HasSubstr("stemedb_disk_config_reload_failures_total 1"));
  EXPECT_THAT(text, Not(HasSubstr("component=\"db\"")));
  EXPECT_THAT(text, HasSubstr("component=\"wal\""));
}

TEST(ExporterTest, StopReturnsPromptlyWhileIdle) {
  TempDir dir;
  Config c = TwoComponents(dir.path());
  c.scan.interval = {std::chrono::hours(1), "1h"};
  Exporter e(c, nullptr);
  e.Start();
  e.WaitForWalks(1);
  e.Stop();  // must not wait for the hour
  SUCCEED();
}

}  // namespace
}  // namespace stemedb::exporter
