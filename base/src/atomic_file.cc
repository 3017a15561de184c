#include "stemedb/base/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace stemedb {
namespace {

namespace fs = std::filesystem;

Error Errno(const std::string& what, const std::string& path) {
  return Error::Message(what + " " + path + ": " + std::strerror(errno));
}

fs::path DirectoryOf(const std::string& target) {
  const fs::path parent = fs::path(target).parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

}  // namespace

bool WriteAll(int fd, const std::string& content) {
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

Status WriteTempBeside(const std::string& target, const std::string& content,
                       const TempFileMode& mode, std::string* temp) {
  temp->clear();
  const fs::path dir = DirectoryOf(target);
  std::string name =
      (dir / ("." + fs::path(target).filename().string() + ".tmp.XXXXXX"))
          .string();
  const int fd = mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) return Errno("cannot create a temp file for", target);
  // mkstemp makes 0600, owned by the caller; chown before chmod, since
  // chown clears set-id bits.
  const bool owned = (mode.uid == static_cast<uid_t>(-1) &&
                      mode.gid == static_cast<gid_t>(-1)) ||
                     fchown(fd, mode.uid, mode.gid) == 0;
  const bool ok = owned && fchmod(fd, mode.mode) == 0 &&
                  WriteAll(fd, content) && fsync(fd) == 0;
  Status err;
  if (!ok) err = Errno("cannot write", name);
  if (close(fd) != 0 && !err) err = Errno("cannot close", name);
  if (err) {
    unlink(name.c_str());
    return err;
  }
  *temp = std::move(name);
  return std::nullopt;
}

Status CommitTemp(const std::string& temp, const std::string& target) {
  if (rename(temp.c_str(), target.c_str()) != 0) {
    Error err = Errno("cannot rename onto", target);
    unlink(temp.c_str());
    return err;
  }
  // Best effort: the rename itself has happened.
  const int fd =
      open(DirectoryOf(target).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  return std::nullopt;
}

Status WriteFileAtomically(const std::string& target,
                           const std::string& content) {
  std::string temp;
  if (Status err = WriteTempBeside(target, content, TempFileMode{}, &temp)) {
    return err;
  }
  return CommitTemp(temp, target);
}

}  // namespace stemedb
