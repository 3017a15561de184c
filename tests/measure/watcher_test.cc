// The watcher against a real temporary tree: after each batch of changes and
// Sync() (every queued event applied), the watched totals equal du's and
// find's, with no walk in between.
#include "stemedb/measure/watcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"

namespace stemedb::measure {
namespace {

using testutil::Du;
using testutil::MakeDir;
using testutil::TempDir;
using testutil::WriteFile;
namespace fs = std::filesystem;

uint64_t FindCount(const std::string& path) {
  return std::stoull(testutil::Run("find '" + path + "' -xdev | wc -l"));
}

// Starts a watcher on one component (or several, all watched) and counts
// its change callbacks.
class WatcherFixture {
 public:
  WatcherFixture(const std::string& path, const std::string& pattern,
                 WatchOptions options = WatchOptions())
      : WatcherFixture({ComponentSpec{"c", path, pattern}}, WalkOptions(),
                       options) {}
  WatcherFixture(const std::vector<ComponentSpec>& specs, WalkOptions walk,
                 WatchOptions options)
      : watcher_(specs, std::move(walk), options,
                 std::vector<bool>(specs.size(), true)) {
    watcher_.Start([this] {
      std::lock_guard lock(mu_);
      ++changes_;
      cv_.notify_all();
    });
  }

  // The callback touches mu_ and cv_, which are destroyed before watcher_
  // (members go in reverse order): join the watcher thread first.
  ~WatcherFixture() { watcher_.Stop(); }

  Watcher& operator*() { return watcher_; }
  Watcher* operator->() { return &watcher_; }

  ComponentStats Now() {
    watcher_.Sync();
    return watcher_.TakeStats(false).at(0);
  }

  // Waits for a change callback after which `pred` holds.
  template <typename Pred>
  void WaitFor(Pred pred) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return pred(); });
  }

 private:
  Watcher watcher_;
  std::mutex mu_;
  std::condition_variable cv_;
  int changes_ = 0;
};

// Appends `bytes` bytes to the file at `path` (write(2) and close: the
// events a writer makes).
void Append(const std::string& path, size_t bytes) {
  std::FILE* f = std::fopen(path.c_str(), "a");
  ASSERT_NE(f, nullptr) << path;
  std::fwrite(std::string(bytes, 'a').data(), 1, bytes, f);
  std::fclose(f);
}

void ExpectExact(const ComponentStats& s, const std::string& path) {
  SCOPED_TRACE(path);
  EXPECT_TRUE(s.present);
  EXPECT_TRUE(s.complete);
  EXPECT_EQ(s.allocated_bytes, Du(path, false, true));
  EXPECT_EQ(s.apparent_bytes, Du(path, true, true));
  EXPECT_EQ(s.files + s.directories, FindCount(path));
}

TEST(WatcherTest, FollowsCreatesAppendsDeletesRenamesAndHardLinks) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  MakeDir(comp + "/a");
  WriteFile(comp + "/a/one", 5000);
  WatcherFixture w(comp, "");
  ExpectExact(w.Now(), comp);
  EXPECT_EQ(w->Directories(), 2u);

  WriteFile(comp + "/a/two", 70000);
  {  // append
    int fd = open((comp + "/a/one").c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    std::string more(100000, 'x');
    ASSERT_EQ(write(fd, more.data(), more.size()), 100000);
    close(fd);
  }
  ExpectExact(w.Now(), comp);

  // A subtree created and filled faster than its watches can be added.
  fs::create_directories(comp + "/b/c/d");
  for (int i = 0; i < 20; ++i) {
    WriteFile(comp + "/b/c/d/f" + std::to_string(i), 1000 * i);
  }
  ExpectExact(w.Now(), comp);
  EXPECT_EQ(w->Directories(), 5u);

  // Hard links within and across directories, counted once.
  ASSERT_EQ(link((comp + "/a/two").c_str(), (comp + "/b/two").c_str()), 0);
  ASSERT_EQ(link((comp + "/a/two").c_str(), (comp + "/a/two2").c_str()), 0);
  ExpectExact(w.Now(), comp);
  ASSERT_EQ(unlink((comp + "/a/two").c_str()), 0);
  ASSERT_EQ(unlink((comp + "/a/two2").c_str()), 0);
  ExpectExact(w.Now(), comp);

  // A directory renamed with its subtree, then removed.
  ASSERT_EQ(rename((comp + "/b/c").c_str(), (comp + "/a/moved").c_str()), 0);
  ExpectExact(w.Now(), comp);
  WriteFile(comp + "/a/moved/d/late",
            3000);  // still watched under its new name
  ExpectExact(w.Now(), comp);
  fs::remove_all(comp + "/a/moved");
  ExpectExact(w.Now(), comp);
  EXPECT_EQ(w->Directories(), 3u);

  // truncate and a sparse file
  ASSERT_EQ(truncate((comp + "/a/one").c_str(), 10), 0);
  {
    int fd = open((comp + "/sparse").c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, "x", 1, 50 << 20), 1);
    close(fd);
  }
  ExpectExact(w.Now(), comp);
  EXPECT_EQ(w->Info().at(0).rewalks,
            (std::array<uint64_t, kRewalkReasonCount>{}));
}

