// The scanner against trees this test writes: counts computed from what was
// written, bytes checked against du.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "stemedb/measure/walk.h"
#include "test_util.h"

namespace stemedb::measure {
namespace {

using testutil::AllocatedSize;
using testutil::ApparentSize;
using testutil::Du;
using testutil::MakeDir;
using testutil::Num;
using testutil::RunInChild;
using testutil::TempDir;
using testutil::U64;
using testutil::WriteFile;

uint64_t Errors(const ComponentStats& s, ErrorReason reason) {
  return s.errors[static_cast<int>(reason)];
}

uint64_t AllErrors(const ComponentStats& s) {
  uint64_t sum = 0;
  for (uint64_t e : s.errors) sum += e;
  return sum;
}

ComponentStats ScanOne(const std::string& path, const std::string& pattern = "",
                       const WalkOptions& options = WalkOptions()) {
  std::vector<ComponentStats> out =
      ScanComponents({ComponentSpec{"c", path, pattern}}, options);
  EXPECT_EQ(out.size(), 1u);
  return out.at(0);
}

void ExpectChildOk(const std::map<std::string, std::string>& r) {
  EXPECT_EQ(r.count("child_failed"), 0u) << r.at("child_failed");
  EXPECT_EQ(r.count("error"), 0u) << r.at("error");
}

void SetMtime(const std::string& path, time_t sec, long nsec) {
  struct timespec times[2] = {{sec, nsec}, {sec, nsec}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0)
      << path << ": " << std::strerror(errno);
}

TEST(ReasonNameTest, NamesEveryReason) {
  EXPECT_EQ(ReasonName(ErrorReason::kPermission), "permission");
  EXPECT_EQ(ReasonName(ErrorReason::kVanished), "vanished");
  EXPECT_EQ(ReasonName(ErrorReason::kLoop), "loop");
  EXPECT_EQ(ReasonName(ErrorReason::kTimeout), "timeout");
  EXPECT_EQ(ReasonName(ErrorReason::kOther), "other");
}

TEST(ScannerTest, CountsWhatWasWrittenAndAgreesWithDu) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  std::vector<std::string> dirs = {comp};
  uint64_t files = 0, apparent = 0;
  MakeDir(comp);
  const size_t sizes[] = {0, 1, 100, 4095, 4096, 4097, 65536, 200000};
  // Enough directories that both workers get some.
  for (int d = 0; d < 40; ++d) {
    std::string dir = comp + "/d" + std::to_string(d);
    MakeDir(dir);
    dirs.push_back(dir);
    std::string sub = dir + "/sub";
    MakeDir(sub);
    dirs.push_back(sub);
    for (size_t i = 0; i < std::size(sizes); ++i) {
      const size_t size = sizes[i] + static_cast<size_t>(d);
      WriteFile((i % 2 ? dir : sub) + "/f" + std::to_string(i), size);
      ++files;
      apparent += size;
    }
  }
  // A sparse file: apparent far above allocated, which tells the two apart.
  {
    const std::string sparse = comp + "/sparse";
    int fd = open(sparse.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, 10 << 20), 0);
    ASSERT_EQ(pwrite(fd, "x", 1, 5 << 20), 1);
    close(fd);
    ++files;
    apparent += 10 << 20;
  }
  for (const std::string& d : dirs) apparent += ApparentSize(d);

  for (int threads : {1, 2, 4}) {
    WalkOptions options;
    options.threads = threads;
    ComponentStats s = ScanOne(comp, "", options);
    SCOPED_TRACE("threads=" + std::to_string(threads));
    EXPECT_EQ(s.name, "c");
    EXPECT_TRUE(s.present);
    EXPECT_TRUE(s.complete);
    EXPECT_FALSE(s.has_segments);
    EXPECT_EQ(s.files, files);
    EXPECT_EQ(s.directories, dirs.size());
    EXPECT_EQ(s.apparent_bytes, apparent);
    EXPECT_EQ(s.apparent_bytes, Du(comp, /*apparent=*/true));
    EXPECT_EQ(s.allocated_bytes, Du(comp, /*apparent=*/false));
    EXPECT_LT(s.allocated_bytes, s.apparent_bytes);  // the sparse file
    EXPECT_EQ(AllErrors(s), 0u);
    struct stat st;
    ASSERT_EQ(stat(comp.c_str(), &st), 0);
    EXPECT_EQ(s.device, st.st_dev);
    EXPECT_GE(s.duration_seconds, 0);
  }
}

