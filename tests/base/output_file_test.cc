// The rule for user-named outputs, against real files, symlinks, a FIFO
// with a reader, /dev/null and a forked child's standard output.
#include "stemedb/base/output_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace stemedb {
namespace {

namespace fs = std::filesystem;

class OutputFileTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& rel) const { return tmp_ / rel; }

  // Every entry of `dir` (temp files included), sorted.
  static std::vector<std::string> Entries(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  static struct stat Lstat(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
    return st;
  }

  const testutil::TempDir tmp_;
};

TEST_F(OutputFileTest, NewFileIs0644AndNoTempFileStays) {
  ASSERT_EQ(WriteOutput(Path("a.yml"), "a\n"), std::nullopt);
  EXPECT_EQ(testutil::ReadFile(Path("a.yml")), "a\n");
  EXPECT_EQ(Lstat(Path("a.yml")).st_mode & 07777, 0644u);
  EXPECT_EQ(Entries(tmp_.path()), std::vector<std::string>{"a.yml"});
}

TEST_F(OutputFileTest, ExistingModeIsKept) {
  testutil::WriteFile(Path("secret.yml"), "old\n");
  ASSERT_EQ(chmod(Path("secret.yml").c_str(), 0600), 0);
  ASSERT_EQ(WriteOutput(Path("secret.yml"), "new\n"), std::nullopt);
  EXPECT_EQ(testutil::ReadFile(Path("secret.yml")), "new\n");
  EXPECT_EQ(Lstat(Path("secret.yml")).st_mode & 07777, 0600u);
}

TEST_F(OutputFileTest, OwnerAndGroupAreKeptAsRootElseTheCallers) {
  testutil::WriteFile(Path("owned.yml"), "old\n");
  // nobody:nogroup as root; as anyone else chown is refused and the file
  // stays the caller's, which the replacement must keep as well.
  const uid_t uid = geteuid() == 0 ? 65534 : geteuid();
  const gid_t gid = geteuid() == 0 ? 65534 : getegid();
  ASSERT_EQ(chown(Path("owned.yml").c_str(), uid, gid), 0);
  ASSERT_EQ(WriteOutput(Path("owned.yml"), "new\n"), std::nullopt);
  const struct stat st = Lstat(Path("owned.yml"));
  EXPECT_EQ(st.st_uid, uid);
  EXPECT_EQ(st.st_gid, gid);
  EXPECT_EQ(testutil::ReadFile(Path("owned.yml")), "new\n");
}

TEST_F(OutputFileTest, SymlinkTargetIsReplacedInItsOwnDirectory) {
  testutil::MakeDir(Path("etc"));
  testutil::MakeDir(Path("real"));
  testutil::WriteFile(Path("real/rules.yml"), "old\n");
  ASSERT_EQ(chmod(Path("real/rules.yml").c_str(), 0640), 0);
  // Relative, as config management writes them; a chain of two.
  ASSERT_EQ(symlink("../real/rules.yml", Path("etc/hop.yml").c_str()), 0);
  ASSERT_EQ(symlink("hop.yml", Path("etc/rules.yml").c_str()), 0);
  ASSERT_EQ(WriteOutput(Path("etc/rules.yml"), "new\n"), std::nullopt);
  EXPECT_TRUE(S_ISLNK(Lstat(Path("etc/rules.yml")).st_mode));
  EXPECT_TRUE(S_ISLNK(Lstat(Path("etc/hop.yml")).st_mode));
  EXPECT_EQ(testutil::ReadFile(Path("real/rules.yml")), "new\n");
  EXPECT_EQ(Lstat(Path("real/rules.yml")).st_mode & 07777, 0640u);
  EXPECT_EQ(Entries(Path("etc")),
            (std::vector<std::string>{"hop.yml", "rules.yml"}));
  EXPECT_EQ(Entries(Path("real")), std::vector<std::string>{"rules.yml"});
}

TEST_F(OutputFileTest, DanglingSymlinkCreatesItsTargetInAnExistingDir) {
  testutil::MakeDir(Path("real"));
  ASSERT_EQ(symlink(Path("real/new.yml").c_str(), Path("link.yml").c_str()), 0);
  ASSERT_EQ(WriteOutput(Path("link.yml"), "x\n"), std::nullopt);
  EXPECT_TRUE(S_ISLNK(Lstat(Path("link.yml")).st_mode));
  EXPECT_EQ(testutil::ReadFile(Path("real/new.yml")), "x\n");
}

