// Mount table parsing and lookup on fixture text; capacity against a real
// tmpfs this test mounts (in a child's private mount namespace) and fills.
#include "stemedb/measure/filesystems.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>

#include "test_util.h"

namespace stemedb::measure {
namespace {

using namespace std::chrono_literals;
using testutil::Num;
using testutil::U64;

constexpr char kMountInfo[] =
    "22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs "
    "rw\n"
    "28 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 "
    "rw,errors=remount-ro\n"
    // A bind mount of /data from the root device, with two optional fields
    // and an escaped space in the mount point.
    "40 28 253:1 /data /srv/my\\040data rw,relatime shared:1 master:3 - ext4 "
    "/dev/vda1 rw\n"
    "41 40 0:45 / /srv/my\\040data/cache ro,relatime - tmpfs tmpfs "
    "rw,size=1024k\n"
    "42 28 253:2 / /mnt/t\\011ab\\012nl\\134bs rw,noatime - xfs "
    "/dev/mapper/vg-lv\\040x ro,noquota\n"
    "bad line\n"
    "44 28 x:y / /bad rw - ext4 /dev/x rw\n"
    "45 28 0:51 / /nodash rw shared:1 ext4 /dev/x rw\n"
    "\n"
    "46 28 0:52 / /srv/my\\040database rw - nfs4 server:/export rw";

TEST(ParseMountInfoTest, ParsesFieldsEscapesOptionalFieldsAndReadonly) {
  std::vector<Mount> m = ParseMountInfo(kMountInfo);
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m[0].mountpoint, "/sys");
  EXPECT_EQ(m[0].fstype, "sysfs");
  EXPECT_EQ(m[0].device_id, makedev(0, 20));

  EXPECT_EQ(m[1].mountpoint, "/");
  EXPECT_EQ(m[1].device, "/dev/vda1");
  EXPECT_EQ(m[1].fstype, "ext4");
  EXPECT_EQ(m[1].device_id, makedev(253, 1));
  EXPECT_FALSE(m[1].readonly);  // "remount-ro" in superoptions is not "ro"

  EXPECT_EQ(m[2].mountpoint, "/srv/my data");
  EXPECT_EQ(m[2].root, "/data");  // a bind mount of a part of the device
  EXPECT_EQ(m[1].root, "/");
  EXPECT_EQ(m[2].device, "/dev/vda1");
  EXPECT_EQ(m[2].fstype, "ext4");

  EXPECT_EQ(m[3].mountpoint, "/srv/my data/cache");
  // A read-only mount of a writable filesystem: still filling up.
  EXPECT_FALSE(m[3].readonly);
  EXPECT_EQ(m[3].fstype, "tmpfs");
  EXPECT_EQ(m[3].device, "tmpfs");

  EXPECT_EQ(m[4].mountpoint, "/mnt/t\tab\nnl\\bs");
  EXPECT_EQ(m[4].device, "/dev/mapper/vg-lv x");
  EXPECT_EQ(m[4].device_id, makedev(253, 2));
  EXPECT_TRUE(m[4].readonly);  // the filesystem itself is read-only

  EXPECT_EQ(m[5].mountpoint, "/srv/my database");
  EXPECT_EQ(m[5].device, "server:/export");
  EXPECT_EQ(m[5].fstype, "nfs4");
}

TEST(ParseMountInfoTest, EmptyAndGarbageGiveNothing) {
  EXPECT_TRUE(ParseMountInfo("").empty());
  EXPECT_TRUE(ParseMountInfo("\n\n  \nnot a mount table\n").empty());
}

class FindMountTest : public ::testing::Test {
 protected:
  std::vector<Mount> table_ = ParseMountInfo(kMountInfo);
  const dev_t root_dev_ = makedev(253, 1);
  const dev_t cache_dev_ = makedev(0, 45);