TEST(ScannerTest, HardLinksCountOnceInBytesAndEveryTimeInFiles) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  MakeDir(comp + "/x");
  MakeDir(comp + "/y");
  WriteFile(comp + "/x/big", 300000);
  ASSERT_EQ(link((comp + "/x/big").c_str(), (comp + "/y/big2").c_str()), 0);
  ASSERT_EQ(link((comp + "/x/big").c_str(), (comp + "/big3").c_str()), 0);
  WriteFile(comp + "/small", 10);

  ComponentStats s = ScanOne(comp);
  EXPECT_EQ(s.files, 4u);
  EXPECT_EQ(s.directories, 3u);
  EXPECT_EQ(s.apparent_bytes, 300000 + 10 + ApparentSize(comp) +
                                  ApparentSize(comp + "/x") +
                                  ApparentSize(comp + "/y"));
  EXPECT_EQ(s.apparent_bytes, Du(comp, true));
  EXPECT_EQ(s.allocated_bytes, Du(comp, false));
  EXPECT_EQ(AllErrors(s), 0u);

  // Each component is its own du -s: a link shared by two counts in both.
  const std::string other = tmp / "other";
  MakeDir(other);
  ASSERT_EQ(link((comp + "/x/big").c_str(), (other + "/big4").c_str()), 0);
  std::vector<ComponentStats> both =
      ScanComponents({{"a", comp, ""}, {"b", other, ""}}, WalkOptions());
  EXPECT_EQ(both[0].allocated_bytes, Du(comp, false));
  EXPECT_EQ(both[1].allocated_bytes, Du(other, false));
  EXPECT_EQ(both[1].apparent_bytes, 300000 + ApparentSize(other));
}

TEST(ScannerTest, SymlinksAreNeverFollowed) {
  TempDir tmp;
  const std::string outside = tmp / "outside";
  MakeDir(outside);
  WriteFile(outside + "/huge", 4 << 20);
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  ASSERT_EQ(symlink("b", (comp + "/a").c_str()), 0);  // a -> b -> a
  ASSERT_EQ(symlink("a", (comp + "/b").c_str()), 0);
  ASSERT_EQ(symlink(outside.c_str(), (comp + "/out").c_str()), 0);
  WriteFile(comp + "/real", 10);

  ComponentStats s = ScanOne(comp);
  EXPECT_EQ(s.files, 4u);  // three symlinks and one file
  EXPECT_EQ(s.directories, 1u);
  EXPECT_EQ(s.apparent_bytes, 10 + 1 + 1 + outside.size() + ApparentSize(comp));
  EXPECT_LT(s.allocated_bytes, 4u << 20);  // nothing of the outside tree
  EXPECT_EQ(s.allocated_bytes, Du(comp, false));
  EXPECT_EQ(s.apparent_bytes, Du(comp, true));
  EXPECT_EQ(AllErrors(s), 0u);
}

TEST(ScannerTest, ComponentPathThatIsASymlinkIsResolved) {
  // Only the configured path itself: a WAL moved to another disk and
  // symlinked back is still measured.
  TempDir tmp;
  const std::string real = tmp / "real";
  MakeDir(real);
  WriteFile(real + "/f", 5000);
  ASSERT_EQ(symlink(real.c_str(), (tmp / "link").c_str()), 0);
  ComponentStats s = ScanOne(tmp / "link");
  EXPECT_TRUE(s.present);
  EXPECT_EQ(s.files, 1u);
  EXPECT_EQ(s.allocated_bytes, Du(real, false));
}

TEST(ScannerTest, UnreadableDirectoryIsOnePermissionErrorAndTheRestCounts) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  MakeDir(comp + "/open");
  WriteFile(comp + "/open/f1", 1000);
  WriteFile(comp + "/open/f2", 9000);
  MakeDir(comp + "/locked");
  MakeDir(comp + "/locked/sub");
  WriteFile(comp + "/locked/hidden", 50000);
  WriteFile(comp + "/locked/sub/hidden", 50000);
  ASSERT_EQ(chmod((comp + "/locked").c_str(), 0), 0);
  const uint64_t expected_apparent = 1000 + 9000 + ApparentSize(comp) +
                                     ApparentSize(comp + "/open") +
                                     ApparentSize(comp + "/locked");

  // Root reads anything, so the scan (and du, the reference) run as nobody.
  auto r = RunInChild([&]() -> std::map<std::string, std::string> {
    std::string err = testutil::DropToNobody();
    if (!err.empty()) return {{"error", err}};
    if (access((comp + "/locked").c_str(), R_OK) == 0) {
      return {{"error", "the locked directory is still readable"}};
    }
    ComponentStats s = ScanOne(comp);
    return {{"present", Num(s.present)},
            {"complete", Num(s.complete)},
            {"files", Num(s.files)},
            {"directories", Num(s.directories)},
            {"apparent", Num(s.apparent_bytes)},
            {"allocated", Num(s.allocated_bytes)},
            {"permission", Num(Errors(s, ErrorReason::kPermission))},
            {"all_errors", Num(AllErrors(s))},
            {"du_allocated", Num(Du(comp, false))},
            {"du_apparent", Num(Du(comp, true))}};
  });
  ExpectChildOk(r);
  EXPECT_EQ(U64(r, "present"), 1u);
  EXPECT_EQ(U64(r, "complete"), 1u);
  EXPECT_EQ(U64(r, "permission"), 1u);
  EXPECT_EQ(U64(r, "all_errors"), 1u);
  EXPECT_EQ(U64(r, "files"), 2u);
  EXPECT_EQ(U64(r, "directories"), 3u);  // comp, open, locked (not entered)
  EXPECT_EQ(U64(r, "apparent"), expected_apparent);
  EXPECT_EQ(U64(r, "apparent"), U64(r, "du_apparent"));
  EXPECT_EQ(U64(r, "allocated"), U64(r, "du_allocated"));
}

