// The reclaim unit against the truth of find(1) and du(1): a tree the test
// writes with known sizes and ages (set with utime), tallied through a plain
// recursive listing the way the scanner reports entries, must give every
// rule the count `find` lists and the bytes `du` reports for that list.
#include "stemedb/reclaim/reclaim.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "stemedb/config/config.h"
#include "test_support.h"

namespace stemedb::reclaim {
namespace {

namespace fs = std::filesystem;
constexpr double kDay = 86400;

class ReclaimTest : public testing::Test {
 protected:
  void SetUp() override { now_ = static_cast<double>(std::time(nullptr)); }

  // A file of `size` bytes whose mtime is `age_days` ago.
  void File(const std::string& rel, size_t size, double age_days) {
    testutil::WriteFile(tmp_ / rel, std::string(size, 'x'));
    Age(rel, age_days);
  }
  void Dir(const std::string& rel, double age_days) {
    fs::create_directories(fs::path(root_) / rel);
    Age(rel, age_days);
  }
  void Age(const std::string& rel, double age_days) {
    const std::string path = (fs::path(root_) / rel).string();
    const auto t = static_cast<time_t>(now_ - age_days * kDay);
    struct utimbuf times {
      t, t
    };
    ASSERT_EQ(utime(path.c_str(), &times), 0) << path;
  }

  Config Load(const std::string& yaml) {
    Config config;
    auto error =
        ParseConfig("root: " + root_ + "\n" + yaml, "test.yaml", "/", &config);
    EXPECT_FALSE(error.has_value()) << error->ToString();
    return config;
  }

  // Lists `path` like the scanner: every entry lstat'ed once and handed
  // to the tally; subdirectories descended, component directories below an
  // extra root left to their own walk; hard links counted once.
  void Walk(const std::string& path, const std::vector<std::string>& skip,
            Tally* tally, std::vector<ino_t>* seen) {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(path.c_str()), closedir);
    ASSERT_NE(dir, nullptr) << path;
    while (const dirent* e = readdir(dir.get())) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      const std::string child = path + "/" + name;
      if (std::find(skip.begin(), skip.end(), child) != skip.end()) continue;
      struct stat st;
      ASSERT_EQ(lstat(child.c_str(), &st), 0);
      bool counted = true;
      if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
        for (ino_t i : *seen) counted = counted && i != st.st_ino;
        seen->push_back(st.st_ino);
      }
      tally->Add(path, name, st, counted);
      if (S_ISDIR(st.st_mode)) Walk(child, skip, tally, seen);
    }
  }

  std::vector<Reading> Measure(const Config& config, const Rules& rules,
                               double at) {
    std::vector<std::unique_ptr<Tally>> tallies;
    std::vector<const Tally*> views;
    std::vector<std::string> roots = rules.ExtraRoots();
    for (const Component& c : config.components) {
      if (fs::is_directory(c.resolved_path)) roots.push_back(c.resolved_path);
    }
    for (const std::string& root : roots) {
      if (!fs::is_directory(root)) continue;
      // One tally per root, as walker threads have theirs, and one set of
      // hard links seen per root, as the walk keeps them per component.
      tallies.push_back(std::make_unique<Tally>(&rules, now_));
      std::vector<ino_t> seen;
      Walk(root, rules.ComponentRootsBelow(root), tallies.back().get(), &seen);
      views.push_back(tallies.back().get());
    }
    return rules.Evaluate(views, at);
  }

  // What `find <args>` lists (count) and what du reports for that list
  // (allocated bytes, hard links once; directories with their contents).
  static std::pair<uint64_t, uint64_t> FindDu(const std::string& find_args) {
    const std::string count_cmd = "find " + find_args + " | wc -l";
    const std::string du_cmd = "find " + find_args +
                               " -print0 | du -c -s --block-size=1 "
                               "--files0-from=- | tail -n 1 | cut -f1";
    return {Run(count_cmd), Run(du_cmd)};
  }
  static uint64_t Run(const std::string& cmd) {
    const std::string out = testutil::Run(cmd);
    return out.empty() ? ~uint64_t{0} : std::strtoull(out.c_str(), nullptr, 10);
  }

  const testutil::TempDir tmp_;
  const std::string root_ = tmp_.path();
  double now_ = 0;
};

