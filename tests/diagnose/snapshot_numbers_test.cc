// The exporter side of diagnose: a snapshot becomes the diagnosis' numbers
// (paths, filesystems, rules and the filesystem each rule frees), and the
// router serves it at /diagnose as JSON the client reads back.
#include "stemedb/diagnose/snapshot_numbers.h"

#include <gtest/gtest.h>

#include "stemedb/diagnose/render.h"
#include "stemedb/http/engine_view.h"
#include "stemedb/http/router.h"

namespace stemedb::exporter {
namespace {

FilesystemState Fs(const std::string& mountpoint, uint64_t size,
                   uint64_t avail) {
  FilesystemState fs;
  fs.mount.mountpoint = mountpoint;
  fs.mount.device = "/dev/x";
  fs.mount.fstype = "ext4";
  fs.stat_success = fs.have_capacity = true;
  fs.capacity.size_bytes = size;
  fs.capacity.free_bytes = fs.capacity.avail_bytes = avail;
  fs.capacity.files = 100;
  fs.capacity.files_free = 50;
  return fs;
}

TEST(DiagnoseNumbersTest, SnapshotToNumbers) {
  Config config = DefaultConfig("/data");
  Snapshot s;
  s.filesystems = {Fs("/", 1000, 900), Fs("/data", 1000, 10)};
  for (const auto& c : config.components) {
    ComponentState st;
    st.name = c.name;
    st.attempted = st.have_stats = st.last_success = true;
    st.stats.present = st.stats.complete = true;
    st.stats.allocated_bytes = c.name == "wal" ? 700 : 10;
    s.components.push_back(st);
    s.links.push_back({c.name, "/data", "/dev/x"});
  }
  s.components[1].have_stats = false;  // db: not walked yet
  const auto n = NumbersFromSnapshot(s, config, "exporter", 1e9);
  EXPECT_EQ(n.source, "exporter");
  EXPECT_EQ(n.root, "/data");
  ASSERT_EQ(n.filesystems.size(), 2u);
  EXPECT_EQ(n.filesystems[1].avail_bytes, 10u);
  ASSERT_EQ(n.components.size(), config.components.size());
  EXPECT_EQ(n.components[0].path, "/data/data/wal");
  EXPECT_EQ(n.components[0].mountpoint, "/data");
  EXPECT_EQ(n.components[0].allocated_bytes, 700u);
  EXPECT_FALSE(n.components[1].present);
  ASSERT_EQ(n.notes.size(), 1u);
  EXPECT_NE(n.notes[0].find("db"), std::string::npos) << n.notes[0];
  // Rules: config order, commands with this node's paths, and the
  // filesystem each frees (a component's, or the deepest one above).
  ASSERT_EQ(n.rules.size(), config.cleanup.rules.size());
  for (size_t i = 0; i < n.rules.size(); ++i) {
    const auto& want = config.cleanup.rules[i];
    const auto& got = n.rules[i];
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.section, std::to_string(want.section));
    EXPECT_EQ(got.command, want.resolved_command);
    EXPECT_EQ(got.path, want.resolved_path);
    const bool on_data = want.resolved_path.rfind("/data/", 0) == 0 ||
                         want.resolved_path == "/data";
    EXPECT_EQ(got.mountpoint, on_data ? "/data" : "/") << got.name;
  }
  EXPECT_EQ(n.rules[0].command,
            "find /data/data/wal -name \"*.log\" -mtime +7 -delete");
}

// The filesystem's own flags, as the exporter exports them: a writable
// disk seen through a read-only view is not read-only; a statvfs that did
// not answer in time leaves its older numbers.
TEST(DiagnoseNumbersTest, FilesystemFlagsAreTheExportedOnes) {
  const Config config = DefaultConfig("/data");
  Snapshot s;
  s.filesystems = {Fs("/data", 1000, 10), Fs("/ro", 1000, 10)};
  s.filesystems[0].capacity.readonly = true;  // ST_RDONLY of the view
  s.filesystems[0].stat_success = false;
  s.filesystems[1].mount.readonly = true;  // the superblock's "ro"
  const auto n = NumbersFromSnapshot(s, config, "exporter", 1e9);
  ASSERT_EQ(n.filesystems.size(), 2u);
  EXPECT_FALSE(n.filesystems[0].readonly);
  EXPECT_FALSE(n.filesystems[0].stat_success);
  EXPECT_TRUE(n.filesystems[0].have_capacity);
  EXPECT_TRUE(n.filesystems[1].readonly);
  EXPECT_TRUE(n.filesystems[1].stat_success);
}

TEST(DiagnoseNumbersTest, TopListsFromRecordsAcrossComponents) {
  auto records = [](const std::string& root, uint64_t base) {
    auto list = std::make_shared<std::vector<measure::DirectoryRecord>>();
    for (uint64_t i = 0; i < 15; ++i) {
      measure::DirectoryRecord d;
      d.path = root + "/d" + std::to_string(i);
      d.cumulative.allocated_bytes = base + i;
      d.direct.files = i;  // d0 is empty: never among "most entries"
      list->push_back(d);
    }
    measure::ComponentStats stats;
    stats.present = stats.complete = true;
    stats.directory_list = list;
    return stats;
  };
  EXPECT_EQ(TopDirectoriesOf(measure::ComponentStats{}), nullptr);
  Config config = DefaultConfig("/data");
  Snapshot s;
  for (const auto& c : config.components) {
    ComponentState st;
    st.name = c.name;
    st.have_stats = st.last_success = true;
    st.stats.present = st.stats.complete = true;
    s.components.push_back(st);
  }
  s.components[0].top_directories =
      TopDirectoriesOf(records("/data/data/wal", 1000));
  s.components[1].top_directories =
      TopDirectoriesOf(records("/data/data/db", 0));
  const auto n = NumbersFromSnapshot(s, config, "walk", 1e9);
  EXPECT_TRUE(n.directories_measured);
  ASSERT_EQ(n.largest_directories.size(), diagnose::kTopDirectories);
  // All 15 of wal (1000..1014), then db's largest five (10..14).
  EXPECT_EQ(n.largest_directories[0].path, "/data/data/wal/d14");
  EXPECT_EQ(n.largest_directories[0].value, 1014u);
  EXPECT_EQ(n.largest_directories[19].path, "/data/data/db/d10");
  ASSERT_EQ(n.most_entries.size(), diagnose::kTopDirectories);
  EXPECT_EQ(n.most_entries[0].path, "/data/data/db/d14");  // tie: by path
  EXPECT_EQ(n.most_entries[1].path, "/data/data/wal/d14");
  // The other components were walked without records: said so.
  ASSERT_FALSE(n.notes.empty());
  EXPECT_NE(n.notes.back().find("directory lists"), std::string::npos);
}

HttpRequest Request(std::string_view method, std::string_view target) {
  HttpRequest r;
  r.method = method;
  r.target = target;
  r.host = "localhost:9180";
  return r;
}

TEST(DiagnoseNumbersTest, RouterServesTheDiagnosisAsJson) {
  Exporter exporter(DefaultConfig("/nonexistent-root"), nullptr);
  EngineView view(&exporter);
  Router router("/metrics", &view);
  HttpReply r = router.Route(Request("GET", "/diagnose?x=1"), AuthResult::kOk);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  diagnose::Numbers n;
  diagnose::Limits l;
  auto err = diagnose::ParseJson(*r.body, &n, &l);
  ASSERT_FALSE(err) << err->ToString();
  EXPECT_EQ(n.source, "exporter");
  EXPECT_EQ(n.root, "/nonexistent-root");
  // Not walked yet: the verdict cannot be known.
  EXPECT_EQ(diagnose::Diagnose(n, l).status, diagnose::Status::kUnknown);
  // Auth and methods as for every path.
  EXPECT_EQ(
      router.Route(Request("GET", "/diagnose"), AuthResult::kDenied).status,
      401);
  EXPECT_EQ(router.Route(Request("POST", "/diagnose"), AuthResult::kOk).status,
            405);
  EXPECT_TRUE(
      router.Route(Request("HEAD", "/diagnose"), AuthResult::kOk).head_only);
}

}  // namespace
}  // namespace stemedb::exporter
