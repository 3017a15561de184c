// The one rule for reading user-named files: regular files only, never
// blocking, a size cap per kind of file.

#include "stemedb/base/user_file.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "test_support.h"

namespace stemedb {
namespace {

namespace fs = std::filesystem;

constexpr FileKind kTiny{"test file", 16, "a test file is small"};

class UserFileTest : public testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    testutil::WriteFile(path, text);
    return path;
  }

  // The refusal's text, or "" when the read succeeded.
  std::string Refusal(const std::string& path, const FileKind& kind = kTiny) {
    std::string text = "untouched";
    const Status err = ReadUserFile(path, kind, &text);
    if (!err) return "";
    EXPECT_EQ(text, "untouched");
    EXPECT_EQ(err->file, path);
    return err->ToString();
  }

  const testutil::TempDir tmp_;
  const fs::path dir_{tmp_.path()};
};

TEST_F(UserFileTest, ReadsARegularFile) {
  std::string text;
  ASSERT_FALSE(ReadUserFile(Write("a", "hello\n"), kTiny, &text));
  EXPECT_EQ(text, "hello\n");
  ASSERT_FALSE(ReadUserFile(Write("empty", ""), kTiny, &text));
  EXPECT_EQ(text, "");
}

// A FIFO with no writer would block open(2) and read(2) until someone
// writes; it is refused at once (the test would hang otherwise).
TEST_F(UserFileTest, FifoIsRefusedWithoutBlocking) {
  const std::string path = (dir_ / "fifo").string();
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
  EXPECT_EQ(Refusal(path), path +
                               ": cannot read test file: it is a FIFO; a "
                               "regular file is needed");
}

TEST_F(UserFileTest, DirectoryDeviceAndSocketAreRefusedByName) {
  EXPECT_EQ(Refusal(dir_.string()),
            dir_.string() +
                ": cannot read test file: it is a directory; a regular file "
                "is needed");
  EXPECT_EQ(Refusal("/dev/null"),
            "/dev/null: cannot read test file: it is a character device; a "
            "regular file is needed");
  // A bound Unix socket: open(2) itself fails (ENXIO), still not blocking.
  const std::string sock_path = (dir_ / "sock").string();
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock_path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(
      Refusal(sock_path).rfind(sock_path + ": cannot read test file: ", 0), 0u)
      << Refusal(sock_path);
  close(fd);
}

TEST_F(UserFileTest, MissingFileNamesTheErrno) {
  const std::string path = (dir_ / "absent").string();
  EXPECT_EQ(Refusal(path),
            path + ": cannot read test file: No such file or directory");
}

// Exact at the boundary: the cap loads, one byte more is refused naming the
// cap.
TEST_F(UserFileTest, SizeCapIsExactAndNamed) {
  EXPECT_EQ(Refusal(Write("max", std::string(16, 'x'))), "");
  const std::string over = Write("over", std::string(17, 'x'));
  EXPECT_EQ(Refusal(over), over +
                               ": cannot read test file: larger than 16 "
                               "bytes; a test file is small");
  constexpr FileKind kKiB{"k file", 2048, "hint"};
  const std::string big = Write("big", std::string(4096, 'x'));
  EXPECT_EQ(Refusal(big, kKiB),
            big + ": cannot read k file: larger than 2 KiB; hint");
}

// A /proc file says it has 0 bytes; the cap is on what is read, not on
// st_size, and the content is all there.
TEST_F(UserFileTest, SizeIsWhatIsReadNotWhatStatSays) {
  std::string text;
  constexpr FileKind kProc{"proc file", 1 << 20, ""};
  ASSERT_FALSE(ReadUserFile("/proc/self/status", kProc, &text));
  EXPECT_NE(text.find("Name:"), std::string::npos);
  EXPECT_NE(Refusal("/proc/self/status").find("larger than 16 bytes"),
            std::string::npos);
}

}  // namespace
}  // namespace stemedb