TEST_F(ReclaimTest, EveryDefaultRuleEqualsFindAndDu) {
  // WAL segments either side of 7 days (far from find's whole-day rounding).
  File("data/wal/segment-001.log", 300000, 12);
  File("data/wal/segment-002.log", 70000, 9.5);
  File("data/wal/segment-003.log", 65536, 3);
  File("data/wal/segment-004.log", 10, 0.1);
  File("data/wal/notes.txt", 5000, 30);        // not *.log
  File("data/wal/archive/old.log", 8192, 20);  // find descends: counted
  // Backup sets: directories, counted with everything inside.
  File("backups/stemedb-backup-20260101/db.kv", 200000, 40);
  File("backups/stemedb-backup-20260101/wal/seg.log", 50000, 40);
  Dir("backups/stemedb-backup-20260101/wal", 40);
  Dir("backups/stemedb-backup-20260101", 45);
  File("backups/stemedb-backup-20261120/db.kv", 120000, 2);
  Dir("backups/stemedb-backup-20261120", 2);
  File("backups/unrelated.tar", 4096, 90);
  // §4: temporary and empty files under data/, db and tmp included.
  File("data/db/shard-1.kv", 100000, 1);
  File("data/db/compact.tmp", 40000, 0.01);
  File("data/db/empty.kv", 0, 5);
  File("data/tmp/upload.tmp", 0, 3);   // both rules
  File("data/stray.tmp", 12345, 400);  // in data/ itself, no component
  File("data/empty-marker", 0, 1);
  // Hard link: find lists both names, du counts the inode once.
  ASSERT_EQ(link((root_ + "/data/db/compact.tmp").c_str(),
                 (root_ + "/data/db/compact-link.tmp").c_str()),
            0);
  // Journal and core dumps, outside the components.
  File("journal/abc/system@1.journal", 81920, 10);
  File("journal/abc/system.journal", 81920, 0);
  File("coredump/core.stemedb.1", 500000, 3);
  File("coredump/core.stemedb.2", 9000, 0.2);

  const Config config = Load(R"(
components:
  wal: {path: data/wal, segment_pattern: "*.log"}
  db: {path: data/db}
  backups: {path: backups, segment_pattern: "stemedb-backup-*"}
  logs: {path: logs, optional: true}
  tmp: {path: data/tmp, optional: true}
cleanup:
  rules:
    - {name: wal_beyond_retention, section: 1, component: wal, match: "*.log", older_than: 7d}
    - {name: backups_older_than_30d, section: 1, component: backups, match: "stemedb-backup-*", type: directory, older_than: 30d}
    - {name: journal_older_than_7d, section: 1, path: journal, match: "*.journal", older_than: 7d}
    - {name: coredumps_older_than_1d, section: 1, path: coredump, match: "core.*", older_than: 1d}
    - {name: tmp_files, section: 4, path: data, match: "*.tmp"}
    - {name: empty_files, section: 4, path: data, type: empty_file}
)");
  const Rules rules(config);
  const std::vector<Reading> got = Measure(config, rules, now_);
  const std::string r = root_;
  const std::pair<uint64_t, uint64_t> want[] = {
      FindDu(r + "/data/wal -name '*.log' -type f -mmin +10080"),
      // Top-level matches only (nothing matches inside a set).
      FindDu(r + "/backups -name 'stemedb-backup-*' -type d -mmin +43200"),
      FindDu(r + "/journal -name '*.journal' -type f -mmin +10080"),
      FindDu(r + "/coredump -name 'core.*' -type f -mmin +1440"),
      FindDu(r + "/data -name '*.tmp' -type f"),
      FindDu(r + "/data -type f -empty"),
  };
  ASSERT_EQ(got.size(), std::size(want));
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE(config.cleanup.rules[i].name);
    EXPECT_EQ(got[i].entries, want[i].first);
    EXPECT_EQ(got[i].bytes, want[i].second);
  }
  // The figures themselves, so an empty tree cannot pass.
  EXPECT_EQ(got[0].entries, 3u);  // 001, 002, archive/old.log
  EXPECT_EQ(got[1].entries, 1u);
  EXPECT_EQ(got[4].entries, 4u);  // compact, its link, upload, stray
  EXPECT_EQ(got[5].entries, 3u);  // empty.kv, upload.tmp, empty-marker
  ASSERT_TRUE(got[0].oldest_mtime.has_value());
  EXPECT_NEAR(*got[0].oldest_mtime, now_ - 20 * kDay, 1.0);
}

