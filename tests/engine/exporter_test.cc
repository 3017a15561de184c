#include "stemedb/engine/exporter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string_view>

#include "test_support.h"

namespace stemedb::exporter {
namespace {

using stemedb::testutil::AllocatedSize;
using stemedb::testutil::TempDir;
using stemedb::testutil::WriteFile;
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
  Config config = TwoComponents(dir.path());
  config.scan.mode = ScanMode::kWalk;  // the walks themselves are tested
  Exporter e(std::move(config), nullptr);
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

TEST(ExporterTest, WatchModeSeesChangesWithoutWalking) {
  TempDir dir;
  WriteFile(dir / "wal/a.log", "x");
  WriteFile(dir / "db/x", "x");
  Config config = TwoComponents(dir.path());
  config.scan.mode = ScanMode::kWatch;
  config.scan.interval = {std::chrono::hours(1), "1h"};  // no walk helps
  Exporter e(std::move(config), nullptr);
  e.Start();
  e.WaitForWalks(1);
  EXPECT_THAT(*e.Exposition(),
              HasSubstr("stemedb_disk_scan_mode{component=\"wal\",mode="
                        "\"watch\"} 1"));
  WriteFile(dir / "wal/b.log", std::string(100000, 'y'));
  e.SyncWatch();
  const std::string text = *e.Exposition();
  EXPECT_THAT(text, HasSubstr("stemedb_disk_segments{component=\"wal\"} 2"));
  const std::string du =
      std::to_string(stemedb::testutil::Du(dir / "wal", /*apparent=*/false));
  EXPECT_THAT(text, HasSubstr("stemedb_disk_component_allocated_bytes{"
                              "component=\"wal\"} " +
                              du + "\n"));
  EXPECT_THAT(text, HasSubstr("stemedb_disk_watch_directories 2\n"));
  e.Stop();
}

TEST(ExporterTest, NetworkFilesystemTypeIsWalkedInWatchMode) {
  TempDir dir;
  WriteFile(dir / "wal/a.log", "x");
  WriteFile(dir / "db/x", "x");
  Config config = TwoComponents(dir.path());
  config.scan.mode = ScanMode::kWatch;
  ExporterOptions options;
  options.watch.fs_types = {{dir / "db", "nfs4"}};
  Exporter e(std::move(config), nullptr, options);
  e.Start();
  e.WaitForWalks(1);
  const std::string text = *e.Exposition();
  EXPECT_THAT(text, HasSubstr("stemedb_disk_scan_mode{component=\"db\",mode="
                              "\"walk\"} 1"));
  EXPECT_THAT(text, HasSubstr("stemedb_disk_scan_mode{component=\"wal\","
                              "mode=\"watch\"} 1"));
  EXPECT_THAT(text, HasSubstr("stemedb_disk_component_files{component="
                              "\"db\"} 1"));
  e.Stop();
}

// A component that runs out of inotify watches is walked at once, and that
// walk does not push the walk schedule out: the next walk the schedule
// asks for walks it again (it once waited a whole scan.interval after the
// fallback's walk, so numbers were up to twice the interval old). A reload
// with a new interval asks for a walk now, so the test does not wait an
// interval.
TEST(ExporterTest, FallenBackComponentIsWalkedAtTheNextScheduledWalk) {
  TempDir dir;
  WriteFile(dir / "wal/a.log", "x");
  WriteFile(dir / "db/x", "x");
  Config config = TwoComponents(dir.path());
  config.scan.mode = ScanMode::kWatch;
  config.scan.interval = {std::chrono::hours(1), "1h"};
  ExporterOptions options;
  options.watch.max_watches = 2;  // wal and db, nothing more
  Config next = config;
  next.scan.interval = {std::chrono::hours(2), "2h"};
  Exporter e(
      config,
      [&](Config* out) {
        *out = next;
        return Status();
      },
      options);
  e.Start();
  e.WaitForWalks(1);
  EXPECT_THAT(*e.Exposition(), HasSubstr("stemedb_disk_scan_mode{component="
                                         "\"db\",mode=\"watch\"} 1"));
  WriteFile(dir / "db/sub/y", "y");  // a third directory: no watch for it
  e.SyncWatch();                     // the fallback, and its walk
  std::string text = *e.Exposition();
  EXPECT_THAT(text, HasSubstr("stemedb_disk_scan_mode{component=\"db\","
                              "mode=\"walk\"} 1"));
  EXPECT_THAT(text, HasSubstr("stemedb_disk_component_files{component="
                              "\"db\"} 2"));
  WriteFile(dir / "db/sub/z", "z");  // seen by a walk only
  const uint64_t walks = e.WalksFinished();
  ASSERT_FALSE(e.Reload().has_value());
  e.WaitForWalks(walks + 1);
  text = *e.Exposition();
  EXPECT_THAT(text, HasSubstr("stemedb_disk_component_files{component="
                              "\"db\"} 3"));
  e.Stop();
}

TEST(ExporterTest, FailedReloadKeepsConfigAndCountsFailure) {
  TempDir dir;
  WriteFile(dir / "wal/a.log", "x");
  WriteFile(dir / "db/x", "x");
  bool fail = true;
  Exporter e(TwoComponents(dir.path()), [&](Config* out) {
    if (fail) {
      return Status(ConfigError{"c.yaml", 3, 7, "scan.interval", "bad"});
    }
    Config c = TwoComponents(dir.path());
    c.components.pop_back();  // db removed
    *out = c;
    return Status();
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

// A failed companion file (the web config) fails the reload in the metrics
// while a good config is still applied; the next full success clears it.
TEST(ExporterTest, FailedCompanionFileFailsTheReload) {
  TempDir dir;
  WriteFile(dir / "wal/a.log", "x");
  WriteFile(dir / "db/x", "x");
  Exporter e(TwoComponents(dir.path()), [&](Config* out) {
    Config c = TwoComponents(dir.path());
    c.components.pop_back();  // db removed
    *out = c;
    return Status();
  });
  e.RunOnce();
  EXPECT_FALSE(e.Reload(/*companion_failed=*/true).has_value());
  std::string text = *e.Exposition();
  EXPECT_THAT(text, HasSubstr("stemedb_disk_config_last_reload_successful 0"));
  EXPECT_THAT(text, HasSubstr("stemedb_disk_config_reload_failures_total 1"));
  EXPECT_THAT(text, Not(HasSubstr("component=\"db\"")));  // config applied

  EXPECT_FALSE(e.Reload().has_value());
  text = *e.Exposition();
  EXPECT_THAT(text, HasSubstr("stemedb_disk_config_last_reload_successful 1"));
  EXPECT_THAT(text, HasSubstr("stemedb_disk_config_reload_failures_total 1"));
}

CleanupRule Rule(const std::string& name, const std::string& dir,
                 const std::string& match) {
  CleanupRule r;
  r.name = name;
  r.section = 4;
  r.path = dir;
  r.resolved_path = dir;
  r.match = match;
  return r;
}

// Cleanup rules: a rule directory around the components is walked once as an
// extra root (the components in it left to their own walk, so nothing is
// counted twice), is not a component, and its readings and filesystem
// reach the snapshot and the exposition; a reload that changes the rules
// takes effect with the next walk.
TEST(ExporterTest, CleanupRulesAreTalliedByTheWalk) {
  TempDir dir;
  WriteFile(dir / "wal/a.tmp", std::string(5000, 'x'));
  WriteFile(dir / "db/b.tmp", std::string(9000, 'x'));
  WriteFile(dir / "stray.tmp", std::string(100, 'x'));
  WriteFile(dir / "keep.kv", "x");
  Config c = TwoComponents(dir.path());
  c.cleanup.rules.push_back(Rule("tmp_files", dir.path(), "*.tmp"));
  std::string match = "*.kv";
  Exporter e(c, [&](Config* out) {
    Config next = c;
    next.cleanup.rules[0].match = match;
    *out = next;
    return Status();
  });
  e.RunOnce();
  auto s = e.CurrentSnapshot();
  ASSERT_EQ(s->cleanup_rules.size(), 1u);
  const CleanupRuleState& r = s->cleanup_rules[0];
  EXPECT_EQ(r.name, "tmp_files");
  ASSERT_TRUE(r.have_reading);
  EXPECT_EQ(r.reading.entries, 3u);
  EXPECT_EQ(r.reading.bytes, AllocatedSize(dir / "wal/a.tmp") +
                                 AllocatedSize(dir / "db/b.tmp") +
                                 AllocatedSize(dir / "stray.tmp"));
  EXPECT_FALSE(r.mountpoint.empty());
  EXPECT_EQ(s->components.size(), 2u);  // the extra root is no component
  EXPECT_THAT(*e.Exposition(),
              HasSubstr("stemedb_disk_reclaimable_entries{rule=\"tmp_files\"} "
                        "3"));
  EXPECT_THAT(*e.Exposition(),
              HasSubstr("stemedb_disk_cleanup_rule_info{device=\""));

  ASSERT_FALSE(e.Reload().has_value());
  e.RunOnce();
  const auto after = e.CurrentSnapshot()->cleanup_rules.at(0);
  EXPECT_EQ(after.reading.entries, 1u);
  EXPECT_EQ(after.reading.bytes, AllocatedSize(dir / "keep.kv"));
}

TEST(ExporterTest, StopReturnsPromptlyWhileIdle) {
  TempDir dir;
  Config c = TwoComponents(dir.path());
  c.scan.interval = {std::chrono::hours(1), "1h"};
  Exporter e(c, nullptr);
  e.Start();
  e.WaitForWalks(1);
  const auto start = std::chrono::steady_clock::now();
  e.Stop();  // must not wait for the hour
  // Generous: a loop that waited for its interval would take an hour.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

// A walk stuck in the kernel (a hung NFS mount) is emulated by a scanner
// worker blocked in the after-readdir hook (ExporterOptions::walk_hooks)
// until the test releases it. Time is not raced: walks have a generous
// deadline, and the exporter's seam declares a walk stuck when the test says
// so.
class StuckWalkTest : public ::testing::Test {
 protected:
  // Owned jointly by the fixture and the hook (the exporter's options hold a
  // copy of it), so a walker still inside the hook never touches freed
  // memory.
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool blocking = false;  // BlockWalks() was called
    bool released = false;
    int blocked = 0;
  };

  void TearDown() override {
    // Release every walker, wait until the ones the exporter left behind
    // have returned, and only then let the fixture go.
    Release();
    abandoned_->JoinAll();
  }

  // Options under which the test declares walks stuck (DeclareStuck), blocks
  // walks (BlockWalks) and joins the walks left behind.
  ExporterOptions Options() {
    ExporterOptions options;
    options.declare_walks_stuck = [stuck = stuck_] { return stuck->load(); };
    options.abandoned_walks = abandoned_;
    options.walk_hooks.after_read_dir = [gate = gate_](std::string_view) {
      std::unique_lock<std::mutex> lock(gate->mu);
      if (!gate->blocking) return;
      ++gate->blocked;
      gate->cv.notify_all();
      gate->cv.wait(lock, [&] { return gate->released; });
    };
    return options;
  }

  void DeclareStuck(bool on) { *stuck_ = on; }

  void Release() {
    std::lock_guard<std::mutex> lock(gate_->mu);
    gate_->released = true;
    gate_->cv.notify_all();
  }

  // From now on, walkers block in the hook until Release().
  void BlockWalks() {
    std::lock_guard<std::mutex> lock(gate_->mu);
    gate_->blocking = true;
  }

  // Waits until a walker is blocked in the hook.
  void WaitBlocked() {
    std::unique_lock<std::mutex> lock(gate_->mu);
    gate_->cv.wait(lock, [&] { return gate_->blocked > 0; });
  }

  int Blocked() {
    std::lock_guard<std::mutex> lock(gate_->mu);
    return gate_->blocked;
  }

  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  std::shared_ptr<std::atomic<bool>> stuck_ =
      std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<AbandonedWalks> abandoned_ =
      std::make_shared<AbandonedWalks>();
};

// A tree of two components scanned by one worker, so blocking the first
// directory blocks the whole walk. The deadline is one that only a hung walk
// exceeds, even under sanitizers on a loaded machine.
Config OneWorkerTree(const TempDir& dir) {
  WriteFile(dir / "wal/a.log", "x");
  WriteFile(dir / "db/x", "x");
  Config c = TwoComponents(dir.path());
  c.scan.timeout = {std::chrono::minutes(5), "5m"};
  c.scan.threads = 1;
  return c;
}

TEST_F(StuckWalkTest, ReportsFailureKeepsServingAndStacksNoWalks) {
  TempDir dir;
  Config c = OneWorkerTree(dir);
  c.scan.interval = {std::chrono::milliseconds(10), "10ms"};
  Exporter e(c, nullptr, Options());
  e.RunOnce();  // a complete result to keep serving
  ASSERT_TRUE(Find(*e.CurrentSnapshot(), "wal")->last_success);
  const uint64_t walks_before = e.WalksFinished();

  BlockWalks();
  e.Start();
  WaitBlocked();
  DeclareStuck(true);
  // The capacity loop marks the walk failed once it counts as stuck.
  ASSERT_TRUE(e.WaitForSnapshot([](const Snapshot& s) {
    const auto* wal = Find(s, "wal");
    return wal && !wal->last_success &&
           wal->errors_total[static_cast<int>(
               measure::ErrorReason::kTimeout)] == 1;
  }));
  DeclareStuck(false);
  std::string text = *e.Exposition();
  EXPECT_THAT(text,
              HasSubstr("stemedb_disk_scan_success{component=\"wal\"} 0"));
  // The last complete numbers are still served.
  EXPECT_THAT(text,
              HasSubstr("stemedb_disk_component_files{component=\"wal\"} 1"));
  EXPECT_EQ(e.WalksFinished(), walks_before);
  EXPECT_EQ(Blocked(), 1);  // no second walk was started on top of it

  // The mount comes back: the stuck walk returns, later walks succeed.
  Release();
  e.WaitForWalks(walks_before + 2);
  EXPECT_TRUE(e.WaitForSnapshot(
      [](const Snapshot& s) { return Find(s, "wal")->last_success; }));
  // The timeout was counted once, when found stuck, not again on return.
  EXPECT_EQ(
      Find(*e.CurrentSnapshot(), "wal")
          ->errors_total[static_cast<int>(measure::ErrorReason::kTimeout)],
      1u);
  e.Stop();
}

// The capacity pass made before the first walk links every component by
// its path's spelling, a missing one too (to the filesystem of the nearest
// mount above it). Once the walk finds it missing, the scrape leaves it off
// at once, not at the next capacity pass.
TEST_F(StuckWalkTest, ComponentFoundMissingLeavesTheFilesystemAtOnce) {
  TempDir dir;
  WriteFile(dir / "wal/a.log", "x");  // no db
  Config c = TwoComponents(dir.path());
  c.scan.mode = ScanMode::kWalk;
  c.scan.threads = 1;
  c.scan.timeout = {std::chrono::minutes(5), "5m"};
  c.scan.interval = {std::chrono::hours(1), "1h"};
  BlockWalks();
  Exporter e(c, nullptr, Options());
  e.Start();
  WaitBlocked();
  ASSERT_TRUE(e.WaitForSnapshot(
      [](const Snapshot& s) { return !s.filesystems.empty(); }));
  const auto linked = [&e](const std::string& name) {
    const auto s = e.CurrentSnapshot();
    return std::count_if(s->links.begin(), s->links.end(),
                         [&](const auto& l) { return l.component == name; });
  };
  ASSERT_EQ(linked("db"), 1);  // not yet walked

  Release();
  e.WaitForWalks(1);
  EXPECT_FALSE(Find(*e.CurrentSnapshot(), "db")->stats.present);
  EXPECT_EQ(linked("db"), 0);
  EXPECT_EQ(linked("wal"), 1);
  EXPECT_THAT(*e.Exposition(),
              Not(HasSubstr("component_filesystem_info{component=\"db\"")));
  e.Stop();
}

TEST_F(StuckWalkTest, OnceGivesUpOnAStuckWalkAndStillAnswers) {
  TempDir dir;
  Config c = OneWorkerTree(dir);
  BlockWalks();
  DeclareStuck(true);
  Exporter e(c, nullptr, Options());
  e.RunOnce();  // returns although the walk never does
  std::string text = *e.Exposition();
  EXPECT_THAT(text,
              HasSubstr("stemedb_disk_scan_success{component=\"wal\"} 0"));
  EXPECT_THAT(text,
              HasSubstr("stemedb_disk_scan_errors_total{component=\"wal\","
                        "reason=\"timeout\"} 1"));
  EXPECT_THAT(text, HasSubstr("stemedb_disk_filesystem_size_bytes"));
  EXPECT_FALSE(e.Ready());
  // TearDown releases the walker left behind and joins it.
}

}  // namespace
}  // namespace stemedb::exporter
