// Walks the component directories of a StemeDB layout and turns files into
// numbers. Knows nothing of Prometheus or HTTP.
//
// Thread safety: ScanComponents is reentrant; it starts and joins its own
// worker threads and shares no state between calls.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stemedb::scanner {

// Why an entry could not be accounted for. A small fixed set, so it can be a
// label value without a cardinality risk.
enum class ErrorReason : int {
  kPermission = 0,  // EACCES / EPERM
  kVanished,        // ENOENT / ESTALE: removed between readdir and stat
  kLoop,            // ELOOP, or deeper than ScanOptions::max_depth
  kTimeout,         // the walk was cut off at its deadline
  kOther,           // anything else (EIO, ENOMEM, ...)
};
inline constexpr int kErrorReasonCount = 5;

// "permission", "vanished", "loop", "timeout", "other".
std::string_view ReasonName(ErrorReason reason);

// What to walk.
struct ComponentSpec {
  std::string name;
  std::string path;             // absolute
  std::string segment_pattern;  // fnmatch glob; empty: no segments
};

struct WalkOptions {
  int threads = 2;             // >= 1
  bool one_filesystem = true;  // do not descend into directories on another
                               // st_dev than the component's own directory
                               // (like du -x, such entries are not counted)
  int max_depth = 256;         // deeper directories: ErrorReason::kLoop
  // Work stops at this instant; the stats of unfinished components are
  // marked incomplete and one kTimeout error is counted for each.
  std::chrono::steady_clock::time_point deadline =
      std::chrono::steady_clock::time_point::max();
  // Checked between directories; set to stop early (e.g. on shutdown).
  const std::atomic<bool>* cancel = nullptr;
};

struct SegmentStats {
  uint64_t count = 0;
  uint64_t allocated_bytes = 0;  // whole subtree for directory segments
  // Seconds since the epoch (with sub-second part) of the segments' own
  // mtimes; meaningful only when count > 0.
  double oldest_mtime = 0;
  double newest_mtime = 0;
};

struct ComponentStats {
  std::string name;
  bool present = false;  // the component directory exists and is a directory
  // Walked to the end: no timeout, no cancel, and the component directory
  // itself could be opened (an unreadable one is present but incomplete).
  bool complete = false;
  dev_t device = 0;  // st_dev of the component directory, when present
  // Like du: st_blocks * 512 of every entry including directories and the
  // component directory itself; an inode with st_nlink > 1 counted once.
  uint64_t allocated_bytes = 0;
  uint64_t apparent_bytes = 0;  // st_size, same counting rules
  uint64_t files = 0;           // every non-directory entry (hard links too)
  uint64_t directories = 0;     // including the component directory itself
  bool has_segments = false;    // segment_pattern was set
  SegmentStats segments;
  std::array<uint64_t, kErrorReasonCount> errors{};  // by ErrorReason
  double duration_seconds = 0;  // wall time from start to this one's end
};

// Walks every component with one shared pool of `options.threads` workers (so
// both cores stay busy even when one component is a single flat directory).
// Never follows symlinks; tolerates entries vanishing mid-walk; one error
// never stops the walk. A missing component is returned with present=false
// and complete=true; one whose existence cannot be checked (EACCES on a
// parent directory, ELOOP, EIO) with present=false, complete=false and the
// error counted.
// Memory does not grow with the number of files: no per-file allocation, and
// the hard-link set holds only inodes with st_nlink > 1.
// Returns one ComponentStats per spec, in the same order.
std::vector<ComponentStats> ScanComponents(
    const std::vector<ComponentSpec>& components, const WalkOptions& options);

}  // namespace stemedb::scanner