// A file hard-linked across components (or a component and data/ itself)
// is walked once per walk root, each with its own set of links seen, so
// each root sees its first sighting: a rule spanning the roots still counts
// the inode once, as du does for the names find lists, whichever name (a
// match or not) each root met first.
TEST_F(ReclaimTest, HardLinkAcrossWalkRootsCountsOnce) {
  File("data/wal/a.tmp", 90000, 1);
  File("data/tmp/c.tmp", 30000, 1);
  File("data/stray.tmp", 12000, 1);
  File("data/db/plain.kv", 7000, 1);
  const std::pair<const char*, const char*> links[] = {
      {"data/wal/a.tmp", "data/db/b.tmp"},     // both names match
      {"data/wal/a.tmp", "data/tmp/a2.tmp"},   // a third name, a third root
      {"data/tmp/c.tmp", "data/db/0-c-link"},  // no match in db
      {"data/stray.tmp", "data/db/stray-link.tmp"},  // extra root and db
      {"data/db/plain.kv", "data/wal/plain.tmp"},    // matches in wal only
  };
  for (const auto& [from, to] : links) {
    ASSERT_EQ(link((root_ + "/" + from).c_str(), (root_ + "/" + to).c_str()), 0)
        << to;
  }
  const Config config = Load(R"(
components:
  wal: {path: data/wal, segment_pattern: "*.log"}
  db: {path: data/db}
  tmp: {path: data/tmp}
  backups: {path: backups, segment_pattern: "stemedb-backup-*", optional: true}
cleanup:
  rules:
    - {name: tmp_files, section: 4, path: data, match: "*.tmp"}
)");
  const Rules rules(config);
  const Reading got = Measure(config, rules, now_)[0];
  const auto want = FindDu(root_ + "/data -name '*.tmp' -type f");
  EXPECT_EQ(got.entries, want.first);
  EXPECT_EQ(got.bytes, want.second);
  EXPECT_EQ(got.entries, 7u);  // a, b, a2, c, stray, stray-link, plain
  // Every inode once: a (90000), c (30000), stray (12000), plain (7000).
  const auto all = FindDu(root_ + "/data -type f -name '*'");
  EXPECT_EQ(got.bytes, all.second);
}

// A WAL segment turning 7 days old moves into the count at the next
// evaluation: no file event, no new walk.
TEST_F(ReclaimTest, YoungEntryCrossesItsAgeWithoutAnEvent) {
  File("data/wal/segment-001.log", 4096, 8);
  File("data/wal/segment-002.log", 8192, 7 - 30.0 / kDay);  // 30 s to go
  File("data/wal/segment-003.log", 8192, 1);
  const Config config = Load(R"(
cleanup:
  rules:
    - {name: wal, component: wal, match: "*.log", older_than: 7d}
)");
  const Rules rules(config);
  const std::vector<Reading> before = Measure(config, rules, now_);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].entries, 1u);
  const auto one = FindDu(root_ + "/data/wal -name segment-001.log");
  EXPECT_EQ(before[0].bytes, one.second);

  // Same tallies, evaluated a minute later: segment-002 is now 7d old.
  Tally tally(&rules, now_);
  std::vector<ino_t> seen;
  const std::string wal = root_ + "/data/wal";
  Walk(wal, {}, &tally, &seen);
  const std::vector<Reading> later = rules.Evaluate({&tally}, now_ + 60);
  EXPECT_EQ(later[0].entries, 2u);
  const auto two = FindDu(wal + " -name 'segment-00[12].log'");
  EXPECT_EQ(later[0].bytes, two.second);
  EXPECT_EQ(rules.Evaluate({&tally}, now_)[0].entries, 1u);
}

