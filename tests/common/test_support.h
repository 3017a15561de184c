// The support every unit's tests share: a temporary directory, files and
// directories written into it, sizes read back, commands run, and a plain
// HTTP GET over loopback. A helper a second test file needs lives here, not
// in a copy.
//
// Thread safety: every function may be called from any thread; none keeps
// state between calls. Failures to set up a fixture throw std::runtime_error
// (gtest reports the exception as the test's failure).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace stemedb::testutil {

// A fresh directory under $TMPDIR (or /tmp), mode 0755 (so a child that
// dropped to nobody can walk it), removed with its whole tree on destruction,
// after restoring the permissions a test may have taken away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& relative) const {
    return path_ + "/" + relative;
  }

 private:
  std::string path_;
};

// Writes `content` to `path` (replacing it), creating missing parent
// directories.
void WriteFile(const std::string& path, const std::string& content);
// Writes `size` bytes of non-zero content (so every byte is allocated).
// REQUIRES: the parent directory exists.
void WriteFile(const std::string& path, size_t size);
// The whole content of `path`; "" when it cannot be read.
std::string ReadFile(const std::string& path);
// Creates the directory `path` with mode 0755 whatever the umask.
// REQUIRES: its parent exists and `path` does not.
void MakeDir(const std::string& path);

// st_size of `path` (lstat), for directories whose size the filesystem picks.
uint64_t ApparentSize(const std::string& path);
// st_blocks * 512 of `path` (lstat).
uint64_t AllocatedSize(const std::string& path);

// Runs a shell command; returns its stdout (stderr is left alone).
std::string Run(const std::string& command);
// Runs a shell command, feeding `input` on stdin; returns its exit status
// (-1 when it did not exit normally) and puts stdout+stderr in *output.
int RunCommand(const std::string& command, const std::string& input,
               std::string* output);

// du's total for `path`: allocated (--block-size=1) or apparent (-b), and
// with -x when `one_filesystem`.
uint64_t Du(const std::string& path, bool apparent,
            bool one_filesystem = false);

struct HttpResponse {
  int status = 0;  // 0 when the connection failed or the answer was not HTTP
  std::string headers;
  std::string body;
};

// GET http://127.0.0.1:port/path over HTTP/1.0, reading until the server
// closes. `extra_headers`: complete header lines ("Name: value\r\n").
HttpResponse HttpGet(int port, const std::string& path,
                     const std::string& extra_headers = "");

}  // namespace stemedb::testutil
