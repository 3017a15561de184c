#include "stemedb/measure/open_deleted.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "stemedb/base/fd.h"
#include "stemedb/base/inode_key.h"

namespace stemedb::measure {
namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

using Clock = std::chrono::steady_clock;

double ThreadCpuSeconds() {
  struct rusage usage {};
  if (getrusage(RUSAGE_THREAD, &usage) != 0) return 0;
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) +
           static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

bool IsPid(const char* name) {
  if (*name == '\0') return false;
  for (const char* p = name; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9') return false;
  }
  return true;
}

bool Refused(int error) { return error == EACCES || error == EPERM; }

// The process's command name (/proc/PID/comm), "" when unreadable.
std::string Command(int pid_dir) {
  Fd fd(openat(pid_dir, "comm", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return "";
  char buf[64];
  const ssize_t n = read(fd.get(), buf, sizeof buf);
  if (n <= 0) return "";
  std::string out(buf, static_cast<size_t>(n));
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// One pass's running state.
class Pass {
 public:
  explicit Pass(const OpenDeletedOptions& options) : options_(options) {}

  // Reads one process's descriptors (directory `pid_dir` is /proc/PID).
  void Process(int pid_dir, pid_t pid);
  bool OverLimits() const;
  OpenDeletedScan& result() { return result_; }
  std::vector<DeletedOpenHolder>& holders() { return holders_; }

 private:
  // Looks at descriptor `name` of the process; false when the process
  // refused (unreadable).
  bool Descriptor(int fd_dir, const char* name, int pid_dir, pid_t pid,
                  uid_t uid, std::string* command);

  const OpenDeletedOptions& options_;
  const Clock::time_point start_ = Clock::now();
  OpenDeletedScan result_;
  std::unordered_set<InodeKey, InodeKeyHash> counted_;
  std::vector<DeletedOpenHolder> holders_;
};

bool Pass::OverLimits() const {
  return result_.processes >= options_.max_processes ||
         result_.fds >= options_.max_fds ||
         Clock::now() - start_ >= options_.budget;
}

bool Pass::Descriptor(int fd_dir, const char* name, int pid_dir, pid_t pid,
                      uid_t uid, std::string* command) {
  ++result_.fds;
  char link[4096];
  const ssize_t n = readlinkat(fd_dir, name, link, sizeof link);
  if (n < 0) return !Refused(errno);  // closed meanwhile: nothing held
  const std::string_view target(link, static_cast<size_t>(n));
  if (!target.ends_with(kDeletedSuffix)) return true;
  struct stat st;
  if (fstatat(fd_dir, name, &st, 0) != 0) return !Refused(errno);
  // A name left elsewhere (another hard link) keeps the space visible to
  // du; memfd and other inodes with no filesystem of ours are not files.
  if (st.st_nlink != 0 || !S_ISREG(st.st_mode)) return true;
  const uint64_t bytes = static_cast<uint64_t>(st.st_blocks) * 512;
  if (counted_.insert(InodeKey{st.st_dev, st.st_ino}).second) {
    result_.bytes_by_device[st.st_dev] += bytes;
  }
  if (command->empty()) *command = Command(pid_dir);
  holders_.push_back(
      {pid, uid, *command,
       std::string(target.substr(0, target.size() - kDeletedSuffix.size())),
       st.st_dev, bytes});
  return true;
}

void Pass::Process(int pid_dir, pid_t pid) {
  struct stat self;
  if (fstat(pid_dir, &self) != 0) return;
  Fd fd_dir(openat(pid_dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd_dir.valid()) {
    if (Refused(errno)) {
      ++result_.processes;
      ++result_.unreadable_processes;
    }
    return;  // ENOENT: exited meanwhile
  }
  ++result_.processes;
  DIR* dir = fdopendir(fd_dir.get());
  if (dir == nullptr) return;
  fd_dir.Release();
  std::string command;
  errno = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    if (result_.fds >= options_.max_fds) {
      result_.truncated = true;
      break;
    }
    if (!Descriptor(dirfd(dir), e->d_name, pid_dir, pid, self.st_uid,
                    &command)) {
      ++result_.unreadable_processes;
      break;
    }
  }
  closedir(dir);
}

}  // namespace

OpenDeletedScan ScanOpenDeleted(const OpenDeletedOptions& options) {
  const Clock::time_point start = Clock::now();
  const double cpu_start = ThreadCpuSeconds();
  Pass pass(options);
  DIR* proc = opendir(options.proc_root.c_str());
  if (proc == nullptr) {
    pass.result().truncated = true;
  } else {
    while (const dirent* e = readdir(proc)) {
      if (!IsPid(e->d_name)) continue;
      if (pass.OverLimits()) {
        pass.result().truncated = true;
        break;
      }
      Fd pid_dir(
          openat(dirfd(proc), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!pid_dir.valid()) continue;  // exited
      pass.Process(pid_dir.get(),
                   static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10)));
    }
    closedir(proc);
  }
  OpenDeletedScan& result = pass.result();
  std::vector<DeletedOpenHolder>& holders = pass.holders();
  std::sort(holders.begin(), holders.end(),
            [](const DeletedOpenHolder& a, const DeletedOpenHolder& b) {
              return a.bytes != b.bytes ? a.bytes > b.bytes : a.pid < b.pid;
            });
  if (holders.size() > options.max_holders) holders.resize(options.max_holders);
  result.holders = std::move(holders);
  result.duration_seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  result.cpu_seconds = ThreadCpuSeconds() - cpu_start;
  return std::move(result);
}

}  // namespace stemedb::measure