TEST(WatcherTest, SegmentsFollowTheirFilesAndDirectories) {
  TempDir tmp;
  const std::string wal = tmp / "wal";
  MakeDir(wal);
  WriteFile(wal + "/000001.log", 4096);
  WatcherFixture w(wal, "*.log");
  ComponentStats s = w.Now();
  EXPECT_EQ(s.segments.count, 1u);
  WriteFile(wal + "/000002.log", 8192);
  WriteFile(wal + "/other", 8192);
  s = w.Now();
  EXPECT_EQ(s.segments.count, 2u);
  EXPECT_EQ(s.segments.allocated_bytes,
            testutil::AllocatedSize(wal + "/000001.log") +
                testutil::AllocatedSize(wal + "/000002.log"));
  struct stat st;
  ASSERT_EQ(stat((wal + "/000002.log").c_str(), &st), 0);
  EXPECT_DOUBLE_EQ(s.segments.newest_mtime,
                   st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9);
  ASSERT_EQ(unlink((wal + "/000001.log").c_str()), 0);
  s = w.Now();
  EXPECT_EQ(s.segments.count, 1u);
  EXPECT_DOUBLE_EQ(s.segments.oldest_mtime, s.segments.newest_mtime);
  ExpectExact(s, wal);
}

TEST(WatcherTest, OverflowIsARewalkThatEndsExact) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  WatchOptions options;
  options.overflow_after = 3;
  WatcherFixture w(comp, "", options);
  for (int i = 0; i < 10; ++i) {
    MakeDir(comp + "/d" + std::to_string(i));
    WriteFile(comp + "/d" + std::to_string(i) + "/f", 2000);
  }
  ExpectExact(w.Now(), comp);
  EXPECT_EQ(w->Info().at(0).rewalks[static_cast<int>(RewalkReason::kOverflow)],
            1u);
  EXPECT_TRUE(w->Info().at(0).watched);
  EXPECT_EQ(w->Directories(), 11u);
}

TEST(WatcherTest, WatchLimitFallsBackToWalks) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  for (int i = 0; i < 4; ++i) MakeDir(comp + "/d" + std::to_string(i));
  WatchOptions options;
  options.max_watches = 3;
  WatcherFixture w(comp, "", options);
  const WatchInfo info = w->Info().at(0);
  EXPECT_FALSE(info.watched);
  EXPECT_EQ(info.rewalks[static_cast<int>(RewalkReason::kWatchLimit)], 1u);
  EXPECT_EQ(w->Directories(), 0u);
}

// The limit hit later, by a subdirectory created after the start: the
// component leaves watch mode for good, its watches go back, and a walk
// (what the caller does for it from then on) is exact.
TEST(WatcherTest, NewSubdirectoryRefusedFallsBackToWalks) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  MakeDir(comp + "/a");
  WriteFile(comp + "/a/f", 3000);
  WatchOptions options;
  options.max_watches = 3;
  WatcherFixture w(comp, "", options);
  ExpectExact(w.Now(), comp);
  ASSERT_TRUE(w->Info().at(0).watched);
  EXPECT_EQ(w->Directories(), 2u);
  // "b" gets the last watch; "b/c" is refused.
  fs::create_directories(comp + "/b/c");
  WriteFile(comp + "/b/c/g", 70000);
  WriteFile(comp + "/b/h", 5000);
  const ComponentStats s = w.Now();
  const WatchInfo info = w->Info().at(0);
  EXPECT_FALSE(info.watched);
  EXPECT_EQ(info.rewalks[static_cast<int>(RewalkReason::kWatchLimit)], 1u);
  EXPECT_EQ(info.rewalks[static_cast<int>(RewalkReason::kOverflow)], 0u);
  EXPECT_EQ(info.rewalks[static_cast<int>(RewalkReason::kError)], 0u);
  EXPECT_EQ(w->Directories(), 0u);
  EXPECT_EQ(s.name, "c");
  EXPECT_FALSE(s.present);  // no numbers from the watcher any more
  WriteFile(comp + "/a/later", 12345);
  ExpectExact(ScanComponents({{"c", comp, ""}}, WalkOptions()).at(0), comp);
  // Still walked: the change was not taken as a reason to watch again.
  w->Sync();
  EXPECT_FALSE(w->Info().at(0).watched);
  EXPECT_EQ(w->Directories(), 0u);
  EXPECT_EQ(
      w->Info().at(0).rewalks[static_cast<int>(RewalkReason::kWatchLimit)], 1u);
}