// Directories tallied apart (watch mode re-scans one directory alone; walker
// threads share a walk): a backup set's own entry and its contents meet in
// Evaluate, aged by the set's mtime.
TEST_F(ReclaimTest, MatchedDirectoryAcrossTallies) {
  File("backups/stemedb-backup-1/wal/seg.log", 50000, 40);
  File("backups/stemedb-backup-1/db.kv", 7000, 40);
  Dir("backups/stemedb-backup-1/wal", 40);
  Dir("backups/stemedb-backup-1", 45);
  File("backups/stemedb-backup-2/db.kv", 7000, 3);
  Dir("backups/stemedb-backup-2", 3);
  const Config config = Load(R"(
cleanup:
  rules:
    - {name: sets, component: backups, match: "stemedb-backup-*", type: directory, older_than: 30d}
)");
  const Rules rules(config);
  std::vector<std::unique_ptr<Tally>> tallies;
  std::vector<const Tally*> views;
  for (const char* dir :
       {"backups/stemedb-backup-1/wal", "backups/stemedb-backup-1", "backups",
        "backups/stemedb-backup-2"}) {
    const std::string path = root_ + "/" + dir;
    tallies.push_back(std::make_unique<Tally>(&rules, now_));
    std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(path.c_str()), closedir);
    while (const dirent* e = readdir(d.get())) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st;
      ASSERT_EQ(lstat((path + "/" + name).c_str(), &st), 0);
      tallies.back()->Add(path, name, st, true);
    }
    views.push_back(tallies.back().get());
  }
  const Reading r = rules.Evaluate(views, now_)[0];
  EXPECT_EQ(r.entries, 1u);
  const auto want = FindDu(root_ +
                           "/backups -name 'stemedb-backup-*' -type d "
                           "-mmin +43200");
  EXPECT_EQ(want.first, 1u);
  EXPECT_EQ(r.bytes, want.second);
  ASSERT_TRUE(r.oldest_mtime.has_value());
  EXPECT_NEAR(*r.oldest_mtime, now_ - 45 * kDay, 1.0);
  // The second set turns 30 days old 27 days later.
  EXPECT_EQ(rules.Evaluate(views, now_ + 28 * kDay)[0].entries, 2u);
}

// The memory bound docs/design.md states: nothing per entry that matches no
// rule or is already old; 16 bytes per young match (vector growth aside).
TEST_F(ReclaimTest, MemoryFollowsYoungMatchesOnly) {
  const Config config = Load(R"(
cleanup:
  rules:
    - {name: wal, component: wal, match: "*.log", older_than: 7d}
    - {name: tmp, path: data, match: "*.tmp"}
)");
  const Rules rules(config);
  Tally tally(&rules, now_);
  const std::string wal = root_ + "/data/wal";
  struct stat st {};
  st.st_mode = S_IFREG | 0644;
  st.st_blocks = 8;
  st.st_mtim.tv_sec = static_cast<time_t>(now_ - 30 * kDay);
  for (int i = 0; i < 100000; ++i) {
    tally.Add(wal, "data-" + std::to_string(i) + ".kv", st, true);  // no rule
    tally.Add(wal, "old-" + std::to_string(i) + ".log", st, true);  // old
    tally.Add(wal, "x-" + std::to_string(i) + ".tmp", st, true);    // age 0s
  }
  const size_t base = tally.MemoryBytes();
  EXPECT_LT(base, 1024u);
  st.st_mtim.tv_sec = static_cast<time_t>(now_ - kDay);
  for (int i = 0; i < 1000; ++i) {
    tally.Add(wal, "young-" + std::to_string(i) + ".log", st, true);
  }
  EXPECT_LE(tally.MemoryBytes() - base, 2 * 1000 * 16u);
  const Reading r = rules.Evaluate({&tally}, now_)[0];
  EXPECT_EQ(r.entries, 100000u);
  EXPECT_EQ(rules.Evaluate({&tally}, now_ + 7 * kDay)[0].entries, 101000u);
}