TEST(ScannerTest, UnreadableComponentDirectoryIsPresentButIncomplete) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  WriteFile(comp + "/f", 1000);
  ASSERT_EQ(chmod(comp.c_str(), 0), 0);
  auto r = RunInChild([&]() -> std::map<std::string, std::string> {
    std::string err = testutil::DropToNobody();
    if (!err.empty()) return {{"error", err}};
    ComponentStats s = ScanOne(comp);
    return {{"present", Num(s.present)},
            {"complete", Num(s.complete)},
            {"files", Num(s.files)},
            {"permission", Num(Errors(s, ErrorReason::kPermission))},
            {"timeout", Num(Errors(s, ErrorReason::kTimeout))}};
  });
  ExpectChildOk(r);
  EXPECT_EQ(U64(r, "present"), 1u);
  // Nothing below it is known: not a result to publish as the truth.
  EXPECT_EQ(U64(r, "complete"), 0u);
  EXPECT_EQ(U64(r, "files"), 0u);
  EXPECT_EQ(U64(r, "permission"), 1u);
  EXPECT_EQ(U64(r, "timeout"), 0u);
}

// `chmod 000` on the root above a component, run as an
// unprivileged user. Whether the component exists is unknown: a permission
// error and an incomplete walk, not "missing" (present 0, complete, silent).
TEST(ScannerTest, ComponentBelowUnreadableRootIsAPermissionError) {
  TempDir tmp;
  const std::string root = tmp / "root";
  MakeDir(root);
  MakeDir(root + "/data");
  MakeDir(root + "/data/wal");
  WriteFile(root + "/data/wal/f", 1000);
  ASSERT_EQ(chmod(root.c_str(), 0), 0);
  auto r = RunInChild([&]() -> std::map<std::string, std::string> {
    std::string err = testutil::DropToNobody();
    if (!err.empty()) return {{"error", err}};
    struct stat st;  // the truth: nobody cannot tell either
    const bool eacces =
        stat((root + "/data/wal").c_str(), &st) != 0 && errno == EACCES;
    ComponentStats s = ScanOne(root + "/data/wal");
    ComponentStats absent = ScanOne(tmp / "absent");
    return {{"stat_eacces", Num(eacces)},
            {"present", Num(s.present)},
            {"complete", Num(s.complete)},
            {"permission", Num(Errors(s, ErrorReason::kPermission))},
            {"all_errors", Num(AllErrors(s))},
            {"absent_complete", Num(absent.complete)},
            {"absent_errors", Num(AllErrors(absent))}};
  });
  ExpectChildOk(r);
  EXPECT_EQ(U64(r, "stat_eacces"), 1u);
  EXPECT_EQ(U64(r, "present"), 0u);
  EXPECT_EQ(U64(r, "complete"), 0u);
  EXPECT_EQ(U64(r, "permission"), 1u);
  EXPECT_EQ(U64(r, "all_errors"), 1u);
  // A directory that really is missing stays exact and silent.
  EXPECT_EQ(U64(r, "absent_complete"), 1u);
  EXPECT_EQ(U64(r, "absent_errors"), 0u);
}

// A comb: a spine `depth` deep, each level with three empty "teeth" besides
// the next spine directory, built with mkdirat so no path is ever longer
// than a name (the full paths are far past PATH_MAX). The teeth keep each
// spine directory queued while the walk goes down the spine. Returns an
// error text, empty on success (it runs in forked children).
std::string MakeComb(const std::string& root, int depth) {
  if (mkdir(root.c_str(), 0755) != 0) return "mkdir " + root;
  int at = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  for (int level = 0; level < depth && at >= 0; ++level) {
    for (const char* name : {"a", "b", "c", "s"}) {
      if (mkdirat(at, name, 0755) != 0) return std::strerror(errno);
    }
    const int next = openat(at, "s", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(at);
    at = next;
  }
  if (at < 0) return std::string("open: ") + std::strerror(errno);
  close(at);
  return "";
}

// Descriptors open in this process.
uint64_t OpenFds() {
  uint64_t n = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++n;
  }
  return n;
}