// A cleanup rule's extra root holds component roots (which it skips). When
// it cannot be watched, the components below keep their watches and stay
// exact (its fallback once dropped their nodes too: watched, 0 watches).
TEST(WatcherTest, OuterRootRefusedLeavesTheComponentsBelowWatched) {
  TempDir tmp;
  const std::string outer = tmp / "data";
  const std::string inner = outer + "/wal";
  MakeDir(outer);
  MakeDir(inner);
  MakeDir(inner + "/sub");
  MakeDir(outer + "/other");
  WriteFile(inner + "/sub/f", 4000);
  WatchOptions options;
  options.max_watches = 2;  // the inner component's two directories
  Watcher w({ComponentSpec{"wal", inner, ""},
             ComponentSpec{outer, outer, "", {inner}}},
            WalkOptions(), options, {true, true});
  w.Start(nullptr);
  std::vector<WatchInfo> info = w.Info();
  EXPECT_TRUE(info.at(0).watched);
  EXPECT_FALSE(info.at(1).watched);
  EXPECT_EQ(info.at(1).rewalks[static_cast<int>(RewalkReason::kWatchLimit)],
            1u);
  EXPECT_EQ(w.Directories(), 2u);
  WriteFile(inner + "/sub/g", 50000);
  WriteFile(inner + "/h", 6000);
  w.Sync();
  ExpectExact(w.TakeStats(false).at(0), inner);
  EXPECT_TRUE(w.Info().at(0).watched);
  EXPECT_EQ(w.Directories(), 2u);
  w.Stop();
}

TEST(WatcherTest, ReconcileFindsNoDifference) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  WriteFile(comp + "/f", 12345);
  WatchOptions options;
  // How often reconciles run, not a wait: the test waits for the event
  // "two reconciles done" below, however long the machine takes.
  options.reconcile_interval = std::chrono::milliseconds(20);
  WatcherFixture w(comp, "", options);
  WriteFile(comp + "/g", 777);
  w.WaitFor([&] { return w->Info().at(0).reconciles >= 2; });
  const WatchInfo info = w->Info().at(0);
  EXPECT_EQ(info.reconcile_difference_bytes, 0u);
  EXPECT_EQ(info.reconcile_difference_entries, 0u);
  EXPECT_EQ(info.rewalks, (std::array<uint64_t, kRewalkReasonCount>{}));
  ExpectExact(w.Now(), comp);
}

// A reconcile walks the components one after the other; what happens
// during one walk must not count as a difference in the next. The walk's
// after-read hook (armed once the watcher runs, so the first walks pass)
// makes the change at a known point of a reconcile walk, once.
class ReconcileRaceTest : public ::testing::Test {
 protected:
  ReconcileRaceTest() {
    MakeDir(a_);
    MakeDir(b_);
    WriteFile(a_ + "/f", 5000);
    WriteFile(b_ + "/g", 3000);
  }

  // Starts the watcher on components a and b; `act` runs once, in the
  // first walk after the start that has just listed directory `when`.
  void Start(const std::string& when, std::function<void()> act,
             WatchOptions options = WatchOptions()) {
    WalkOptions walk;
    walk.hooks.after_read_dir = [this, when,
                                 act = std::move(act)](std::string_view dir) {
      if (dir == when && armed_.exchange(false)) act();
    };
    // How often reconciles run, not a wait: the test waits for reconciles
    // counted, however long the machine takes.
    options.reconcile_interval = std::chrono::milliseconds(20);
    w_.emplace(std::vector<ComponentSpec>{{"a", a_, ""}, {"b", b_, ""}},
               std::move(walk), options);
    armed_ = true;
  }

  // Waits until each component has counted `n` reconciles.
  void WaitReconciles(uint64_t n) {
    w_->WaitFor([&] {
      const auto info = (*w_)->Info();
      return info.at(0).reconciles >= n && info.at(1).reconciles >= n;
    });
  }

  std::array<uint64_t, kRewalkReasonCount> Rewalks(int c) {
    return (*w_)->Info().at(c).rewalks;
  }

  void ExpectBothExact() {
    (*w_)->Sync();
    const auto stats = (*w_)->TakeStats(false);
    ExpectExact(stats.at(0), a_);
    ExpectExact(stats.at(1), b_);
  }

  TempDir tmp_;
  const std::string a_ = tmp_ / "a";
  const std::string b_ = tmp_ / "b";
  std::atomic<bool> armed_{false};
  std::optional<WatcherFixture> w_;  // last: stopped before the rest goes
};

