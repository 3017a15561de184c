// Cost of one /proc scan for deleted-but-open files (ScanOpenDeleted) on a
// busy machine: spawns N sleeping children holding F descriptors each
// (every tenth one a deleted file on --dir), then times P passes of the
// scan unit directly: wall and CPU time per pass, median and max.
//
// Usage: open_deleted_bench [--processes N] [--fds F] [--passes P]
//                           [--dir DIR]   (defaults 1000, 100, 20, /tmp)
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "stemedb/measure/open_deleted.h"

namespace {

// The child: F descriptors, then one byte on `ready`, then sleep until
// killed.
[[noreturn]] void Child(int fds, const std::string& dir, int n, int ready) {
  const std::string path = dir + "/open-deleted-bench." + std::to_string(n);
  const int file = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (file < 0 || write(file, "x", 1) != 1) _exit(1);
  unlink(path.c_str());
  for (int i = 1; i < fds; ++i) {
    if ((i % 10 == 0 ? dup(file) : open("/dev/null", O_RDONLY)) < 0) _exit(1);
  }
  if (write(ready, "r", 1) != 1) _exit(1);
  for (;;) pause();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int processes = 1000, fds = 100, passes = 20;
  std::string dir = "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--processes")
      processes = std::atoi(argv[i + 1]);
    else if (flag == "--fds")
      fds = std::atoi(argv[i + 1]);
    else if (flag == "--passes")
      passes = std::atoi(argv[i + 1]);
    else if (flag == "--dir")
      dir = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  struct rlimit limit {};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = std::max<rlim_t>(limit.rlim_cur,
                                    std::min<rlim_t>(limit.rlim_max, fds + 64));
  setrlimit(RLIMIT_NOFILE, &limit);
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return 1;
  std::vector<pid_t> children;
  for (int n = 0; n < processes; ++n) {
    const pid_t pid = fork();
    if (pid == 0) Child(fds, dir, n, pipe_fds[1]);
    if (pid < 0) {
      std::perror("fork");
      break;
    }
    children.push_back(pid);
  }
  close(pipe_fds[1]);
  char byte;
  size_t ready = 0;
  while (ready < children.size() && read(pipe_fds[0], &byte, 1) == 1) ++ready;
  std::vector<double> wall, cpu;
  stemedb::measure::OpenDeletedScan last;
  for (int p = 0; p < passes; ++p) {
    last = stemedb::measure::ScanOpenDeleted({});
    wall.push_back(last.duration_seconds);
    cpu.push_back(last.cpu_seconds);
  }
  for (pid_t pid : children) kill(pid, SIGKILL);
  for (pid_t pid : children) waitpid(pid, nullptr, 0);
  std::printf(
      "children %zu ready %zu, fds each %d; last pass: processes %llu fds "
      "%llu unreadable %llu truncated %d\n"
      "wall per pass: median %.3f s max %.3f s; cpu per pass: median %.3f s "
      "max %.3f s (%d passes)\n",
      children.size(), ready, fds,
      static_cast<unsigned long long>(last.processes),
      static_cast<unsigned long long>(last.fds),
      static_cast<unsigned long long>(last.unreadable_processes),
      last.truncated ? 1 : 0, Median(wall),
      *std::max_element(wall.begin(), wall.end()), Median(cpu),
      *std::max_element(cpu.begin(), cpu.end()), passes);
  return 0;
}