// With one thread, max_depth 4096 and RLIMIT_NOFILE 1024,
// a comb 3,000 deep used to count 4,073 of 12,001 directories and call the
// walk complete. Every directory is counted now (find(1) is the truth), with
// descriptor use bounded by the walk's budget, not by the depth. On a tmpfs
// in a private mount namespace: removing such a tree takes rm(1) 40 s.
TEST(ScannerTest, DeepCombUnderLowFdLimitCountsEveryDirectory) {
  constexpr int kDepth = 3000;
  TempDir tmp;
  const std::string comp = tmp / "comb";
  auto r = RunInChild([&]() -> std::map<std::string, std::string> {
    std::string err = testutil::EnterPrivateMountNamespace();
    if (!err.empty()) return {{"error", err}};
    if (mount("tmpfs", tmp.path().c_str(), "tmpfs", 0, "size=64m") != 0) {
      return {{"error", std::string("mount tmpfs: ") + std::strerror(errno)}};
    }
    err = MakeComb(comp, kDepth);
    if (!err.empty()) return {{"error", err}};
    const std::string find_dirs =
        testutil::Run("find '" + comp + "' -type d | wc -l");
    const struct rlimit limit = {1024, 1024};
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return {{"error", "rlimit"}};
    WalkOptions options;
    options.threads = 1;
    options.max_depth = 4096;
    ComponentStats s = ScanOne(comp, "", options);
    const uint64_t open_fds = OpenFds();  // after the walk: nothing leaked
    return {{"find_dirs", find_dirs.substr(0, find_dirs.find('\n'))},
            {"directories", Num(s.directories)},
            {"complete", Num(s.complete)},
            {"errors", Num(AllErrors(s))},
            {"open_fds", Num(open_fds)}};
  });
  ExpectChildOk(r);
  EXPECT_EQ(U64(r, "find_dirs"), 1u + 4u * kDepth);
  EXPECT_EQ(U64(r, "directories"), U64(r, "find_dirs"));
  EXPECT_EQ(U64(r, "errors"), 0u);
  EXPECT_EQ(U64(r, "complete"), 1u);
  EXPECT_LT(U64(r, "open_fds"), 16u);
}

// When the descriptors run out all the same (a limit below the walk's own
// floor), the walk must not claim success: resource errors on what it had
// to open mark it incomplete.
TEST(ScannerTest, RunningOutOfDescriptorsIsAnIncompleteWalk) {
  TempDir tmp;
  const std::string comp = tmp / "comb";
  ASSERT_EQ(MakeComb(comp, 64), "");
  auto r = RunInChild([&]() -> std::map<std::string, std::string> {
    // Room for the listing fds, none for the 16 the walk may hold.
    const rlim_t n = static_cast<rlim_t>(OpenFds()) + 8;
    const struct rlimit limit = {n, n};
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return {{"error", "rlimit"}};
    WalkOptions options;
    options.threads = 1;
    ComponentStats s = ScanOne(comp, "", options);
    return {{"directories", Num(s.directories)},
            {"complete", Num(s.complete)},
            {"other", Num(Errors(s, ErrorReason::kOther))}};
  });
  ExpectChildOk(r);
  // The comb keeps up to 16 spine directories held, 8 descriptors cannot.
  EXPECT_GT(U64(r, "other"), 0u);
  EXPECT_LT(U64(r, "directories"), 1u + 4u * 64);
  EXPECT_EQ(U64(r, "complete"), 0u);
}

TEST(ScannerTest, OddNamesFifosAndSocketsAreFilesAndNeverOpened) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  WriteFile(comp + "/\xff\xfe", 123);  // not UTF-8
  MakeDir(comp + "/\xfe\xff-dir");
  WriteFile(comp + "/\xfe\xff-dir/inner", 7);
  const std::string fifo = comp + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  int sock = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = comp + "/sock";
  ASSERT_LT(sock_path.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock_path.c_str(), sock_path.size() + 1);
  ASSERT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);

  // Opening the FIFO for reading would block the scan until a writer comes.
  auto scan = std::async(std::launch::async, [&] { return ScanOne(comp); });
  if (scan.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    // A non-blocking writer open succeeds only if someone holds it for
    // reading: proof of the bug, and it unblocks the scan.
    int w = open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    ADD_FAILURE() << "scan blocked; writer open "
                  << (w >= 0 ? "found" : "did not find")
                  << " a reader on the FIFO";
    if (w >= 0) close(w);
  }
  ComponentStats s = scan.get();
  close(sock);
  EXPECT_EQ(s.files, 4u);  // odd name, inner, fifo, socket
  EXPECT_EQ(s.directories, 2u);
  EXPECT_EQ(s.apparent_bytes, 123 + 7 + ApparentSize(comp) +
                                  ApparentSize(comp + "/\xfe\xff-dir"));
  EXPECT_EQ(s.apparent_bytes, Du(comp, true));
  EXPECT_EQ(s.allocated_bytes, Du(comp, false));
  EXPECT_EQ(AllErrors(s), 0u);
  // Nobody holds the FIFO open for reading after the scan.
  int w = open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
  EXPECT_EQ(w, -1);
  EXPECT_EQ(errno, ENXIO);
  if (w >= 0) close(w);
}

