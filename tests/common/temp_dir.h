// The one temporary-directory fixture of every unit's tests.
#pragma once

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

}  // namespace stemedb::testutil
