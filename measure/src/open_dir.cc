#include "open_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string>

#include "stemedb/measure/walk.h"

namespace stemedb::measure {
namespace {

// Opens directory `name` (one piece of a path) below `at` for listing.
// O_NOATIME keeps the walk from dirtying every directory inode, but only the
// owner (or CAP_FOWNER) may ask for it; after the first EPERM this thread
// stops asking (`noatime_ok` null: never asks). On failure errno is
// preserved.
Fd OpenOne(int at, const char* name, bool follow, bool* noatime_ok) {
  int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW);
  if (noatime_ok != nullptr && *noatime_ok) {
    int fd = openat(at, name, flags | O_NOATIME);
    if (fd >= 0 || errno != EPERM) return Fd(fd);
    *noatime_ok = false;
  }
  return Fd(openat(at, name, flags));
}

}  // namespace

namespace detail {

Fd OpenDir(int at, std::string_view path, const OpenHow& how) {
  std::string piece;
  Fd current;
  for (;;) {
    size_t cut = how.component_wise ? path.find('/') : path.size();
    if (cut == std::string_view::npos) cut = path.size();
    if (!how.component_wise && cut >= PATH_MAX) {
      // The longest prefix the kernel takes in one call, cut at a '/'.
      cut = path.rfind('/', PATH_MAX - 1);
      if (cut == std::string_view::npos || cut == 0) {
        errno = ENAMETOOLONG;
        return Fd();
      }
    }
    piece.assign(path.substr(0, cut));
    const bool last = cut == path.size();
    Fd next = OpenOne(at, piece.c_str(),
                      last ? how.follow : !how.component_wise, how.noatime_ok);
    if (!next.valid() || last) {
      const int error = errno;
      current = Fd();
      errno = error;
      return next;
    }
    current = std::move(next);
    at = current.get();
    path.remove_prefix(cut + 1);
    if (how.component_wise) continue;
    while (path.starts_with('/')) path.remove_prefix(1);
    if (path.empty()) return current;
  }
}

}  // namespace detail

int OpenDirectory(std::string_view path, bool follow) {
  return detail::OpenDir(AT_FDCWD, path, detail::OpenHow{.follow = follow})
      .Release();
}
}  // namespace stemedb::measure