TEST(ScannerTest, EmptyComponentIsOneDirectory) {
  TempDir tmp;
  const std::string comp = tmp / "empty";
  MakeDir(comp);
  ComponentStats s = ScanOne(comp, "*.log");
  EXPECT_TRUE(s.present);
  EXPECT_TRUE(s.complete);
  EXPECT_TRUE(s.has_segments);
  EXPECT_EQ(s.segments.count, 0u);
  EXPECT_EQ(s.segments.allocated_bytes, 0u);
  EXPECT_EQ(s.files, 0u);
  EXPECT_EQ(s.directories, 1u);
  EXPECT_EQ(s.apparent_bytes, ApparentSize(comp));
  EXPECT_EQ(s.allocated_bytes, AllocatedSize(comp));
  EXPECT_EQ(s.allocated_bytes, Du(comp, false));
}

TEST(ScannerTest, MissingComponentIsReportedAndOthersAreScanned) {
  TempDir tmp;
  MakeDir(tmp / "a");
  WriteFile(tmp / "a/f", 4000);
  MakeDir(tmp / "b");
  WriteFile(tmp / "b/f", 8000);
  WriteFile(tmp / "plain-file", 10);
  std::vector<ComponentStats> out =
      ScanComponents({{"a", tmp / "a", ""},
                      {"missing", tmp / "does-not-exist", "*.log"},
                      {"b", tmp / "b", ""},
                      {"not-a-dir", tmp / "plain-file", ""}},
                     WalkOptions());
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].name, "a");
  EXPECT_EQ(out[1].name, "missing");
  EXPECT_EQ(out[2].name, "b");
  EXPECT_TRUE(out[0].present);
  EXPECT_EQ(out[0].files, 1u);
  EXPECT_EQ(out[0].allocated_bytes, Du(tmp / "a", false));
  EXPECT_FALSE(out[1].present);
  EXPECT_EQ(out[1].files, 0u);
  EXPECT_EQ(out[1].directories, 0u);
  EXPECT_EQ(out[1].allocated_bytes, 0u);
  EXPECT_EQ(AllErrors(out[1]), 0u);
  EXPECT_TRUE(out[1].has_segments);
  EXPECT_TRUE(out[2].present);
  EXPECT_EQ(out[2].apparent_bytes, 8000 + ApparentSize(tmp / "b"));
  EXPECT_EQ(out[2].allocated_bytes, Du(tmp / "b", false));
  EXPECT_FALSE(out[3].present);
}

TEST(ScannerTest, FileDeletedDuringTheWalkIsVanished) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  const std::string dir = comp + "/d";
  MakeDir(comp);
  MakeDir(dir);
  for (int i = 0; i < 10; ++i) WriteFile(dir + "/f" + std::to_string(i), 100);
  std::atomic<int> deletions{0};
  WalkOptions options;
  options.hooks.after_read_dir = [&](std::string_view path) {
    if (path == dir && deletions.fetch_add(1) == 0) {
      unlink((dir + "/f3").c_str());
    }
  };
  ComponentStats s = ScanOne(comp, "", options);
  EXPECT_EQ(deletions.load(), 1);
  EXPECT_TRUE(s.complete);
  EXPECT_EQ(Errors(s, ErrorReason::kVanished), 1u);
  EXPECT_EQ(AllErrors(s), 1u);
  EXPECT_EQ(s.files, 9u);
  EXPECT_EQ(s.directories, 2u);
  EXPECT_EQ(s.allocated_bytes, Du(comp, false));
}

TEST(ScannerTest, DirectoriesBeyondMaxDepthAreLoopErrors) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  std::string dir = comp;
  for (int depth = 1; depth <= 10; ++depth) {
    dir += "/d" + std::to_string(depth);
    MakeDir(dir);
    WriteFile(dir + "/f", 10);
  }
  WalkOptions options;
  options.max_depth = 5;
  ComponentStats s = ScanOne(comp, "", options);
  EXPECT_EQ(Errors(s, ErrorReason::kLoop), 1u);
  EXPECT_EQ(AllErrors(s), 1u);
  EXPECT_EQ(s.directories, 7u);  // depth 0..5 entered, d6 seen, not entered
  EXPECT_EQ(s.files, 5u);        // in d1..d5
  EXPECT_TRUE(s.complete);
}

TEST(ScannerTest, PassedDeadlineLeavesComponentsIncompleteWithATimeout) {
  TempDir tmp;
  MakeDir(tmp / "a");
  WriteFile(tmp / "a/f", 10);
  MakeDir(tmp / "b");
  WalkOptions options;
  options.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  std::vector<ComponentStats> out = ScanComponents(
      {{"a", tmp / "a", ""}, {"b", tmp / "b", ""}, {"m", tmp / "m", ""}},
      options);
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(out[i].present);
    EXPECT_FALSE(out[i].complete);
    EXPECT_EQ(Errors(out[i], ErrorReason::kTimeout), 1u);
    EXPECT_EQ(AllErrors(out[i]), 1u);
  }
  EXPECT_EQ(out[0].files, 0u);  // nothing was listed
  EXPECT_FALSE(out[2].present);
}

