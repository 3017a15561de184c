// Walks the component directories of a StemeDB layout and turns files into
// numbers. Knows nothing of Prometheus or HTTP.
//
// Two levels: ScanDirectory accounts for ONE directory's direct entries (the
// primitive both the full walk and the watcher use); ScanComponents walks
// whole components with a pool of threads, built of ScanDirectory calls.
//
// Thread safety: ScanComponents is reentrant; it starts and joins its own
// worker threads and shares no state between calls. ScanDirectory is
// reentrant; what it shares (a LinkSet) is internally locked.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "stemedb/base/inode_key.h"
#include "stemedb/config/pattern.h"

namespace stemedb::measure {

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

// What one directory's direct entries add up to; also the sum of many
// directories (a subtree, a component): Merge is the one totals merge.
//
// Counting rules (like du): the directory's own inode and every
// non-directory entry, st_blocks * 512 and st_size; an inode with
// st_nlink > 1 counted once (see LinkSet and ScanDirectory). A subdirectory
// that is walked counts its own inode in its own totals; one that is not
// (beyond max_depth) counts it here.
struct DirectoryTotals {
  uint64_t allocated_bytes = 0;
  uint64_t apparent_bytes = 0;
  uint64_t files = 0;           // non-directory entries (hard links every time)
  uint64_t directories = 0;     // directory inodes counted here (itself: 1)
  uint64_t subdirectories = 0;  // direct entries that are directories
  // Segments among the entries (only the component directory has them):
  // count and the segments' own mtimes (seconds since the epoch).
  uint64_t segments = 0;
  double oldest_segment_mtime = std::numeric_limits<double>::infinity();
  double newest_segment_mtime = -std::numeric_limits<double>::infinity();
  // Of allocated_bytes, what belongs to segments: matching files, and all of
  // a directory below (or being) a directory segment.
  uint64_t segment_allocated_bytes = 0;
  std::array<uint64_t, kErrorReasonCount> errors{};  // by ErrorReason

  // Direct entries, for "directories by entry count".
  uint64_t entries() const { return files + subdirectories; }
  void Error(ErrorReason reason) { ++errors[static_cast<int>(reason)]; }
  void Segment(double mtime);
  void Merge(const DirectoryTotals& other);
  // Removes what Merge added (the watcher replaces a directory's share).
  // Segment mtimes cannot be subtracted; the caller recomputes them.
  void Subtract(const DirectoryTotals& other);
};

// Inodes with st_nlink > 1 already counted, so a file with several names is
// counted once. Holds only those inodes, so memory follows the number of
// hard-linked files, not of all files. Thread safe.
class LinkSet {
 public:
  // True the first time an inode is seen.
  bool FirstSighting(dev_t dev, ino_t ino);