// Written during a's walk, b's file is heard (and its directory marked)
// before b's walk, which must then start from the model with it.
TEST_F(ReconcileRaceTest, WhatAnEarlierWalkHeardIsAppliedBeforeTheNext) {
  Start(a_, [this] { WriteFile(b_ + "/new", 70000); });
  WaitReconciles(3);
  EXPECT_FALSE(armed_);  // the change was made
  EXPECT_EQ(Rewalks(0), (std::array<uint64_t, kRewalkReasonCount>{}));
  EXPECT_EQ(Rewalks(1), (std::array<uint64_t, kRewalkReasonCount>{}));
  ExpectBothExact();
}

// A file hard-linked into both, written through a's name while b's walk
// lists b: only a hears of it, b's walk sees the new size.
TEST_F(ReconcileRaceTest, AWriteThroughAnotherComponentsNameIsNoDifference) {
  ASSERT_EQ(link((a_ + "/f").c_str(), (b_ + "/f").c_str()), 0);
  Start(b_, [this] { Append(a_ + "/f", 70000); });
  WaitReconciles(3);
  EXPECT_FALSE(armed_);
  EXPECT_EQ(Rewalks(0), (std::array<uint64_t, kRewalkReasonCount>{}));
  EXPECT_EQ(Rewalks(1), (std::array<uint64_t, kRewalkReasonCount>{}));
  ExpectBothExact();
}

// Events lost during a reconcile (the first event read after the start
// acts as an overflow) walk every watched component again, as between
// walks; b's walk is not compared with a model that missed them.
TEST_F(ReconcileRaceTest, AnOverflowDuringAReconcileWalksEverythingAgain) {
  WatchOptions options;
  options.overflow_after = 0;
  Start(
      a_, [this] { WriteFile(b_ + "/new", 70000); }, options);
  WaitReconciles(2);
  EXPECT_FALSE(armed_);
  const std::array<uint64_t, kRewalkReasonCount> once_for_overflow{1, 0, 0, 0};
  static_assert(static_cast<int>(RewalkReason::kOverflow) == 0);
  EXPECT_EQ(Rewalks(0), once_for_overflow);
  EXPECT_EQ(Rewalks(1), once_for_overflow);
  ExpectBothExact();
}

// Written through its name in one component, a file hard-linked into
// another is heard of only in the first: both must take its new size.
TEST(WatcherTest, HardLinkAcrossComponentsFollowsWritesThroughEitherName) {
  TempDir tmp;
  const std::string a = tmp / "a";
  const std::string b = tmp / "b";
  MakeDir(a);
  MakeDir(b);
  WriteFile(a + "/f", 5000);
  ASSERT_EQ(link((a + "/f").c_str(), (b + "/f").c_str()), 0);
  Watcher w({ComponentSpec{"a", a, ""}, ComponentSpec{"b", b, ""}},
            WalkOptions(), WatchOptions(), {true, true});
  w.Start(nullptr);
  for (const std::string& through : {a, b, a}) {
    Append(through + "/f", 70000);
    w.Sync();
    const auto stats = w.TakeStats(false);
    ExpectExact(stats.at(0), a);
    ExpectExact(stats.at(1), b);
  }
  w.Stop();
}

TEST(WatcherTest, ComponentDirectoryRemovedAndRecreated) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  WriteFile(comp + "/f", 100);
  WatcherFixture w(comp, "");
  fs::remove_all(comp);
  EXPECT_FALSE(w.Now().present);
  // Gone replaces nothing: no rewalk counted (an optional component wiped
  // now and then must not look like a swapped root).
  EXPECT_EQ(w->Info().at(0).rewalks,
            (std::array<uint64_t, kRewalkReasonCount>{}));
  MakeDir(comp);
  WriteFile(comp + "/g", 5000);
  // Looked for again every second; the callback tells when it is back.
  w.WaitFor([&] { return w->TakeStats(false).at(0).present; });
  ExpectExact(w.Now(), comp);
}