// The watcher's per-name updates take an entry back with the stat it was
// added with: young or old, the readings return to what they were without
// it; what cannot be undone exactly (the oldest old entry, a matched
// directory) says so.
TEST_F(ReclaimTest, RemoveTakesBackWhatAddAdded) {
  const Config config = Load(R"(
cleanup:
  rules:
    - {name: wal, component: wal, match: "*.log", older_than: 7d}
    - {name: sets, component: backups, match: "stemedb-backup-*", type: directory}
)");
  const Rules rules(config);
  const std::string wal = root_ + "/data/wal";
  auto stat_at = [&](double days_old, int blocks) {
    struct stat st {};
    st.st_mode = S_IFREG | 0644;
    st.st_blocks = blocks;
    st.st_mtim.tv_sec = static_cast<time_t>(now_ - days_old * kDay);
    return st;
  };
  Tally tally(&rules, now_);
  const struct stat oldest = stat_at(30, 8), old = stat_at(20, 16),
                    young = stat_at(1, 24), other = stat_at(20, 32);
  tally.Add(wal, "a.log", oldest, true);
  tally.Add(wal, "b.log", old, true);
  const std::vector<Reading> before = rules.Evaluate({&tally}, now_ + 7 * kDay);
  tally.Add(wal, "c.log", young, true);
  tally.Add(wal, "d.kv", other, true);  // matches no rule
  EXPECT_TRUE(tally.Remove(wal, "c.log", young, true));
  EXPECT_TRUE(tally.Remove(wal, "d.kv", other, true));
  const std::vector<Reading> after = rules.Evaluate({&tally}, now_ + 7 * kDay);
  EXPECT_EQ(after[0].bytes, before[0].bytes);
  EXPECT_EQ(after[0].entries, before[0].entries);
  EXPECT_TRUE(tally.Remove(wal, "b.log", old, true));
  const Reading one = rules.Evaluate({&tally}, now_)[0];
  EXPECT_EQ(one.entries, 1u);
  EXPECT_EQ(one.bytes, 8u * 512);
  EXPECT_TRUE(tally.Remove(wal, "a.log", oldest, true));  // the last one
  EXPECT_EQ(rules.Evaluate({&tally}, now_)[0].entries, 0u);
  // The oldest goes, as a WAL's does at every roll: the next oldest is
  // known for the first kOldLows (8) entries, then no more.
  Tally many(&rules, now_);
  for (int i = 0; i < 12; ++i) {
    many.Add(wal, std::to_string(i) + ".log", stat_at(30 - i, 8), true);
  }
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(
        many.Remove(wal, std::to_string(i) + ".log", stat_at(30 - i, 8), true));
    const Reading r = rules.Evaluate({&many}, now_)[0];
    EXPECT_EQ(r.entries, 11u - i);
    EXPECT_EQ(r.oldest_mtime, now_ - (30 - i - 1) * kDay);
  }
  EXPECT_FALSE(many.Remove(wal, "7.log", stat_at(23, 8), true));
  // Never added.
  Tally empty(&rules, now_);
  EXPECT_FALSE(empty.Remove(wal, "e.log", old, true));
  struct stat set = stat_at(40, 8);
  set.st_mode = S_IFDIR | 0755;
  const std::string backups = root_ + "/backups";
  empty.Add(backups, "stemedb-backup-1", set, true);
  EXPECT_FALSE(empty.Remove(backups, "stemedb-backup-1", set, true));
}

TEST_F(ReclaimTest, ExtraRootsAreOutsideComponentsOutermostOnce) {
  const Config config = Load(R"(
cleanup:
  rules:
    - {name: a, path: data, match: "*.tmp"}
    - {name: b, path: data, type: empty_file}
    - {name: c, path: data/x, match: "*"}
    - {name: d, path: /var/log/journal, match: "*.journal"}
    - {name: e, component: wal, match: "*.log"}
    - {name: f, path: data/wal/archive, match: "*.log"}
)");
  const Rules rules(config);
  std::vector<std::string> roots = rules.ExtraRoots();
  std::sort(roots.begin(), roots.end());
  std::vector<std::string> want = {root_ + "/data", "/var/log/journal"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(roots, want);
  std::vector<std::string> below = rules.ComponentRootsBelow(root_ + "/data");
  std::sort(below.begin(), below.end());
  EXPECT_EQ(below,
            (std::vector<std::string>{root_ + "/data/db", root_ + "/data/tmp",
                                      root_ + "/data/wal"}));
  EXPECT_TRUE(rules.Overlaps(0, root_ + "/data/wal"));
  EXPECT_FALSE(rules.Overlaps(3, root_ + "/data"));
}

}  // namespace
}  // namespace stemedb::reclaim