TEST(ScannerTest, CancelStopsWithoutCountingATimeout) {
  TempDir tmp;
  MakeDir(tmp / "a");
  WriteFile(tmp / "a/f", 10);
  std::atomic<bool> cancel{true};
  WalkOptions options;
  options.cancel = &cancel;
  ComponentStats s = ScanOne(tmp / "a", "", options);
  EXPECT_TRUE(s.present);
  EXPECT_FALSE(s.complete);
  EXPECT_EQ(AllErrors(s), 0u);
}

TEST(ScannerTest, WalSegmentsAreMatchingFilesDirectlyInTheDirectory) {
  TempDir tmp;
  const std::string wal = tmp / "wal";
  MakeDir(wal);
  const time_t base = 1700000000;
  uint64_t allocated = 0;
  for (int i = 1; i <= 5; ++i) {
    const std::string seg = wal + "/segment-00000" + std::to_string(i) + ".log";
    WriteFile(seg, 1000 * static_cast<size_t>(i * i * 7));
    allocated += AllocatedSize(seg);
  }
  // mtimes deliberately not in name order.
  SetMtime(wal + "/segment-000001.log", base + 500, 250000000);
  SetMtime(wal + "/segment-000002.log", base + 100, 750000000);  // oldest
  SetMtime(wal + "/segment-000003.log", base + 9000, 0);         // newest
  SetMtime(wal + "/segment-000004.log", base + 800, 0);
  SetMtime(wal + "/segment-000005.log", base + 700, 0);
  // Not segments: other names, a symlink with a matching name, a matching
  // name one level down.
  WriteFile(wal + "/segment-000006.log.tmp", 50000);
  WriteFile(wal + "/notes.txt", 50000);
  ASSERT_EQ(symlink("segment-000001.log", (wal + "/latest.log").c_str()), 0);
  MakeDir(wal + "/archive");
  WriteFile(wal + "/archive/segment-000000.log", 50000);
  SetMtime(wal + "/segment-000006.log.tmp", base, 0);
  SetMtime(wal + "/archive/segment-000000.log", base, 0);

  ComponentStats s = ScanOne(wal, "*.log");
  EXPECT_TRUE(s.has_segments);
  EXPECT_EQ(s.segments.count, 5u);
  EXPECT_EQ(s.segments.allocated_bytes, allocated);
  EXPECT_NEAR(s.segments.oldest_mtime, base + 100.75, 1e-6);
  EXPECT_NEAR(s.segments.newest_mtime, base + 9000.0, 1e-6);
  EXPECT_EQ(s.files, 9u);
  EXPECT_EQ(s.allocated_bytes, Du(wal, false));
}

TEST(ScannerTest, BackupSetDirectoriesAreSegmentsWithTheirSubtrees) {
  TempDir tmp;
  const std::string backups = tmp / "backups";
  MakeDir(backups);
  const std::string set1 = backups + "/stemedb-backup-20240101-000000";
  const std::string set2 = backups + "/stemedb-backup-20240102-000000";
  MakeDir(set1);
  MakeDir(set1 + "/sub");
  WriteFile(set1 + "/a.kv", 30000);
  WriteFile(set1 + "/sub/b.kv", 70000);
  MakeDir(set2);
  WriteFile(set2 + "/c.kv", 5000);
  MakeDir(backups + "/other");
  WriteFile(backups + "/other/d.kv", 100000);
  WriteFile(backups + "/README", 100);
  SetMtime(set1, 1704067200, 0);
  SetMtime(set2, 1704153600, 0);

  ComponentStats s = ScanOne(backups, "stemedb-backup-*");
  EXPECT_EQ(s.segments.count, 2u);
  EXPECT_EQ(s.segments.allocated_bytes, Du(set1, false) + Du(set2, false));
  EXPECT_NEAR(s.segments.oldest_mtime, 1704067200.0, 1e-6);
  EXPECT_NEAR(s.segments.newest_mtime, 1704153600.0, 1e-6);
  EXPECT_EQ(s.allocated_bytes, Du(backups, false));
  EXPECT_GT(s.allocated_bytes, s.segments.allocated_bytes);
  EXPECT_EQ(s.files, 5u);
  EXPECT_EQ(s.directories, 5u);
}