// A subdirectory whose name comes to hold another directory (swapped by
// renames, removed and made again: ext4 may even give the new one the old
// inode number) is another directory: its old node goes, the new one is
// walked with a watch. Nothing is read between the changes and Sync, so
// each reading meets the whole change at once.
TEST(WatcherTest, SubdirectoryReplacedUnderTheSameName) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  MakeDir(comp + "/cur");
  WriteFile(comp + "/cur/a", 40000);
  MakeDir(comp + "/new");
  WriteFile(comp + "/new/b", 60000);
  WatchOptions options;
  options.coalesce = std::chrono::hours(1);  // dirty ones wait for Sync
  WatcherFixture w(comp, "", options);
  ExpectExact(w.Now(), comp);
  auto rename_to = [&](const std::string& from, const std::string& to) {
    ASSERT_EQ(rename((comp + from).c_str(), (comp + to).c_str()), 0) << from;
  };

  rename_to("/cur", "/old");
  rename_to("/new", "/cur");
  ExpectExact(w.Now(), comp);
  // Both are watched under their new names.
  WriteFile(comp + "/cur/c", 30000);
  WriteFile(comp + "/old/d", 20000);
  ExpectExact(w.Now(), comp);
  EXPECT_EQ(w->Directories(), 3u);

  // Swapped back, and written in both, before any reading.
  rename_to("/cur", "/swap");
  rename_to("/old", "/cur");
  rename_to("/swap", "/old");
  WriteFile(comp + "/cur/e", 10000);
  WriteFile(comp + "/old/f", 50000);
  ExpectExact(w.Now(), comp);
  EXPECT_EQ(w->Directories(), 3u);

  // Removed and made again.
  fs::remove_all(comp + "/cur");
  MakeDir(comp + "/cur");
  WriteFile(comp + "/cur/g", 25000);
  ExpectExact(w.Now(), comp);
  WriteFile(comp + "/cur/h", 35000);
  ExpectExact(w.Now(), comp);
  EXPECT_EQ(w->Directories(), 3u);
}

// A component directory removed and made again while the watcher thread
// is busy elsewhere (held in its reading of another component's directory
// by the walk's after-read hook), so that no look finds it missing. On
// ext4 (this machine's and CI's /tmp) the new directory gets the old inode
// number at once, so the path resolves as before, yet the watches went
// with the old directory: it must be walked again.
TEST(WatcherTest, ComponentDirectoryMadeAgainWhileTheWatcherWasBusy) {
  TempDir tmp;
  const std::string a = tmp / "a";
  const std::string b = tmp / "b";
  MakeDir(a);
  MakeDir(a + "/sub");
  WriteFile(a + "/f", 5000);
  MakeDir(b);
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool armed = false;
    bool held = false;
    bool released = false;
    void Release() {
      std::lock_guard lock(mu);
      released = true;
      cv.notify_all();
    }
  };
  auto gate = std::make_shared<Gate>();
  WalkOptions walk;
  walk.hooks.after_read_dir = [gate, b](std::string_view dir) {
    std::unique_lock lock(gate->mu);
    if (dir != b || !gate->armed) return;
    gate->armed = false;
    gate->held = true;
    gate->cv.notify_all();
    gate->cv.wait(lock, [&] { return gate->released; });
  };
  WatcherFixture w({{"a", a, ""}, {"b", b, ""}}, std::move(walk),
                   WatchOptions());
  // Destroyed before the watcher: a failure below never leaves it held.
  std::unique_ptr<Gate, void (*)(Gate*)> release(gate.get(),
                                                 [](Gate* g) { g->Release(); });
  {
    std::lock_guard lock(gate->mu);
    gate->armed = true;
  }
  WriteFile(b + "/x", 100);  // the watcher reads b again and is held there
  {
    std::unique_lock lock(gate->mu);
    gate->cv.wait(lock, [&] { return gate->held; });
  }
  struct stat before {};
  ASSERT_EQ(stat(a.c_str(), &before), 0);
  fs::remove_all(a);
  MakeDir(a);
  WriteFile(a + "/g", 7000);
  struct stat after {};
  ASSERT_EQ(stat(a.c_str(), &after), 0);
  const bool same_inode = before.st_ino == after.st_ino;
  std::printf("made again with the %s inode number\n",
              same_inode ? "same" : "another");
  gate->Release();

  w->Sync();
  ExpectExact(w->TakeStats(false).at(0), a);
  WriteFile(a + "/h", 9000);  // heard only where a watch is
  w->Sync();
  const auto stats = w->TakeStats(false);
  ExpectExact(stats.at(0), a);
  ExpectExact(stats.at(1), b);
  EXPECT_EQ(w->Directories(), 2u);
  std::array<uint64_t, kRewalkReasonCount> rewalks{};
  if (!same_inode) ++rewalks[static_cast<int>(RewalkReason::kReplaced)];
  EXPECT_EQ(w->Info().at(0).rewalks, rewalks);
}

// Bytes of the entries an aggregate was told to count, and names seen.
class BytesAggregate : public EntryAggregate {
 public:
  void Add(const EntryInfo& e) override {
    if (S_ISDIR(e.st->st_mode)) return;
    ++names;
    if (e.counted) bytes += static_cast<uint64_t>(e.st->st_blocks) * 512;
  }
  void Merge(const EntryAggregate& other) override {
    const auto& o = static_cast<const BytesAggregate&>(other);
    names += o.names;
    bytes += o.bytes;
  }
  uint64_t names = 0, bytes = 0;
};