  std::string Find(std::string_view path, dev_t dev) {
    std::optional<Mount> m = FindMount(table_, path, dev);
    return m ? m->mountpoint : "<none>";
  }
};

TEST_F(FindMountTest, PicksTheLongestAncestorOnTheSameDevice) {
  EXPECT_EQ(Find("/srv/my data/wal", root_dev_), "/srv/my data");
  EXPECT_EQ(Find("/srv/my data", root_dev_), "/srv/my data");
  EXPECT_EQ(Find("/srv/my data/", root_dev_), "/srv/my data");
  EXPECT_EQ(Find("/srv/my data/cache/x", cache_dev_), "/srv/my data/cache");
  EXPECT_EQ(Find("/srv/my database/x", makedev(0, 52)), "/srv/my database");
}

TEST_F(FindMountTest, BindMountOfTheSameDeviceResolvesByDevice) {
  // The root device is mounted at "/" and bound at "/srv/my data": a path
  // under the bind resolves to it, anything else to "/".
  EXPECT_EQ(Find("/var/lib/stemedb", root_dev_), "/");
  EXPECT_EQ(Find("/srv/my data/db", root_dev_), "/srv/my data");
  // Below the tmpfs but on the root device (e.g. seen through an older
  // mount): the nearest ancestor with that device wins over the tmpfs.
  EXPECT_EQ(Find("/srv/my data/cache/x", root_dev_), "/srv/my data");
}

TEST_F(FindMountTest, AncestryIsByComponentNotByPrefix) {
  EXPECT_EQ(Find("/srv/my datab", root_dev_), "/");
  EXPECT_EQ(Find("/system", makedev(0, 20)), "/");
  EXPECT_EQ(Find("/sys/kernel", makedev(0, 20)), "/sys");
  EXPECT_EQ(Find("/system", root_dev_), "/");
}

TEST_F(FindMountTest, RootAndFallbacks) {
  EXPECT_EQ(Find("/", root_dev_), "/");
  EXPECT_EQ(Find("//", root_dev_), "/");
  EXPECT_EQ(Find("/srv/./my data/../my data/cache", cache_dev_),
            "/srv/my data/cache");
  // No mount with that device: the longest ancestor.
  EXPECT_EQ(Find("/srv/my data/cache/y", makedev(9, 9)), "/srv/my data/cache");
  EXPECT_FALSE(FindMount({}, "/x", root_dev_).has_value());
}

TEST_F(FindMountTest, StackedMountsPreferTheLastOne) {
  std::vector<Mount> table = ParseMountInfo(
      "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "2 1 0:40 / /data rw - tmpfs first rw\n"
      "3 2 0:41 / /data rw - tmpfs second rw\n");
  std::optional<Mount> m = FindMount(table, "/data/x", makedev(9, 9));
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->device, "second");
}

TEST(MountsBelowTest, OnlyStrictlyBelow) {
  std::vector<Mount> table = ParseMountInfo(kMountInfo);
  auto names = [](const std::vector<Mount>& mounts) {
    std::vector<std::string> out;
    for (const Mount& m : mounts) out.push_back(m.mountpoint);
    return out;
  };
  EXPECT_EQ(names(MountsBelow(table, "/srv")),
            (std::vector<std::string>{"/srv/my data", "/srv/my data/cache",
                                      "/srv/my database"}));
  EXPECT_EQ(names(MountsBelow(table, "/srv/my data")),
            (std::vector<std::string>{"/srv/my data/cache"}));
  EXPECT_EQ(names(MountsBelow(table, "/srv/my data/cache")),
            std::vector<std::string>{});
  EXPECT_EQ(MountsBelow(table, "/").size(), table.size() - 1);
}

// A tmpfs with a size and an inode limit, probed, filled until ENOSPC, and
// filled with empty files until the inodes run out.
TEST(ChooseMountsTest, BindMountsNameTheFilesystemByItsOwnMount) {
  // /data is the filesystem's own mount; /srv/wal a bind mount of its
  // subdirectory; /data/backups another filesystem.
  const std::vector<Mount> table = ParseMountInfo(
      "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "2 1 8:2 / /data rw - xfs /dev/sdb1 rw\n"
      "3 1 8:2 /wal /srv/wal rw - xfs /dev/sdb1 rw\n"
      "4 2 8:3 / /data/backups rw - ext4 /dev/sdc1 rw\n");
  const dev_t data = makedev(8, 2);
  const std::vector<MountWant> wants = {
      {"wal", "/srv/wal", data, false},
      {"db", "/data/db", 0, false},
      {"gone", "/data/gone", 0, true},
  };
  MountChoice one = ChooseMounts(table, wants, /*one_filesystem=*/true);
  ASSERT_EQ(one.by_device.size(), 1u);
  EXPECT_EQ(one.by_device.at(data).mountpoint, "/data");
  using Link = std::pair<std::string, dev_t>;
  EXPECT_EQ(one.component_devices,
            (std::vector<Link>{{"wal", data}, {"db", data}}));

  // Walking across mounts reports the one below /data too, unlinked.
  const std::vector<MountWant> root_want = {{"all", "/data", data, false}};
  MountChoice all = ChooseMounts(table, root_want, /*one_filesystem=*/false);
  ASSERT_EQ(all.by_device.size(), 2u);
  EXPECT_EQ(all.by_device.at(makedev(8, 3)).mountpoint, "/data/backups");
  EXPECT_EQ(all.component_devices, (std::vector<Link>{{"all", data}}));
}

