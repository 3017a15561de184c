// Keeps component totals current from inotify instead of walking again: one
// first walk (which adds one watch per directory before listing it), then
// every event marks its directory dirty and a dirty directory's direct
// entries are read again (ScanDirectory), replacing its share. Memory is per
// directory (its DirectoryTotals, its subdirectory names, its hard-linked
// entries), never per file.
//
// A directory with at least `per_name_min_entries` entries is not read
// again whole for events that name their entries: only the named entries
// are stat'ed, and their old share is taken back (see ReadNamed in
// watch_reread.cc for why that is exact). A busy WAL directory of 50,000
// segments costs one fstatat per write batch, not 50,000.
//
// Exactness rules:
// - hard links: an inode with st_nlink > 1 is reference-counted across the
//   directories holding it and counted once per component;
// - a subdirectory that appears in a re-read is walked (with watches) at
//   once, catching what was created in it before its watch existed; one that
//   is gone is dropped with its subtree (a renamed directory is both; so
//   is a name that comes to hold another directory: renamed over, or
//   removed and made again, told by its inode and the kernel's
//   IN_DELETE_SELF/IN_IGNORED);
// - a directory modified recently is read once more after `quiet` without
//   events (st_blocks that change later: delayed allocation, XFS
//   preallocation trimmed at close), and again when the kernel's writeback
//   window (`settle`) has passed: writeback allocates blocks (extent-tree
//   blocks of a fragmented file on ext4) up to dirty_expire_centisecs +
//   dirty_writeback_centisecs after the write, with no event;
// - IN_Q_OVERFLOW: every watched component is walked again (reason
//   overflow); running out of watches (ENOSPC): that component falls back to
//   walks (reason watch_limit); a reconcile walk that differs: walked again
//   (reason error); a component path that resolves to another directory
//   than the one watched (its parent moved away and replaced, a symlink on
//   the path changed; checked every second, at every event on the
//   component directory itself and at Sync): walked again (reason
//   replaced). Each counted, logged by the caller.
// - depth: directories deeper than WalkOptions::max_depth below the
//   component are counted as a walk counts them (their inode, reason loop),
//   and directories at any depth are read again (no PATH_MAX limit).
// - a reconcile walk every `reconcile_interval` compares totals; it starts
//   after every event heard so far is applied, and counts only when no
//   event touched the component while it ran (an overflow meanwhile walks
//   every watched component again). It compares directory by directory:
//   when only allocated bytes differ and an event touched the component
//   within the writeback window, that is late allocation (a file written,
//   then renamed or hard-linked here, gets its blocks at writeback), not a
//   missed event; when only hard-linked entries with names in another
//   component differ while another component heard events, that is a write
//   through the other name. Those directories are read again and nothing
//   is counted.
//
// Thread safety: the public methods may be called from any thread. The
// tree is owned by the watcher's thread; readers get published copies.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "stemedb/measure/walk.h"

namespace stemedb::measure {
namespace detail {
struct WatchTree;  // watch_tree.h
}  // namespace detail

enum class RewalkReason : int { kOverflow = 0, kWatchLimit, kError, kReplaced };
inline constexpr int kRewalkReasonCount = 4;
// "overflow", "watch_limit", "error", "replaced".
std::string_view RewalkReasonName(RewalkReason reason);

struct WatchOptions {
  // Events are gathered this long before the dirty directories are read.
  std::chrono::milliseconds coalesce{200};
  // A directory with modified files is read once more after this long
  // without events.
  std::chrono::milliseconds quiet{1000};
  // A directory with modified files is read again this long after the last
  // modification, and until then a reconcile excuses its allocated bytes.
  // 0: the kernel's writeback window (/proc/sys/vm dirty_expire_centisecs +
  // dirty_writeback_centisecs, 35 s by default) plus 5 s.
  std::chrono::milliseconds settle{0};
  std::chrono::milliseconds reconcile_interval = std::chrono::hours(1);
  // A full walk (first, or again) is cut off after this long.
  std::chrono::milliseconds walk_timeout = std::chrono::minutes(5);
  // Directories with fewer entries are always read whole (cheap anyway).
  // Tests set 0 to exercise per-name updates everywhere.
  int64_t per_name_min_entries = 256;
  // Test seams (the exporter's hidden --testing.* flags); < 0: off.
  int64_t overflow_after = -1;  // act as IN_Q_OVERFLOW after N more events
  int64_t max_watches = -1;     // adding watch N+1 fails as ENOSPC does
};

// What the watcher did for one component, for the watch metrics.
struct WatchInfo {
  bool watched = false;  // false: walk mode (refused, or fell back)
  uint64_t reconciles = 0;
  uint64_t reconcile_difference_bytes = 0;
  uint64_t reconcile_difference_entries = 0;
  // Apparent bytes (st_size) that differ: a file resized within its
  // blocks differs in these alone. Logged, not exported.
  uint64_t reconcile_difference_apparent_bytes = 0;
  std::string reconcile_difference_path;  // the first directory that differed
  // Directories read again after events: whole (every entry stat'ed) or
  // only the entries the events named.
  uint64_t whole_reads = 0;
  uint64_t named_reads = 0;
  std::array<uint64_t, kRewalkReasonCount> rewalks{};
};

class Watcher {
 public:
  // Component i is watched when watch[i] (else the caller walks it).
  Watcher(std::vector<ComponentSpec> specs, WalkOptions walk,
          WatchOptions options, std::vector<bool> watch);
  ~Watcher();  // Stop()s
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Walks every watched component (adding watches), then starts the thread.
  // `changed` is called on the watcher's thread after each change is
  // published (no lock held). When inotify cannot be had at all, no
  // component is watched.
  void Start(std::function<void()> changed);
  // Stops and joins the thread; removes the watches. Idempotent.
  void Stop();

  // The current numbers, parallel to the specs; for components not watched
  // the entry is empty (name only). `errors` hold what was met since the
  // previous call (so a caller that sums them counts each once).
  std::vector<ComponentStats> TakeStats(bool with_directories);
  std::vector<WatchInfo> Info() const;
  uint64_t Events() const;       // inotify events read
  uint64_t Directories() const;  // watches held

  // Blocks until every event queued before the call has been applied,
  // quiet re-reads included, every component path resolved afresh (a
  // replaced one walked again), and published. For tests and benchmarks.
  void Sync();

 private:
  void Run();
  // Waits (poll) until an event, a wake-up or the next timer.
  void WaitForWork(bool any_watched);
  // One round after waking: events read, roots checked, due and dirty
  // directories read, a reconcile when due.
  void Step(bool syncing, bool any_watched);
  // Events were lost (IN_Q_OVERFLOW): every watched component is walked
  // again from scratch.
  void WalkAfterOverflow();
  void Publish();

  const std::vector<ComponentSpec> specs_;
  const WalkOptions walk_;
  const WatchOptions options_;
  std::unique_ptr<detail::WatchTree>
      tree_;  // the watcher thread's, after Start
  std::function<void()> changed_;
  int inotify_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop and Sync wake the thread
  std::thread thread_;
  std::atomic<bool> stop_{false};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ComponentStats> published_;  // guarded by mu_
  std::vector<WatchInfo> info_;            // guarded by mu_
  std::vector<std::array<uint64_t, kErrorReasonCount>> new_errors_;  // mu_
  uint64_t sync_requested_ = 0;  // guarded by mu_
  uint64_t sync_done_ = 0;       // guarded by mu_
  std::atomic<uint64_t> events_{0};
  std::atomic<uint64_t> watches_{0};
};

}  // namespace stemedb::measure
