// Space held by deleted files that a process still has open: what df
// counts and du cannot see (`lsof +L1`). One pass reads /proc/*/fd: every
// descriptor whose link ends in " (deleted)" is stat'ed through /proc (the
// open file itself) and, when its inode has no name left (st_nlink == 0),
// its st_blocks * 512 are added to its filesystem, each inode once.
//
// Seeing other users' processes takes privileges: listing /proc/PID/fd of
// another user needs CAP_DAC_READ_SEARCH, and reading or stat'ing its links
// a PTRACE_MODE_READ check (proc(5)), i.e. CAP_SYS_PTRACE. A process that
// cannot be read is counted as unreadable, so the caller reports the bytes
// as unknown rather than as 0.
//
// Thread safety: ScanOpenDeleted is reentrant (no shared state).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace stemedb::measure {

// What one pass may cost at most.
struct OpenDeletedOptions {
  std::string proc_root = "/proc";  // tests may point it elsewhere
  uint64_t max_processes = 100000;  // processes looked at per pass
  uint64_t max_fds = 1000000;       // descriptors looked at per pass
  // Wall time of one pass; checked between processes.
  std::chrono::milliseconds budget{5000};
  size_t max_holders = 20;  // holders kept, the largest
};

// One process holding one deleted file open.
struct DeletedOpenHolder {
  pid_t pid = 0;
  uid_t uid = 0;
  std::string command;  // /proc/PID/comm
  std::string path;     // the link, " (deleted)" taken off
  dev_t device = 0;
  uint64_t bytes = 0;  // st_blocks * 512
};

struct OpenDeletedScan {
  // st_dev -> bytes of deleted-but-open inodes on it, each inode once.
  std::map<dev_t, uint64_t> bytes_by_device;
  uint64_t processes = 0;  // looked at (vanished ones not counted)
  uint64_t fds = 0;        // descriptors looked at
  // Processes whose descriptors could not be listed or read (EACCES,
  // EPERM): what they hold is unknown.
  uint64_t unreadable_processes = 0;
  bool truncated = false;  // a limit of OpenDeletedOptions cut the pass short
  double duration_seconds = 0;  // wall time
  double cpu_seconds = 0;       // of the calling thread, user + system
  // The largest holders (bytes, then pid), at most max_holders.
  std::vector<DeletedOpenHolder> holders;

  // Every process was read and no limit was hit: the bytes are the truth.
  bool complete() const { return unreadable_processes == 0 && !truncated; }
};

// One pass over `options.proc_root`. Processes that exit meanwhile are
// skipped; never fails (a /proc that cannot be listed makes a truncated,
// empty result).
OpenDeletedScan ScanOpenDeleted(const OpenDeletedOptions& options);

}  // namespace stemedb::measure