TEST_F(OutputFileTest, DanglingSymlinkIntoAMissingDirIsAnError) {
  ASSERT_EQ(symlink(Path("gone/new.yml").c_str(), Path("link.yml").c_str()), 0);
  const Status err = WriteOutput(Path("link.yml"), "x\n");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->ToString(), Path("link.yml") + ": is a dangling symlink to " +
                                 Path("gone/new.yml") + ", whose directory " +
                                 Path("gone") + " does not exist");
  EXPECT_FALSE(fs::exists(Path("gone")));
}

TEST_F(OutputFileTest, DirectoryIsAnErrorNamingThePath) {
  testutil::MakeDir(Path("dir"));
  Status err = WriteOutput(Path("dir"), "x\n");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->ToString(),
            Path("dir") + ": is a directory; name a file to write");
  ASSERT_EQ(symlink("dir", Path("to-dir").c_str()), 0);
  err = WriteOutput(Path("to-dir"), "x\n");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->ToString(), Path("to-dir") +
                                 ": is a directory (a symlink to " +
                                 Path("dir") + "); name a file to write");
  EXPECT_EQ(Entries(Path("dir")), std::vector<std::string>{});
}

TEST_F(OutputFileTest, SymlinkLoopIsAnError) {
  ASSERT_EQ(symlink("b", Path("a").c_str()), 0);
  ASSERT_EQ(symlink("a", Path("b").c_str()), 0);
  const Status err = WriteOutput(Path("a"), "x\n");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->ToString(), Path("a") + ": too many levels of symbolic links");
}

TEST_F(OutputFileTest, FifoIsWrittenInPlaceToItsReader) {
  ASSERT_EQ(mkfifo(Path("pipe").c_str(), 0644), 0);
  std::string received;
  std::thread reader([&] {
    const int fd = open(Path("pipe").c_str(), O_RDONLY | O_CLOEXEC);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      received.append(buf, static_cast<size_t>(n));
    }
    close(fd);
  });
  const std::string content(100000, 'x');  // more than a pipe holds
  const Status err = WriteOutput(Path("pipe"), content);
  reader.join();
  ASSERT_EQ(err, std::nullopt);
  EXPECT_EQ(received, content);
  EXPECT_TRUE(S_ISFIFO(Lstat(Path("pipe")).st_mode));
  EXPECT_EQ(Entries(tmp_.path()), std::vector<std::string>{"pipe"});
}

TEST_F(OutputFileTest, CharacterDeviceIsWrittenNeverReplaced) {
  const struct stat before = Lstat("/dev/null");
  ASSERT_EQ(WriteOutput("/dev/null", "discarded\n"), std::nullopt);
  // A symlink to it too, as /dev/stdout is one.
  ASSERT_EQ(symlink("/dev/null", Path("null").c_str()), 0);
  ASSERT_EQ(WriteOutput(Path("null"), "discarded\n"), std::nullopt);
  const struct stat after = Lstat("/dev/null");
  EXPECT_TRUE(S_ISCHR(after.st_mode));
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(after.st_rdev, before.st_rdev);
  EXPECT_TRUE(S_ISLNK(Lstat(Path("null")).st_mode));
}

TEST_F(OutputFileTest, DashIsStandardOutput) {
  // In a child whose standard output is a pipe the parent reads.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    _exit(WriteOutput("-", "to stdout\n") ? 1 : 0);
  }
  close(fds[1]);
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(out, "to stdout\n");
  EXPECT_FALSE(fs::exists("-"));
}

TEST_F(OutputFileTest, StagedButNotCommittedLeavesNothing) {
  testutil::WriteFile(Path("a.yml"), "old\n");
  {
    OutputTarget target;
    ASSERT_EQ(ResolveOutput(Path("a.yml"), &target), std::nullopt);
    StagedOutput staged;
    ASSERT_EQ(StagedOutput::Stage(target, "new\n", &staged), std::nullopt);
    EXPECT_EQ(Entries(tmp_.path()).size(), 2u);  // the temp file beside
  }
  EXPECT_EQ(Entries(tmp_.path()), std::vector<std::string>{"a.yml"});
  EXPECT_EQ(testutil::ReadFile(Path("a.yml")), "old\n");
}

}  // namespace
}  // namespace stemedb