TEST(CapacityProberTest, RealTmpfsSizeAndExhaustion) {
  testutil::TempDir tmp;
  const std::string mnt = tmp / "mnt";
  testutil::MakeDir(mnt);

  auto r = testutil::RunInChild([&]() -> std::map<std::string, std::string> {
    std::map<std::string, std::string> out;
    std::string err = testutil::EnterPrivateMountNamespace();
    if (!err.empty()) return {{"error", err}};
    if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m,nr_inodes=64") != 0) {
      return {{"error", std::string("mount: ") + std::strerror(errno)}};
    }
    // The mount table finds it by its device.
    struct stat st;
    if (stat(mnt.c_str(), &st) != 0) return {{"error", "stat mnt"}};
    std::optional<Mount> m = FindMount(ReadMountTable(), mnt, st.st_dev);
    out["table_fstype"] = m ? m->fstype : "none";
    out["table_is_mnt"] = Num(m && m->mountpoint == mnt);

    CapacityProber prober;
    auto record = [&](const std::string& prefix) {
      std::optional<Capacity> c = prober.Probe(mnt, 10s);
      out[prefix + "ok"] = Num(c.has_value());
      if (!c) return;
      out[prefix + "size"] = Num(c->size_bytes);
      out[prefix + "free"] = Num(c->free_bytes);
      out[prefix + "avail"] = Num(c->avail_bytes);
      out[prefix + "files"] = Num(c->files);
      out[prefix + "files_free"] = Num(c->files_free);
      out[prefix + "readonly"] = Num(c->readonly);
    };
    record("empty_");

    int fd = open((mnt + "/fill").c_str(), O_WRONLY | O_CREAT, 0644);
    if (fd < 0) return {{"error", "create fill"}};
    std::string chunk(64 * 1024, 'z');
    int write_errno = 0;
    for (;;) {
      if (write(fd, chunk.data(), chunk.size()) < 0) {
        write_errno = errno;
        break;
      }
    }
    close(fd);
    out["write_enospc"] = Num(write_errno == ENOSPC);
    record("full_");

    int create_errno = 0;
    for (int i = 0; i < 1000; ++i) {
      std::string name = mnt + "/empty" + std::to_string(i);
      int f = open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
      if (f < 0) {
        create_errno = errno;
        break;
      }
      close(f);
    }
    out["create_enospc"] = Num(create_errno == ENOSPC);
    record("noinodes_");

    if (mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) !=
        0) {
      return {{"error", std::string("remount ro: ") + std::strerror(errno)}};
    }
    record("ro_");
    std::optional<Mount> ro = FindMount(ReadMountTable(), mnt, st.st_dev);
    out["table_readonly"] = Num(ro && ro->readonly);
    out["in_flight"] = Num(static_cast<uint64_t>(prober.InFlight()));
    return out;
  });
  EXPECT_EQ(r.count("child_failed"), 0u) << r["child_failed"];
  ASSERT_EQ(r.count("error"), 0u) << r["error"];

  EXPECT_EQ(r["table_fstype"], "tmpfs");
  EXPECT_EQ(U64(r, "table_is_mnt"), 1u);

  ASSERT_EQ(U64(r, "empty_ok"), 1u);
  EXPECT_EQ(U64(r, "empty_size"), 1u << 20);  // size=1m
  EXPECT_EQ(U64(r, "empty_avail"), 1u << 20);
  EXPECT_EQ(U64(r, "empty_free"), 1u << 20);
  EXPECT_EQ(U64(r, "empty_files"), 64u);       // nr_inodes=64
  EXPECT_EQ(U64(r, "empty_files_free"), 63u);  // the root directory's inode
  EXPECT_EQ(U64(r, "empty_readonly"), 0u);

  EXPECT_EQ(U64(r, "write_enospc"), 1u);
  ASSERT_EQ(U64(r, "full_ok"), 1u);
  EXPECT_EQ(U64(r, "full_avail"), 0u);
  EXPECT_EQ(U64(r, "full_free"), 0u);
  EXPECT_EQ(U64(r, "full_size"), 1u << 20);
  EXPECT_EQ(U64(r, "full_files_free"), 62u);  // root and the fill file

  EXPECT_EQ(U64(r, "create_enospc"), 1u);
  ASSERT_EQ(U64(r, "noinodes_ok"), 1u);
  EXPECT_EQ(U64(r, "noinodes_files_free"), 0u);
  EXPECT_EQ(U64(r, "noinodes_files"), 64u);

  ASSERT_EQ(U64(r, "ro_ok"), 1u);
  EXPECT_EQ(U64(r, "ro_readonly"), 1u);
  EXPECT_EQ(U64(r, "table_readonly"), 1u);
  EXPECT_EQ(U64(r, "in_flight"), 0u);
}