TEST(WatcherTest, AggregatesCountEachHardLinkedInodeOnce) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  MakeDir(comp + "/a");
  MakeDir(comp + "/b");
  WriteFile(comp + "/b/f", 40000);
  ASSERT_EQ(link((comp + "/b/f").c_str(), (comp + "/a/g").c_str()), 0);
  WalkOptions walk;
  walk.make_aggregate = [](int) { return std::make_unique<BytesAggregate>(); };
  Watcher w({ComponentSpec{"c", comp, ""}}, walk, WatchOptions(), {true});
  w.Start(nullptr);
  std::string a = comp + "/a";
  auto check = [&](uint64_t names) {
    w.Sync();
    const ComponentStats s = w.TakeStats(false).at(0);
    ASSERT_NE(s.aggregate, nullptr);
    const auto& agg = static_cast<const BytesAggregate&>(*s.aggregate);
    EXPECT_EQ(agg.names, names);
    // Files only: du of the tree less its three directories.
    EXPECT_EQ(agg.bytes, Du(comp, false, true) - testutil::AllocatedSize(comp) -
                             testutil::AllocatedSize(a) -
                             testutil::AllocatedSize(comp + "/b"));
  };
  check(2);
  ASSERT_EQ(unlink((comp + "/a/g").c_str()), 0);  // a counted it
  check(1);
  ASSERT_EQ(link((comp + "/b/f").c_str(), (comp + "/a/h").c_str()), 0);
  ASSERT_EQ(link((comp + "/b/f").c_str(), (comp + "/b/f2").c_str()), 0);
  check(3);
  ASSERT_EQ(rename(a.c_str(), (comp + "/z").c_str()), 0);
  a = comp + "/z";  // now after b: b counts the inode
  check(3);
}

void RandomMutationsStayExact(const WatchOptions& options) {
  const char* env = std::getenv("STEMEDB_TEST_SEED");
  const unsigned seed = env ? std::stoul(env) : std::random_device()();
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (rerun with STEMEDB_TEST_SEED)");
  std::mt19937 rng(seed);
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  WatcherFixture w(comp, "*.log", options);
  std::vector<std::string> dirs = {comp};
  std::vector<std::string> files;
  int next = 0;
  auto pick = [&](auto& v) -> std::string& {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
  };
  for (int op = 0; op < 600; ++op) {
    const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
    const int n = next++;
    const std::string name = std::to_string(n) + (n % 3 ? "" : ".log");
    if (kind <= 2 || files.empty()) {
      const std::string f = pick(dirs) + "/f" + name;
      WriteFile(f, std::uniform_int_distribution<size_t>(0, 50000)(rng));
      files.push_back(f);
    } else if (kind == 3) {
      const std::string d = pick(dirs) + "/d" + name;
      if (d.size() < 200) {
        MakeDir(d);
        dirs.push_back(d);
      }
    } else if (kind == 4) {
      const std::string f = pick(files);
      const std::string l = pick(dirs) + "/l" + name;
      if (link(f.c_str(), l.c_str()) == 0) files.push_back(l);
    } else if (kind == 5) {
      std::string& f = pick(files);
      unlink(f.c_str());
      f = files.back();
      files.pop_back();
    } else if (kind == 6) {
      truncate(pick(files).c_str(),
               std::uniform_int_distribution<off_t>(0, 200000)(rng));
    } else if (kind == 7 && dirs.size() > 1) {
      // Rename a directory (with its subtree) somewhere not below itself.
      const std::string from = dirs[1 + rng() % (dirs.size() - 1)];
      const std::string to = pick(dirs) + "/r" + name;
      if (!to.starts_with(from + "/") &&
          rename(from.c_str(), to.c_str()) == 0) {
        for (auto* list : {&dirs, &files}) {
          for (std::string& p : *list) {
            if (p == from || p.starts_with(from + "/")) {
              p = to + p.substr(from.size());
            }
          }
        }
      }
    } else if (kind == 8 && dirs.size() > 1) {
      const size_t i = 1 + rng() % (dirs.size() - 1);
      const std::string gone = dirs[i];
      fs::remove_all(gone);
      for (auto* list : {&dirs, &files}) {
        std::erase_if(*list, [&](const std::string& p) {
          return p == gone || p.starts_with(gone + "/");
        });
      }
    } else {
      const std::string f = pick(files);
      const std::string to = pick(dirs) + "/m" + name;
      if (rename(f.c_str(), to.c_str()) == 0) {
        std::erase(files, f);
        files.push_back(to);
      }
    }
    if (op % 100 == 99) ExpectExact(w.Now(), comp);
  }
  ExpectExact(w.Now(), comp);
  EXPECT_EQ(w->Info().at(0).rewalks,
            (std::array<uint64_t, kRewalkReasonCount>{}));
}

