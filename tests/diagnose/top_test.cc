// The bounded top lists: same result as sorting everything, whatever the
// order of offers and however they are split across walkers.
#include "stemedb/diagnose/top.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace stemedb::diagnose {
namespace {

struct Dir {
  std::string path;
  uint64_t bytes;
  uint64_t entries;
};

std::vector<DirectoryNumber> Sorted(const std::vector<Dir>& dirs, bool by_bytes,
                                    size_t limit) {
  std::vector<DirectoryNumber> all;
  for (const auto& d : dirs) {
    const uint64_t v = by_bytes ? d.bytes : d.entries;
    if (by_bytes || v > 0) all.push_back({d.path, v});
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.value != b.value ? a.value > b.value : a.path < b.path;
  });
  if (all.size() > limit) all.resize(limit);
  return all;
}

bool Same(const std::vector<DirectoryNumber>& a,
          const std::vector<DirectoryNumber>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].path != b[i].path || a[i].value != b[i].value) return false;
  }
  return true;
}

TEST(TopDirectoriesTest, EqualsAFullSortInAnyOrderAndSplit) {
  std::mt19937 rng(42);
  std::vector<Dir> dirs;
  for (int i = 0; i < 500; ++i) {
    // Few distinct values, so ties (broken by path) are common.
    dirs.push_back(
        {"/d/" + std::to_string(rng() % 1000), rng() % 50, rng() % 7});
  }
  // Paths must be unique (each directory is offered once).
  std::sort(dirs.begin(), dirs.end(),
            [](const Dir& a, const Dir& b) { return a.path < b.path; });
  dirs.erase(
      std::unique(dirs.begin(), dirs.end(),
                  [](const Dir& a, const Dir& b) { return a.path == b.path; }),
      dirs.end());
  for (int round = 0; round < 20; ++round) {
    std::shuffle(dirs.begin(), dirs.end(), rng);
    TopDirectories a, b, c;
    for (size_t i = 0; i < dirs.size(); ++i) {
      TopDirectories& t = i % 3 == 0 ? a : (i % 3 == 1 ? b : c);
      if (t.Wants(dirs[i].bytes, dirs[i].entries)) {
        t.Offer(dirs[i].path, dirs[i].bytes, dirs[i].entries);
      }
    }
    a.Merge(b);
    a.Merge(c);
    EXPECT_TRUE(Same(a.Largest(), Sorted(dirs, true, kTopDirectories)));
    EXPECT_TRUE(Same(a.MostEntries(), Sorted(dirs, false, kTopDirectories)));
    EXPECT_EQ(a.Largest().size(), kTopDirectories);
  }
}

TEST(TopDirectoriesTest, FewerDirectoriesThanTheLimit) {
  TopDirectories t;
  t.Offer("/a", 10, 0);
  t.Offer("/b", 20, 3);
  ASSERT_EQ(t.Largest().size(), 2u);
  EXPECT_EQ(t.Largest()[0].path, "/b");
  ASSERT_EQ(t.MostEntries().size(), 1u);  // an empty directory is not listed
  EXPECT_EQ(t.MostEntries()[0].value, 3u);
}

TEST(TopDirectoriesTest, WantsOnlyWhatCanEnter) {
  TopDirectories t(2);
  t.Offer("/a", 10, 10);
  t.Offer("/b", 20, 20);
  EXPECT_FALSE(t.Wants(9, 9));
  EXPECT_TRUE(t.Wants(10, 0));  // a tie may still win on its path
  EXPECT_TRUE(t.Wants(0, 11));
  TopDirectories none(0);
  EXPECT_FALSE(none.Wants(100, 100));
}

}  // namespace
}  // namespace stemedb::diagnose