// Mounts a tmpfs inside the component in a private mount namespace (in a
// child, so the test process's own namespace is untouched).
TEST(ScannerTest, OneFilesystemStaysOffOtherMounts) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  MakeDir(comp + "/mnt");
  WriteFile(comp + "/local", 20000);

  auto r = RunInChild([&]() -> std::map<std::string, std::string> {
    std::string err = testutil::EnterPrivateMountNamespace();
    if (!err.empty()) return {{"error", err}};
    if (mount("tmpfs", (comp + "/mnt").c_str(), "tmpfs", 0, "size=8m") != 0) {
      return {{"error", std::string("mount tmpfs: ") + std::strerror(errno)}};
    }
    MakeDir(comp + "/mnt/inner");
    WriteFile(comp + "/mnt/inner/big", 2 << 20);
    WriteFile(comp + "/mnt/small", 300);
    WalkOptions same_fs;
    same_fs.one_filesystem = true;
    WalkOptions any_fs;
    any_fs.one_filesystem = false;
    ComponentStats x = ScanOne(comp, "", same_fs);
    ComponentStats all = ScanOne(comp, "", any_fs);
    return {{"x_files", Num(x.files)},
            {"x_dirs", Num(x.directories)},
            {"x_allocated", Num(x.allocated_bytes)},
            {"x_apparent", Num(x.apparent_bytes)},
            {"x_errors", Num(AllErrors(x))},
            {"du_x_allocated", Num(Du(comp, false, true))},
            {"du_x_apparent", Num(Du(comp, true, true))},
            {"all_files", Num(all.files)},
            {"all_dirs", Num(all.directories)},
            {"all_allocated", Num(all.allocated_bytes)},
            {"all_apparent", Num(all.apparent_bytes)},
            {"du_allocated", Num(Du(comp, false))},
            {"du_apparent", Num(Du(comp, true))}};
  });
  ExpectChildOk(r);
  EXPECT_EQ(U64(r, "x_files"), 1u);
  EXPECT_EQ(U64(r, "x_dirs"), 1u);  // like du -x, not even the mount point
  EXPECT_EQ(U64(r, "x_errors"), 0u);
  EXPECT_EQ(U64(r, "x_allocated"), U64(r, "du_x_allocated"));
  EXPECT_EQ(U64(r, "x_apparent"), U64(r, "du_x_apparent"));
  EXPECT_EQ(U64(r, "all_files"), 3u);
  EXPECT_EQ(U64(r, "all_dirs"), 3u);
  EXPECT_EQ(U64(r, "all_allocated"), U64(r, "du_allocated"));
  EXPECT_EQ(U64(r, "all_apparent"), U64(r, "du_apparent"));
  EXPECT_GE(U64(r, "all_allocated") - U64(r, "x_allocated"), 2u << 20);
  EXPECT_GE(U64(r, "all_apparent") - U64(r, "x_apparent"), (2u << 20) + 300);
}

}  // namespace
// Counts the entries given to it, and the bytes of those counted.
class CountingAggregate : public EntryAggregate {
 public:
  void Add(const EntryInfo& entry) override {
    ++entries;
    if (entry.counted && !S_ISDIR(entry.st->st_mode)) {
      bytes += static_cast<uint64_t>(entry.st->st_blocks) * 512;
    }
    if (entry.name.size() > 4 &&
        entry.name.substr(entry.name.size() - 4) == ".tmp") {
      ++tmp;
    }
  }
  void Merge(const EntryAggregate& other) override {
    const auto& o = static_cast<const CountingAggregate&>(other);
    entries += o.entries;
    bytes += o.bytes;
    tmp += o.tmp;
  }
  uint64_t entries = 0, bytes = 0, tmp = 0;
};

TEST(ScannerTest, DirectoryRecordsMatchDuPerDirectory) {
  TempDir tmp;
  const std::string comp = tmp / "comp";
  MakeDir(comp);
  std::vector<std::string> dirs = {comp};
  for (int d = 0; d < 12; ++d) {
    const std::string dir = comp + "/d" + std::to_string(d);
    MakeDir(dir);
    dirs.push_back(dir);
    const std::string sub = dir + "/sub";
    MakeDir(sub);
    dirs.push_back(sub);
    for (int i = 0; i < d; ++i) {
      WriteFile(dir + "/f" + std::to_string(i), 1000 * (i + 1));
      WriteFile(sub + "/g" + std::to_string(i) + ".tmp", 5000);
    }
  }
  // A name that sorts between "d1" and its subtree ("d1 x" < "d1/sub").
  MakeDir(comp + "/d1 x");
  dirs.push_back(comp + "/d1 x");
  WriteFile(comp + "/d1 x/f", 70000);

  for (int threads : {1, 2}) {
    SCOPED_TRACE("threads=" + std::to_string(threads));
    WalkOptions options;
    options.threads = threads;
    options.record_directories = true;
    options.make_aggregate = [](int) {
      return std::make_unique<CountingAggregate>();
    };
    ComponentStats s = ScanOne(comp, "", options);
    ASSERT_TRUE(s.complete);
    ASSERT_NE(s.directory_list, nullptr);
    ASSERT_EQ(s.directory_list->size(), dirs.size());
    for (const DirectoryRecord& r : *s.directory_list) {
      SCOPED_TRACE(r.path);
      EXPECT_EQ(r.cumulative.allocated_bytes, Du(r.path, false));
      EXPECT_EQ(r.cumulative.apparent_bytes, Du(r.path, true));
      // Direct: what du -S (separate-dirs) counts for the directory alone.
      const uint64_t du_direct = std::stoull(
          testutil::Run("du -S -s --block-size=1 '" + r.path + "'"));
      EXPECT_EQ(r.direct.allocated_bytes, du_direct);
      EXPECT_EQ(r.direct.directories, 1u);
      EXPECT_EQ(r.depth, r.path == comp
                             ? 0
                             : 1 + (r.path.find("/sub") != std::string::npos));
    }
    const DirectoryRecord& root = s.directory_list->front();
    EXPECT_EQ(root.path, comp);
    EXPECT_EQ(root.direct.subdirectories, 13u);
    EXPECT_EQ(root.direct.entries(), 13u);
    EXPECT_EQ(root.cumulative.allocated_bytes, s.allocated_bytes);
    EXPECT_EQ(root.cumulative.files, s.files);
    EXPECT_EQ(root.cumulative.directories, s.directories);

    ASSERT_NE(s.aggregate, nullptr);
    const auto& agg = static_cast<const CountingAggregate&>(*s.aggregate);
    EXPECT_EQ(agg.entries, s.files + s.directories - 1);  // all but the root
    EXPECT_EQ(agg.tmp, 66u);                              // 0+1+...+11
    uint64_t dir_bytes = 0;
    for (const std::string& d : dirs) dir_bytes += AllocatedSize(d);
    EXPECT_EQ(agg.bytes, s.allocated_bytes - dir_bytes);
  }
}