TEST(WatcherTest, SeededRandomMutationsStayExact) {
  RandomMutationsStayExact(WatchOptions());
}

// The same with every directory taking per-name updates (a real tree's
// small directories are always read whole).
TEST(WatcherTest, SeededRandomMutationsStayExactReadingByName) {
  WatchOptions options;
  options.per_name_min_entries = 0;
  RandomMutationsStayExact(options);
}

// What a segment list looks like to a reader: count, oldest, newest.
struct SegmentTruth {
  uint64_t count = 0;
  double oldest = 0;
  double newest = 0;
};
SegmentTruth Segments(const std::string& dir) {
  SegmentTruth t;
  double lo = 1e300, hi = -1e300;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename();
    if (!e.is_regular_file() || !name.ends_with(".log")) continue;
    struct stat st;
    EXPECT_EQ(lstat(e.path().c_str(), &st), 0);
    const double m = st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9;
    lo = std::min(lo, m);
    hi = std::max(hi, m);
    ++t.count;
  }
  if (t.count > 0) {
    t.oldest = lo;
    t.newest = hi;
  }
  return t;
}

// A WAL's life in a directory of many segments: append to the newest, roll
// (new segment, oldest dropped), temporary files made and removed, a file
// renamed over another. Read by name, not whole, and exact every step.
TEST(WatcherTest, WalDirectoryFollowsByNameAndStaysExact) {
  TempDir tmp;
  const std::string wal = tmp / "wal";
  MakeDir(wal);
  int first = 0, last = 299;
  auto segment = [&](int i) {
    char name[32];
    std::snprintf(name, sizeof name, "/segment-%06d.log", i);
    return wal + name;
  };
  for (int i = first; i <= last; ++i) {
    WriteFile(segment(i), 1000 + i);
    // Distinct mtimes, oldest first, as a WAL's are.
    const struct timespec times[2] = {{1700000000 + i * 60, 0},
                                      {1700000000 + i * 60, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, segment(i).c_str(), times, 0), 0);
  }
  WatchOptions options;
  options.per_name_min_entries = 100;
  WatcherFixture w(wal, "*.log", options);
  auto check = [&](const std::string& step) {
    SCOPED_TRACE(step);
    const ComponentStats s = w.Now();
    ExpectExact(s, wal);
    const SegmentTruth t = Segments(wal);
    EXPECT_EQ(s.segments.count, t.count);
    EXPECT_EQ(s.segments.oldest_mtime, t.oldest);
    EXPECT_EQ(s.segments.newest_mtime, t.newest);
  };
  check("start");
  for (int step = 0; step < 200; ++step) {
    Append(segment(last), 4096 + step);
    if (step % 5 == 4) {
      WriteFile(segment(++last), 10);
      ASSERT_EQ(unlink(segment(first++).c_str()), 0);
    }
    const std::string t = wal + "/op-" + std::to_string(step) + ".tmp";
    WriteFile(t, step * 10);
    if (step >= 3) {
      ASSERT_EQ(
          unlink((wal + "/op-" + std::to_string(step - 3) + ".tmp").c_str()),
          0);
    }
    if (step % 50 == 49) {  // renamed over a file it replaces
      WriteFile(wal + "/x.new", 7000);
      ASSERT_EQ(rename((wal + "/x.new").c_str(), (wal + "/x.cur").c_str()), 0);
    }
    check("step " + std::to_string(step));
  }
  const WatchInfo info = w->Info().at(0);
  // Whole readings only at the few steps that need one (a rename over a
  // name, the first touch of an old entry), not at every write.
  EXPECT_GT(info.named_reads, 150u);
  EXPECT_LT(info.whole_reads, 40u);
  EXPECT_EQ(info.rewalks, (std::array<uint64_t, kRewalkReasonCount>{}));
}

