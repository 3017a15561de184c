// GrowthHistory with a driven clock: which directories it ranks, over which
// window, and that its memory stays within its limits.
#include "stemedb/engine/growth_history.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace stemedb::exporter {
namespace {

// A tree as a map path -> bytes directly inside; records carry the
// cumulative totals (a directory's own plus every subdirectory's).
using Tree = std::map<std::string, uint64_t>;

std::vector<measure::DirectoryRecord> Records(const Tree& tree) {
  std::vector<measure::DirectoryRecord> out;
  for (const auto& [path, bytes] : tree) {
    measure::DirectoryRecord r;
    r.path = path;
    for (const auto& [p, b] : tree) {
      if (p == path || p.rfind(path + "/", 0) == 0) {
        r.cumulative.allocated_bytes += b;
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

constexpr double kStart = 1.7e9;

TEST(GrowthHistoryTest, SteadyWriterTopsBothWindowsAtItsRate) {
  GrowthHistory h;
  Tree tree = {
      {"/d", 4096}, {"/d/a", 1 << 20}, {"/d/b", 1 << 20}, {"/d/b/c", 0}};
  // 10 MiB a minute into /d/b/c for two hours; /d/a stays.
  for (int minute = 0; minute <= 120; ++minute) {
    h.Observe("db", Records(tree), kStart + 60.0 * minute);
    tree["/d/b/c"] += 10 << 20;
  }
  const auto r = h.Report();
  ASSERT_EQ(r.windows.size(), 2u);
  for (const auto& w : r.windows) {
    ASSERT_FALSE(w.top.empty()) << w.name;
    // /d and /d/b grow by exactly as much: /d/b/c explains them.
    EXPECT_EQ(w.top.size(), 1u) << w.name;
    EXPECT_EQ(w.top[0].path, "/d/b/c");
    EXPECT_EQ(w.top[0].component, "db");
    EXPECT_NEAR(w.top[0].bytes_per_hour, 600.0 * (1 << 20), 1.0) << w.name;
  }
  EXPECT_EQ(r.windows[0].name, "1h");
  EXPECT_EQ(r.windows[0].top[0].growth_bytes, 600LL << 20);
  EXPECT_EQ(r.windows[1].top[0].growth_bytes, 1200LL << 20);
  EXPECT_DOUBLE_EQ(r.windows[1].span_seconds, 7200);
}

TEST(GrowthHistoryTest, OldGrowthLeavesTheHourButNotTheDay) {
  GrowthHistory h;
  Tree tree = {{"/d", 0}, {"/d/old", 0}, {"/d/new", 0}};
  for (int minute = 0; minute <= 180; ++minute) {
    if (minute < 60) tree["/d/old"] += 1 << 20;
    if (minute >= 170) tree["/d/new"] += 4096;
    h.Observe("db", Records(tree), kStart + 60.0 * minute);
  }
  const auto r = h.Report();
  ASSERT_EQ(r.windows[0].top.size(), 1u);
  EXPECT_EQ(r.windows[0].top[0].path, "/d/new");
  ASSERT_EQ(r.windows[1].top.size(), 2u);
  EXPECT_EQ(r.windows[1].top[0].path, "/d/old");
  EXPECT_EQ(r.windows[1].top[1].path, "/d/new");
}

TEST(GrowthHistoryTest, NewDirectoryGrowsFromZeroAndGoneOnesAreDropped) {
  GrowthHistory h;
  Tree tree = {{"/d", 0}, {"/d/x", 1 << 30}};
  h.Observe("wal", Records(tree), kStart);
  tree["/d/fresh"] = 8192;
  h.Observe("wal", Records(tree), kStart + 30);
  auto r = h.Report();
  ASSERT_FALSE(r.windows[0].top.empty());
  EXPECT_EQ(r.windows[0].top[0].path, "/d/fresh");
  EXPECT_EQ(r.windows[0].top[0].growth_bytes, 8192);
  EXPECT_NEAR(r.windows[0].top[0].bytes_per_hour, 8192 * 120.0, 1e-6);
  tree.erase("/d/fresh");
  h.Observe("wal", Records(tree), kStart + 60);
  r = h.Report();
  for (const auto& w : r.windows) {
    for (const auto& e : w.top) EXPECT_NE(e.path, "/d/fresh");
  }
  EXPECT_EQ(h.Tracked(), 2u);
}

TEST(GrowthHistoryTest, TrackedDirectoriesStayWithinTheLimit) {
  GrowthLimits limits;
  limits.max_tracked = 50;
  limits.initial_tracked = 10;
  GrowthHistory h(limits);
  Tree tree;
  tree["/d"] = 0;
  for (int i = 0; i < 1000; ++i) tree["/d/" + std::to_string(1000 + i)] = i;
  h.Observe("db", Records(tree), kStart);
  EXPECT_EQ(h.Tracked(), 10u);
  // Every minute a different 100 directories change; the last round's
  // biggest change must be listed after their parent (the sum of all).
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 100; ++i) {
      tree["/d/" + std::to_string(1000 + round * 100 + i)] += 1 + i;
    }
    h.Observe("db", Records(tree), kStart + 60.0 * (round + 1));
    EXPECT_LE(h.Tracked(), 50u);
  }
  const auto r = h.Report();
  ASSERT_GE(r.windows[0].top.size(), 2u);
  EXPECT_EQ(r.windows[0].top[0].path, "/d");
  EXPECT_EQ(r.windows[0].top[0].growth_bytes, 10 * 5050);
  EXPECT_EQ(r.windows[0].top[1].path, "/d/1999");
  EXPECT_EQ(r.windows[0].top[1].growth_bytes, 100);
  EXPECT_EQ(r.tracked_limit, 50u);
}

TEST(GrowthHistoryTest, RetainForgetsRemovedComponents) {
  GrowthHistory h;
  h.Observe("db", Records({{"/db", 1}}), kStart);
  h.Observe("wal", Records({{"/wal", 1}}), kStart);
  h.Observe("wal", Records({{"/wal", 2}}), kStart + 60);
  h.Retain({"db"});
  EXPECT_EQ(h.Tracked(), 1u);
  EXPECT_TRUE(h.Report().windows[0].top.empty());
}

}  // namespace
}  // namespace stemedb::exporter