TEST(ScanDirectoryTest, WithoutALinkSetHardLinksAreHandedToTheCaller) {
  TempDir tmp;
  const std::string dir = tmp / "d";
  MakeDir(dir);
  MakeDir(dir + "/sub");
  WriteFile(dir + "/plain", 10000);
  WriteFile(dir + "/linked", 20000);
  ASSERT_EQ(link((dir + "/linked").c_str(), (dir + "/linked2").c_str()), 0);
  WriteFile(dir + "/seg-1", 3000);

  struct Visitor : DirectoryVisitor {
    bool Subdirectory(std::string_view name, const struct stat&,
                      bool) override {
      names.emplace_back(name);
      return true;
    }
    std::vector<std::string> names;
  } visitor;
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  struct stat self;
  ASSERT_EQ(fstat(fd, &self), 0);
  std::vector<LinkedEntry> linked;
  DirectoryScan scan;
  scan.fd = fd;
  scan.path = dir;
  scan.self = &self;
  scan.device = self.st_dev;
  PatternError error;
  const std::optional<Pattern> segments = Pattern::Glob("seg-*", &error);
  ASSERT_TRUE(segments) << error.ToString();
  scan.segments = &*segments;
  scan.linked = &linked;
  std::vector<char> buffer(kScanBufferBytes);
  DirectoryTotals t;
  EXPECT_TRUE(ScanDirectory(scan, visitor, buffer.data(), buffer.size(), &t));
  close(fd);

  EXPECT_EQ(visitor.names, std::vector<std::string>{"sub"});
  EXPECT_EQ(t.files, 4u);
  EXPECT_EQ(t.subdirectories, 1u);
  EXPECT_EQ(t.directories, 1u);
  EXPECT_EQ(t.segments, 1u);
  EXPECT_EQ(t.segment_allocated_bytes, AllocatedSize(dir + "/seg-1"));
  EXPECT_EQ(t.allocated_bytes, AllocatedSize(dir) +
                                   AllocatedSize(dir + "/plain") +
                                   AllocatedSize(dir + "/seg-1"));
  ASSERT_EQ(linked.size(), 2u);  // both names, one inode
  EXPECT_EQ(linked[0].ino, linked[1].ino);
  EXPECT_EQ(linked[0].allocated_bytes, AllocatedSize(dir + "/linked"));
}

TEST(DirectoryTotalsTest, SubtractUndoesMerge) {
  DirectoryTotals a, b;
  a.allocated_bytes = 100;
  a.files = 3;
  a.directories = 1;
  a.Error(ErrorReason::kVanished);
  b.allocated_bytes = 40;
  b.files = 1;
  b.subdirectories = 2;
  b.segment_allocated_bytes = 8;
  b.Error(ErrorReason::kVanished);
  DirectoryTotals sum = a;
  sum.Merge(b);
  EXPECT_EQ(sum.allocated_bytes, 140u);
  EXPECT_EQ(sum.entries(), 6u);
  sum.Subtract(b);
  EXPECT_EQ(sum.allocated_bytes, a.allocated_bytes);
  EXPECT_EQ(sum.files, a.files);
  EXPECT_EQ(sum.subdirectories, 0u);
  EXPECT_EQ(sum.segment_allocated_bytes, 0u);
  EXPECT_EQ(sum.errors, a.errors);
}

}  // namespace stemedb::measure
