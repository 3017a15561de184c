#include "stemedb/base/user_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "stemedb/base/fd.h"

namespace stemedb {
namespace {

// What a non-regular file is, for the refusal.
const char* Describe(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// "1 MiB", "64 KiB", "100 bytes": caps are set in round units.
std::string Bytes(size_t n) {
  if (n >= (size_t{1} << 20) && n % (size_t{1} << 20) == 0) {
    return std::to_string(n >> 20) + " MiB";
  }
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

}  // namespace

Status ReadUserFile(const std::string& path, const FileKind& kind,
                    std::string* out) {
  const std::string cannot = "cannot read " + std::string(kind.what) + ": ";
  auto fail = [&](const std::string& why) {
    Error e;
    e.file = path;
    e.message = cannot + why;
    return e;
  };
  // O_NONBLOCK: opening a FIFO with no writer returns at once instead of
  // waiting for one; the descriptor is refused below before any read.
  Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return fail(std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) {
    return fail(std::string("it is ") + Describe(st.st_mode) +
                "; a regular file is needed");
  }
  // One byte past the cap tells "too big" without trusting st_size (a /proc
  // file says 0, a growing one says less); st_size only sizes the first
  // buffer, so a small file of a kind with a large cap costs its size.
  const size_t limit = kind.max_bytes + 1;
  const size_t guess = static_cast<size_t>(std::max<off_t>(st.st_size, 0)) + 1;
  std::string buffer(std::min(limit, std::max<size_t>(guess, 4096)), '\0');
  size_t filled = 0;
  for (;;) {
    if (filled == buffer.size()) {
      if (buffer.size() == limit) break;
      buffer.resize(std::min(limit, buffer.size() * 2));
    }
    const ssize_t n =
        ::read(fd.get(), buffer.data() + filled, buffer.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(std::strerror(errno));
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  if (filled > kind.max_bytes) {
    return fail("larger than " + Bytes(kind.max_bytes) + "; " +
                std::string(kind.hint));
  }
  buffer.resize(filled);
  *out = std::move(buffer);
  return std::nullopt;
}

}  // namespace stemedb
