#include "stemedb/base/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "stemedb/base/atomic_file.h"

namespace stemedb {
namespace {

// As the kernel's limit on links followed in one lookup.
constexpr int kMaxLinks = 40;

Error PathError(const std::string& path, std::string message) {
  Error e;
  e.file = path;
  e.message = std::move(message);
  return e;
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// " (a symlink to TARGET)" when the path was reached through links.
std::string Via(const OutputTarget& t, const std::string& file) {
  return file == t.named ? "" : " (a symlink to " + file + ")";
}

// What lstat found at the end of the links, as an OutputTarget or an error.
Status Classify(const struct stat& st, const std::string& file,
                OutputTarget* out) {
  out->file = file;
  if (S_ISREG(st.st_mode)) {
    out->kind = OutputTarget::Kind::kReplace;
  } else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
    out->kind = OutputTarget::Kind::kInPlace;
  } else if (S_ISDIR(st.st_mode)) {
    return PathError(out->named, "is a directory" + Via(*out, file) +
                                     "; name a file to write");
  } else {
    return PathError(out->named, "is a socket or block device" +
                                     Via(*out, file) + "; name a file");
  }
  return std::nullopt;
}

// A path that does not exist yet: created, if it is a link's target, only
// in an existing directory.
Status Missing(const std::string& file, OutputTarget* out) {
  out->kind = OutputTarget::Kind::kReplace;
  out->file = file;
  if (file == out->named) return std::nullopt;  // the caller made the dir
  struct stat dir {};
  if (stat(DirOf(file).c_str(), &dir) != 0 || !S_ISDIR(dir.st_mode)) {
    return PathError(out->named, "is a dangling symlink to " + file +
                                     ", whose directory " + DirOf(file) +
                                     " does not exist");
  }
  return std::nullopt;
}

bool InGroup(gid_t gid) {
  if (gid == getegid()) return true;
  const int n = getgroups(0, nullptr);
  if (n <= 0) return false;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  const int got = getgroups(n, groups.data());
  for (int i = 0; i < got; ++i) {
    if (groups[static_cast<size_t>(i)] == gid) return true;
  }
  return false;
}

// The mode, owner and group the replacement keeps from the file it
// replaces (0644 and the caller's for a new one).
TempFileMode ModeToKeep(const std::string& file) {
  TempFileMode mode;
  struct stat st {};
  if (stat(file.c_str(), &st) != 0) return mode;
  mode.mode = st.st_mode & 07777;
  if (geteuid() == 0) {
    mode.uid = st.st_uid;
    mode.gid = st.st_gid;
  } else if (st.st_gid != getegid() && InGroup(st.st_gid)) {
    mode.gid = st.st_gid;
  }
  return mode;
}

// The path the chain of symlinks from `path` ends at (the first entry that
// is not a link, or does not exist).
Status FollowLinks(const std::string& path, std::string* file) {
  *file = path;
  for (int links = 0;; ++links) {
    struct stat st {};
    if (lstat(file->c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) {
      return std::nullopt;
    }
    if (links == kMaxLinks) {
      return PathError(path, "too many levels of symbolic links");
    }
    std::string target(static_cast<size_t>(st.st_size) + 256, '\0');
    const ssize_t n = readlink(file->c_str(), target.data(), target.size());
    if (n < 0) {
      return PathError(path, "cannot read the symlink " + *file + ": " +
                                 std::strerror(errno));
    }
    target.resize(static_cast<size_t>(n));
    *file = target.front() == '/' ? target : DirOf(*file) + "/" + target;
  }
}

}  // namespace

Status ResolveOutput(const std::string& path, OutputTarget* out) {
  *out = {};
  out->named = path;
  if (path == "-") {
    out->kind = OutputTarget::Kind::kStdout;
    return std::nullopt;
  }
  if (path.empty()) return PathError(path, "empty path; name a file or -");
  // What the path leads to, as open(2) sees it: /dev/stdout's link
  // through /proc/self/fd/1 to "pipe:[N]" is no path to read back.
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 &&
      (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) {
    out->kind = OutputTarget::Kind::kInPlace;
    out->file = path;
    return std::nullopt;
  }
  if (errno == ELOOP) {
    return PathError(path, "too many levels of symbolic links");
  }
  std::string file;
  if (Status err = FollowLinks(path, &file)) return err;
  struct stat end {};
  if (lstat(file.c_str(), &end) == 0) return Classify(end, file, out);
  if (errno == ENOENT) return Missing(file, out);
  return PathError(path, "cannot stat " + file + ": " + std::strerror(errno));
}

StagedOutput::StagedOutput(StagedOutput&& other) noexcept
    : target_(std::move(other.target_)),
      temp_(std::exchange(other.temp_, {})),
      content_(std::move(other.content_)) {}

StagedOutput& StagedOutput::operator=(StagedOutput&& other) noexcept {
  if (this != &other) {
    Discard();
    target_ = std::move(other.target_);
    temp_ = std::exchange(other.temp_, {});
    content_ = std::move(other.content_);
  }
  return *this;
}

StagedOutput::~StagedOutput() { Discard(); }

void StagedOutput::Discard() {
  if (!temp_.empty()) unlink(temp_.c_str());
  temp_.clear();
}

Status StagedOutput::Stage(const OutputTarget& target, std::string content,
                           StagedOutput* out) {
  StagedOutput staged;
  staged.target_ = target;
  if (target.kind == OutputTarget::Kind::kReplace) {
    if (Status err = WriteTempBeside(target.file, content,
                                     ModeToKeep(target.file), &staged.temp_)) {
      err->message += Via(target, target.file);
      err->file = target.named;
      return err;
    }
  } else {
    staged.content_ = std::move(content);
  }
  *out = std::move(staged);
  return std::nullopt;
}

Status StagedOutput::Commit() {
  switch (target_.kind) {
    case OutputTarget::Kind::kReplace: {
      if (temp_.empty()) return std::nullopt;  // committed already
      Status err = CommitTemp(temp_, target_.file);
      temp_.clear();  // renamed, or removed by CommitTemp
      if (err) err->file = target_.named;
      return err;
    }
    case OutputTarget::Kind::kStdout: {
      // Whatever the caller printed through stdio goes first.
      if (std::fflush(stdout) != 0 || !WriteAll(STDOUT_FILENO, content_)) {
        return PathError("-", std::string("cannot write to standard output: ") +
                                  std::strerror(errno));
      }
      return std::nullopt;
    }
    case OutputTarget::Kind::kInPlace: {
      const int fd =
          open(target_.file.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
      if (fd < 0) {
        return PathError(target_.named, "cannot open" +
                                            Via(target_, target_.file) + ": " +
                                            std::strerror(errno));
      }
      const bool ok = WriteAll(fd, content_);
      const int write_errno = errno;
      if (close(fd) != 0 || !ok) {
        return PathError(target_.named,
                         "cannot write" + Via(target_, target_.file) + ": " +
                             std::strerror(ok ? errno : write_errno));
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

Status WriteOutput(const std::string& path, const std::string& content) {
  OutputTarget target;
  if (Status err = ResolveOutput(path, &target)) return err;
  StagedOutput staged;
  if (Status err = StagedOutput::Stage(target, content, &staged)) return err;
  return staged.Commit();
}

}  // namespace stemedb