// A component directory replaced behind its watches: its parent moved away
// and put back as a symlink to a copy (no event reaches a watch below
// `data`), the component path re-pointed as a symlink, the component
// directory itself replaced by a new one. Each time the watcher walks the
// component again (reason replaced) and follows the new directory.
TEST(WatcherTest, ReplacedComponentDirectoryIsWalkedAgain) {
  TempDir tmp;
  const std::string data = tmp / "data";
  const std::string comp = data + "/wal";
  MakeDir(data);
  MakeDir(comp);
  MakeDir(comp + "/sub");
  WriteFile(comp + "/sub/a", 5000);
  WatcherFixture w(comp, "");
  ExpectExact(w.Now(), comp);
  auto replaced = [&] {
    return w->Info().at(0).rewalks[static_cast<int>(RewalkReason::kReplaced)];
  };

  // mv data data.old; cp -a data.old copy; ln -s copy data; then writes.
  ASSERT_EQ(rename(data.c_str(), (tmp / "data.old").c_str()), 0);
  testutil::Run("cp -a '" + tmp / "data.old" + "' '" + tmp / "copy" + "'");
  ASSERT_EQ(symlink((tmp / "copy").c_str(), data.c_str()), 0);
  WriteFile(comp + "/big", 2 << 20);
  WriteFile(comp + "/sub/b", 70000);
  ExpectExact(w.Now(), comp);
  EXPECT_EQ(replaced(), 1u);
  // Watched there now: a change in the copy is seen without a walk.
  WriteFile(comp + "/sub/c", 9000);
  ExpectExact(w.Now(), comp);
  EXPECT_EQ(replaced(), 1u);
  // The old tree changing is no business of the component any more.
  WriteFile(tmp / "data.old/wal/sub/stale", 40000);
  ExpectExact(w.Now(), comp);

  // The component path itself a symlink, re-pointed.
  MakeDir(tmp / "wal2");
  WriteFile(tmp / "wal2/x", 3000);
  ASSERT_EQ(symlink((tmp / "wal2").c_str(), (tmp / "copy/wal.new").c_str()), 0);
  ASSERT_EQ(rename((tmp / "copy/wal").c_str(), (tmp / "copy/wal.gone").c_str()),
            0);
  ASSERT_EQ(rename((tmp / "copy/wal.new").c_str(), (tmp / "copy/wal").c_str()),
            0);
  ExpectExact(w.Now(), comp + "/");  // du and find: through the symlink
  EXPECT_EQ(replaced(), 2u);

  // A new directory at the same path.
  ASSERT_EQ(unlink((tmp / "copy/wal").c_str()), 0);
  MakeDir(comp);
  WriteFile(comp + "/y", 8000);
  ExpectExact(w.Now(), comp);
  EXPECT_EQ(replaced(), 3u);
  WriteFile(comp + "/z", 6000);
  ExpectExact(w.Now(), comp);
  EXPECT_EQ(w->Directories(), 1u);  // the old directories' watches went
}

// A chain whose paths are far longer than PATH_MAX, and deeper than
// max_depth, made while watching: the watcher ends with what a walk of the
// same tree counts (directories past max_depth as their inode and reason
// loop), whatever the order in which its reads and the mkdirs interleave.
// (Names of 24 bytes make the paths pass PATH_MAX at depth 164; a chain
// 5,000 deep with max_depth 4096 once ended at 3,099 to 4,766 directories.)
TEST(WatcherTest, DeepChainMadeWhileWatchingCountsAsAWalk) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  constexpr int kDepth = 500;
  constexpr int kMaxDepth = 400;
  const std::string name(24, 'd');
  WalkOptions walk;
  walk.max_depth = kMaxDepth;
  Watcher w({ComponentSpec{"c", comp, ""}}, walk, WatchOptions(), {true});
  w.Start(nullptr);
  int at = open(comp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(at, 0);
  for (int i = 0; i < kDepth; ++i) {
    ASSERT_EQ(mkdirat(at, name.c_str(), 0755), 0) << i;
    if (i % 100 == 99) {  // a file now and then, some beyond max_depth
      const int f = openat(at, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      ASSERT_GE(f, 0);
      ASSERT_EQ(write(f, "x", 1), 1);
      close(f);
    }
    const int next =
        openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(at);
    ASSERT_GE(next, 0) << i;
    at = next;
  }
  close(at);
  w.Sync();
  const ComponentStats watched = w.TakeStats(false).at(0);
  const ComponentStats walked = ScanComponents({{"c", comp, ""}}, walk).at(0);
  w.Stop();
  ASSERT_TRUE(walked.complete);
  // Depths 0..max_depth walked, and the inode of the one below.
  EXPECT_EQ(walked.directories, kMaxDepth + 2u);
  EXPECT_EQ(walked.errors[static_cast<int>(ErrorReason::kLoop)], 1u);
  EXPECT_TRUE(watched.complete);
  EXPECT_EQ(watched.directories, walked.directories);
  EXPECT_EQ(watched.files, walked.files);
  EXPECT_EQ(watched.allocated_bytes, walked.allocated_bytes);
  EXPECT_EQ(watched.apparent_bytes, walked.apparent_bytes);
  EXPECT_GE(watched.errors[static_cast<int>(ErrorReason::kLoop)], 1u);
  for (int k = 0; k < kErrorReasonCount; ++k) {
    if (k == static_cast<int>(ErrorReason::kLoop)) continue;
    EXPECT_EQ(watched.errors[k], 0u) << ReasonName(static_cast<ErrorReason>(k));
  }
  EXPECT_EQ(w.Info().at(0).rewalks,
            (std::array<uint64_t, kRewalkReasonCount>{}));
}

}  // namespace
}  // namespace stemedb::measure