 private:
  std::mutex mu_;
  std::unordered_set<InodeKey, InodeKeyHash> seen_;  // guarded by mu_
};

// A hard-linked entry that ScanDirectory left out of the totals because it
// was given no LinkSet: the caller counts such inodes itself (the watcher
// keeps a reference count per inode across directories).
struct LinkedEntry {
  dev_t dev = 0;
  ino_t ino = 0;
  uint64_t allocated_bytes = 0;
  uint64_t apparent_bytes = 0;
  bool in_segment = false;  // a segment or below one
  std::string name;         // its name in the directory
  nlink_t nlink = 0;
};

// One directory entry as ScanDirectory saw it, for per-entry aggregation
// (cleanup rules). Valid only during the call.
struct EntryInfo {
  int component = 0;           // index into the walk's specs
  std::string_view directory;  // full path of the directory listed
  std::string_view name;
  const struct stat* st = nullptr;  // lstat of the entry
  int depth = 0;                    // of the directory (component directory: 0)
  bool counted = true;      // false: a hard link whose inode counted before
  bool is_segment = false;  // matches the component's segment pattern
  bool in_segment = false;  // the directory is (below) a directory segment
};

// Per-entry aggregation plugged into every directory scan: one object per
// worker thread and component, so Add needs no locking; merged after the
// walk. Add must not block or do I/O (it runs inside the walk's hot loop).
class EntryAggregate {
 public:
  virtual ~EntryAggregate() = default;
  virtual void Add(const EntryInfo& entry) = 0;
  // Takes back what Add(entry) added, `entry` being exactly as it was
  // added (the watcher's per-name updates). False when it cannot be done
  // exactly (e.g. a minimum that would have to be recomputed): the caller
  // then builds the aggregate again from a full listing.
  virtual bool Remove(const EntryInfo& /*entry*/) { return false; }
  // Adds `other` (made by the same factory) into this.
  virtual void Merge(const EntryAggregate& other) = 0;
};
// Makes an empty aggregate for component index `component`.
using AggregateFactory =
    std::function<std::unique_ptr<EntryAggregate>(int component)>;

// Test seams of the walk (leveldb's Options style): calls a walk makes at
// points where a test must act deterministically. The defaults (empty) are
// production; the exporter binary never sets them.
struct WalkHooks {
  // Called after a batch of entries of the directory at `dir_path` has been
  // read and before they are stat'ed, so a test can remove an entry mid-walk
  // or block a walker. Runs on a worker thread, possibly on several at once:
  // it must be safe to call concurrently. While empty the walk pays one check
  // per batch.
  std::function<void(std::string_view dir_path)> after_read_dir;
};

// What ScanDirectory is to list and how to count it.
struct DirectoryScan {
  int fd = -1;            // the directory, open for reading
  std::string_view path;  // its full path (for EntryInfo and test hooks)
  const struct stat* self = nullptr;  // its own lstat; null: not counted
  int component = 0;
  int depth = 0;            // component directory: 0
  bool in_segment = false;  // the directory is (below) a directory segment
  // The compiled glob for segments among the entries; null for none (the
  // walk sets it for the component directory only).
  const Pattern* segments = nullptr;
  // With one_filesystem, entries on another st_dev are left out entirely.
  bool one_filesystem = true;
  dev_t device = 0;
  // Hard links: with `linked` null, an inode with st_nlink > 1 is counted
  // at its first sighting in `links` (shared by the walk). With `linked`
  // set, hard-linked entries are appended there and not counted in the
  // totals (the caller counts them); an aggregate then sees one of the
  // names as counted: the one `count_linked` says, else the first in
  // `links` (if any).
  LinkSet* links = nullptr;
  std::vector<LinkedEntry>* linked = nullptr;
  std::function<bool(dev_t dev, ino_t ino)> count_linked;
  EntryAggregate* aggregate = nullptr;  // may be null
  const WalkHooks* hooks = nullptr;     // test seams; null: none
};

// Opens the directory at absolute `path` for reading (O_DIRECTORY,
// close-on-exec); `follow`: its last component may be a symlink. A path
// longer than PATH_MAX is opened in pieces, each relative to the last, so
// directories any depth below a component can be opened again by path (a
// single open fails with ENAMETOOLONG past about 4,096 bytes). Returns the
// descriptor (the caller closes it), or -1 with errno set.
int OpenDirectory(std::string_view path, bool follow);

// Callbacks from ScanDirectory.
class DirectoryVisitor {
 public:
  virtual ~DirectoryVisitor() = default;
  // Polled every few thousand entries; true abandons the directory.
  virtual bool ShouldStop() { return false; }
  // A subdirectory entry on the counted filesystem. Return false to count it
  // here instead (its inode in this directory's totals) and not descend.
  virtual bool Subdirectory(std::string_view name, const struct stat& st,
                            bool is_segment) = 0;
  // After each batch of entries read (one getdents64 buffer).
  virtual void BatchDone() {}
  // An entry could not be stat'ed for lack of descriptors or memory: the
  // totals are short of it for a reason that is the scanner's own.
  virtual void OutOfResources() {}
};

// Lists the directory `scan.fd` once (never following symlinks), lstats
// every entry and adds the directory's own inode and its direct
// non-directory entries to *totals; subdirectories go to the visitor.
// Tolerates entries vanishing between listing and stat (counted as
// ErrorReason::kVanished). `buffer` is scratch space of `buffer_size` bytes
// (large: 256 KiB cuts syscalls). Returns false when the visitor stopped it.
bool ScanDirectory(const DirectoryScan& scan, DirectoryVisitor& visitor,
                   char* buffer, size_t buffer_size, DirectoryTotals* totals);

// A scratch buffer size for ScanDirectory.
inline constexpr size_t kScanBufferBytes = 256 * 1024;

// One directory of a walk with WalkOptions::record_directories.
struct DirectoryRecord {
  std::string path;            // full path
  int depth = 0;               // component directory: 0
  ino_t inode = 0;             // its own inode number, as listed
  DirectoryTotals direct;      // its own inode and direct entries
  DirectoryTotals cumulative;  // the whole subtree, itself included
  // With WalkOptions::collect_links: its hard-linked entries (not in the
  // totals above).
  std::vector<LinkedEntry> linked;
  int64_t tag = -1;  // what WalkOptions::on_directory returned for it
  // With WalkOptions::per_directory_aggregates: its entries' aggregate.
  std::shared_ptr<EntryAggregate> aggregate;
};

// What to walk.
struct ComponentSpec {
  std::string name;
  std::string path;  // absolute
  // Glob (fnmatch(3) meaning, see stemedb/pattern.h); empty: no segments.
  std::string segment_pattern;
  // Full paths of subdirectories not entered nor counted here (another
  // spec walks them: the components below a cleanup rule's extra root).
  std::vector<std::string> skip;
};

// The spec's segment_pattern compiled once for a walk, or nullopt when it is
// empty or not a glob (the config loader refuses those; then no entry is a
// segment).
std::optional<Pattern> SegmentGlob(const ComponentSpec& spec);

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
  // Keep one DirectoryRecord per directory (ComponentStats::directory_list):
  // memory grows with the number of directories, not of files.
  bool record_directories = false;
  // When set, every entry of every listed directory goes to an aggregate
  // made by it (ComponentStats::aggregate).
  AggregateFactory make_aggregate;
  // With record_directories: hard-linked entries go to each record's
  // `linked` instead of being counted once per component (the watcher keeps
  // their reference counts itself).
  bool collect_links = false;
  // With record_directories and make_aggregate: one aggregate per directory
  // (DirectoryRecord::aggregate; the watcher replaces a directory's share)
  // instead of one per component.
  bool per_directory_aggregates = false;
  // Called on a worker thread for each directory after it is opened and
  // before it is listed (the watcher adds its watch here, so nothing that
  // changes during the listing is missed); the result is the record's tag.
  std::function<int64_t(int fd, std::string_view path)> on_directory;
  // Test seams, given to every ScanDirectory of the walk (and of a Watcher
  // made with these options). Default: none.
  WalkHooks hooks;
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
  // The state of these numbers, not a count of events: entries they leave
  // out, by ErrorReason, in the directories as last read (vanished entries
  // are gone, so never unaccounted). All zero: every entry is counted.
  std::array<uint64_t, kErrorReasonCount> unaccounted{};
  // Directories holding them (one that could not be opened, or whose
  // entries could not be stat'ed): at most kMaxUnaccountedPaths, sorted.
  std::vector<std::string> unaccounted_paths;
  double duration_seconds = 0;  // wall time from start to this one's end
  // With WalkOptions::record_directories: every directory walked, sorted by
  // path, cumulative totals filled. Shared, as snapshots copy stats.
  std::shared_ptr<const std::vector<DirectoryRecord>> directory_list;
  // With WalkOptions::make_aggregate: the merged per-entry aggregate.
  std::shared_ptr<const EntryAggregate> aggregate;
};

// How many directories ComponentStats::unaccounted_paths names at most.
inline constexpr size_t kMaxUnaccountedPaths = 20;

// The entries `errors` leave out of the numbers: all but the vanished.
std::array<uint64_t, kErrorReasonCount> UnaccountedOf(
    const std::array<uint64_t, kErrorReasonCount>& errors);
// Whether a directory whose totals met `errors` leaves entries out.
bool LeavesOut(const std::array<uint64_t, kErrorReasonCount>& errors);
// Appends `path` to *paths while it holds fewer than kMaxUnaccountedPaths.
void AddUnaccountedPath(std::string_view path, std::vector<std::string>* paths);

// Fills a component's numbers from the sum of its directories' totals
// (unaccounted from its errors; the paths are the caller's).
void SetTotals(const DirectoryTotals& totals, ComponentStats* stats);

// Fills each record's cumulative totals from the direct ones (a record's
// parent is the record whose path is its path up to the last '/').
void ComputeCumulative(std::vector<DirectoryRecord>* records);

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

}  // namespace stemedb::measure
