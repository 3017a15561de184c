// Opening a directory by path, relative to a descriptor, for the walk and
// the watcher (OpenDirectory in walk.h is its public face).
//
// Thread safety: reentrant.
#pragma once

#include <string_view>

#include "stemedb/base/fd.h"

namespace stemedb::measure::detail {

// How OpenDir goes down a path.
struct OpenHow {
  bool follow = false;  // the last component may be a symlink
  // One component at a time with O_NOFOLLOW, so no symlink anywhere on the
  // way is followed (a directory swapped for a symlink mid-walk cannot lead
  // outside the tree). Else in as few opens as PATH_MAX allows, the
  // components before the last followed, as a single open(2) would.
  bool component_wise = false;
  // Ask for O_NOATIME (the walk must not dirty every directory inode); only
  // the owner (or CAP_FOWNER) may, so the first EPERM clears *noatime_ok and
  // it is not asked again. Null: never asked.
  bool* noatime_ok = nullptr;
};

// Opens the directory at `path` relative to `at` (AT_FDCWD: the working
// directory, or `path` is absolute). The path may be longer than PATH_MAX:
// it is opened in pieces, each relative to the last; at most two
// descriptors are open at once. On failure errno is that of the piece that
// failed.
Fd OpenDir(int at, std::string_view path, const OpenHow& how);

}  // namespace stemedb::measure::detail