TEST(CapacityProberTest, FailedStatvfsIsNullopt) {
  CapacityProber prober;
  EXPECT_FALSE(prober.Probe("/does/not/exist/at/all", 10s).has_value());
  EXPECT_EQ(prober.InFlight(), 0);
}

// A statvfs that hangs on one path until the test opens the gate, like a
// hard NFS mount whose server went away. Global and never destroyed: probe
// threads may touch it after the test that started them has ended.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;         // guarded by mu
  int entered = 0;           // guarded by mu
  std::string blocked_path;  // guarded by mu; unique per test
  int finished = 0;          // guarded by mu; probes of blocked_path done
};
Gate& TheGate() {
  static Gate* gate = new Gate;
  return *gate;
}

int HangingStatvfs(const char* path, struct statvfs* out) {
  Gate& g = TheGate();
  std::unique_lock lock(g.mu);
  if (path == g.blocked_path) {
    ++g.entered;
    g.cv.notify_all();
    g.cv.wait(lock, [&] { return g.open; });
  }
  lock.unlock();
  return ::statvfs(path, out);
}

void CountFinished(const std::string& mountpoint) {
  Gate& g = TheGate();
  std::lock_guard lock(g.mu);
  if (mountpoint != g.blocked_path) return;  // a probe of an earlier test
  ++g.finished;
  g.cv.notify_all();
}

class HangingProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    {
      std::lock_guard lock(gate_.mu);
      gate_.open = false;
      gate_.entered = 0;
      gate_.finished = 0;
      gate_.blocked_path = blocked_.path();
    }
  }
  void TearDown() override {
    OpenGate();
    WaitFinished(started_);  // no probe of the blocked path outlives the test
  }
  // A prober whose probes hang on the blocked path and report finishing.
  static CapacityProberOptions Hanging() {
    CapacityProberOptions options;
    options.statvfs_function = &HangingStatvfs;
    options.probe_finished = &CountFinished;
    return options;
  }
  void OpenGate() {
    std::lock_guard lock(gate_.mu);
    gate_.open = true;
    gate_.cv.notify_all();
  }
  void WaitEntered(int n) {
    std::unique_lock lock(gate_.mu);
    gate_.cv.wait(lock, [&] { return gate_.entered >= n; });
  }
  void WaitFinished(int n) {
    std::unique_lock lock(gate_.mu);
    gate_.cv.wait(lock, [&] { return gate_.finished >= n; });
  }

  testutil::TempDir blocked_;
  Gate& gate_ = TheGate();
  int started_ = 0;  // probes of the blocked path that started a thread
};

TEST_F(HangingProbeTest, TimesOutDoesNotPileUpAndRecovers) {
  CapacityProber prober(Hanging());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(prober.Probe(blocked_.path(), 200ms).has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);
  ++started_;
  WaitEntered(1);
  EXPECT_EQ(prober.InFlight(), 1);

  // Stuck: a second probe of the same mountpoint returns at once without a
  // new thread, however long it was allowed to wait.
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_FALSE(prober.Probe(blocked_.path(), 60s).has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 30s);
  EXPECT_EQ(prober.InFlight(), 1);

  // Another mountpoint is unaffected.
  std::optional<Capacity> other = prober.Probe("/", 10s);
  ASSERT_TRUE(other.has_value());
  EXPECT_GT(other->size_bytes, 0u);
  EXPECT_EQ(prober.InFlight(), 1);

  OpenGate();
  WaitFinished(1);
  EXPECT_EQ(prober.InFlight(), 0);
  {
    std::lock_guard lock(gate_.mu);
    EXPECT_EQ(gate_.entered, 1);  // the refused probe never called statvfs
  }
  ++started_;
  std::optional<Capacity> later = prober.Probe(blocked_.path(), 10s);
  ASSERT_TRUE(later.has_value());
  EXPECT_GT(later->size_bytes, 0u);
}

TEST_F(HangingProbeTest, DestroyingTheProberDoesNotWaitForAStuckProbe) {
  {
    CapacityProber prober(Hanging());
    EXPECT_FALSE(prober.Probe(blocked_.path(), 50ms).has_value());
    ++started_;
    WaitEntered(1);
  }  // returns with the probe still stuck
  OpenGate();
  WaitFinished(1);  // the detached thread finishes cleanly on shared state
}

}  // namespace
}  // namespace stemedb::measure
