// The watcher's model of its watched components: one node per directory
// (its direct share, its hard-linked entries, its watch), the directories
// due to be read again, and the hard-link reference counts. Its jobs live in
// separate files:
//   watch_tree.cc       the model: links, dirty marks, subtree removal, totals
//   watch_walk.cc       walking a subtree with watches, rewalks, root checks
//   watch_reread.cc     reading one directory again (whole or per name)
//   watch_reconcile.cc  the reconcile walk and its comparison
//   watch_events.cc     reading inotify events into dirty marks
//
// Thread safety: not thread safe; owned by the watcher's thread (and by the
// thread calling Watcher::Start before that thread runs). The counters in
// WatchContext are atomics read by other threads.
#pragma once

#include <sys/stat.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "stemedb/base/inode_key.h"
#include "stemedb/measure/walk.h"
#include "stemedb/measure/watcher.h"

namespace stemedb::measure::detail {

using Clock = std::chrono::steady_clock;

// How many named entries one directory may remember; beyond, it is read
// whole again (which starts over).
inline constexpr size_t kMaxKnown = 4096;
// Segments remembered at a whole reading (with their mtimes) so that
// dropping the oldest, as a WAL does at every roll, needs no whole reading.
inline constexpr size_t kOldestSegments = 64;
// Entries whose ctime is this much before the events were last read are
// remembered at a whole reading (see Reread): covers events queued while
// the directory was being listed, with room for a coarse clock.
inline constexpr double kRecentSlackSeconds = 5.0;

// A hard-linked inode: how many names each watched directory holds. The
// smallest directory path is the one whose aggregate counts its bytes.
struct LinkRef {
  std::map<std::string, uint32_t> dirs;
  uint64_t allocated = 0;
  uint64_t apparent = 0;
  uint32_t segment_names = 0;  // names of it in or below a segment
};

struct Node {
  int component = 0;
  int wd = -1;
  int depth = 0;
  bool in_segment = false;
  // The directory this node stands for; `deleted` once the kernel said it
  // went (IN_DELETE_SELF, IN_IGNORED). A name that holds another inode, or
  // a deleted node's name holding a directory again, is another directory:
  // its parent's reading drops the node and walks the name anew.
  ino_t inode = 0;
  bool deleted = false;
  // Whether this node still stands for the directory of inode `ino` found
  // under its name.
  bool Holds(ino_t ino) const { return !deleted && inode == ino; }
  DirectoryTotals direct;
  std::vector<LinkedEntry> linked;
  std::set<std::string> children;             // names of subdirectory nodes
  std::shared_ptr<EntryAggregate> aggregate;  // with make_aggregate
  // Per-name updates (see Reread): allowed since the last whole reading;
  // the directory's own inode as counted; the entries whose state is known
  // (as counted: present with its lstat, or absent).
  bool per_name = false;
  uint64_t self_allocated = 0;
  uint64_t self_apparent = 0;
  struct Known {
    bool present = false;
    struct stat st {};
  };
  std::unordered_map<std::string, Known> known;
  // The smallest segment mtimes (all of them when `all_segments`), so the
  // oldest segment can go without a whole reading: the next is known.
  std::multiset<double> oldest_segments;
  bool all_segments = false;
};

// Entries of one directory named by events, with the first event's mask.
// Looked up by string_view (transparent hash): a whole reading checks each
// listed name against it without building a string per entry.
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view name) const {
    return std::hash<std::string_view>()(name);
  }
};
using NamedEntries =
    std::unordered_map<std::string, uint32_t, NameHash, std::equal_to<>>;

// A directory to read again later (quiet, settle): when, and which of its
// entries (all of them: `whole`).
struct Later {
  Clock::time_point at;
  bool whole = false;
  std::set<std::string> names;
  void Name(std::string_view name);
};

struct WatchedComponent {
  bool watched = false;
  bool present = false;
  bool complete = false;
  dev_t device = 0;
  double duration_seconds = 0;
  std::string root;                 // normalised path
  std::optional<Pattern> segments;  // the spec's, compiled once
  // The directory `root` resolved to when it was last walked from scratch.
  std::optional<InodeKey> root_inode;
  std::unordered_map<InodeKey, LinkRef, InodeKeyHash> links;
  // Events read for it, ever: a reconcile walk counts only when this is
  // the same after it as before.
  uint64_t heard = 0;
  // When an event last touched it; until `settle` later, allocated bytes
  // may still change with no event (writeback).
  Clock::time_point last_event{};
};

// What the tree needs of its watcher: the inputs (outliving the tree) and
// the counters other threads read.
struct WatchContext {
  const std::vector<ComponentSpec>& specs;
  const WalkOptions& walk;
  const WatchOptions& options;
  const std::atomic<bool>& stop;
  std::atomic<uint64_t>& events;   // inotify events read
  std::atomic<uint64_t>& watches;  // watches held
};

// The end of `path`'s subtree range in a map ordered by path: every key
// below it starts with path + "/", and '0' follows '/'.
std::string SubtreeEnd(const std::string& path);
std::string ParentOf(const std::string& path);
std::string NameOf(const std::string& path);
// Now + d, or time_point::max() when d is a century or more.
Clock::time_point SaturatingAddNow(std::chrono::milliseconds d);

struct WatchTree {
  explicit WatchTree(const WatchContext& context);

  // --- The model (watch_tree.cc).
  // `dir` holds `linked` now. A directory that stops being an inode's
  // counting one is read again, so its aggregate stops counting it.
  void AddLinks(int c, const std::string& dir,
                const std::vector<LinkedEntry>& linked, bool mark = true);
  // `dir` no longer holds `linked`. The inode's new counting directory is
  // read again, so its aggregate counts it.
  void DropLinks(int c, const std::string& dir,
                 const std::vector<LinkedEntry>& linked, bool mark = true);
  // `dir` is to be read whole.
  void MarkDirty(const std::string& dir);
  // A later reading of `dir` is due: its named entries stat'ed again
  // (st_blocks that changed with no event), or all of it.
  void Due(const std::string& dir, const Later& l);
  // The quiet and settling readings due at `now` (every quiet one when
  // `syncing`) marked dirty and forgotten.
  void TakeDue(Clock::time_point now, bool syncing);
  // An event named entry `name` of `dir`.
  void MarkNamed(const std::string& dir, std::string_view name, uint32_t mask);
  // Whether `dir`'s aggregate counts inode (dev, ino): `dir` is the
  // smallest directory holding it (its own stale count aside), and this is
  // the first of its names there in this reading.
  bool CountsLink(int c, const std::string& dir, dev_t dev, ino_t ino,
                  std::set<std::pair<dev_t, ino_t>>* seen);
  // An inode hard-linked into several components is written through one
  // name, and only that directory hears of it: every component that counts
  // the inode takes the size just read.
  void ShareLinkSizes(int c, const std::vector<LinkedEntry>& linked);
  void CountErrors(int c, const DirectoryTotals& t);
  // Drops `path` and everything below it of the same component: watches,
  // shares, links. Another component's root below it (a cleanup root above
  // component roots, which its walks skip) keeps its nodes and watches.
  void RemoveSubtree(const std::string& path);
  // The component's numbers from its directories' shares.
  ComponentStats Totals(int c, bool with_directories) const;

  // --- Walks (watch_walk.cc).
  // Walks `path` (a component directory at depth 0, or a new subdirectory)
  // adding a watch to each directory before listing it. False when the
  // watch limit was hit (the component then falls back to walks).
  bool WalkSubtree(int c, const std::string& path, int depth, bool in_segment);
  // Walks component `c` from scratch. A watch limit makes it a walked
  // component for good.
  void Build(int c, std::optional<RewalkReason> reason);
  // What component c's path resolves to now (symlinks followed, as a walk
  // does); nullopt when it is not there (or cannot be looked at).
  std::optional<InodeKey> RootInode(int c) const;
  // Resolves every watched component's path afresh (see watch_walk.cc).
  void CheckRoots();
  // Whether component c's directory node was deleted (IN_DELETE_SELF,
  // IN_IGNORED) since it was walked.
  bool RootDeleted(int c) const;
  // A watch was refused in component `c`: it is walked from now on.
  void FallBack(int c);

  // --- Reading a directory again (watch_reread.cc).
  // A subdirectory a whole reading found.
  struct Subdirectory {
    std::string name;
    bool is_segment = false;
    ino_t inode = 0;
  };
  // Reads directory `path` again and replaces its share.
  void Reread(const std::string& path);
  // Rereads until nothing is dirty.
  void Drain();

  // --- Reconcile (watch_reconcile.cc).
  // Walks each watched component and compares. Before each walk, every
  // event queued so far is applied, so the walk starts from the model of
  // now. False on an overflow read meanwhile: the caller walks every
  // watched component again.
  bool Reconcile();
  struct Seen;        // one directory's numbers, to compare
  struct Difference;  // a component's, summed

  // --- Events (watch_events.cc).
  // Reads every queued event; marks directories dirty. False on overflow.
  bool ReadEvents();

  const WatchContext ctx;
  int inotify_fd = -1;  // the watcher's, set before the first Build
  std::vector<WatchedComponent> components;
  std::map<std::string, Node> nodes;  // by path
  std::unordered_map<int, std::string> by_wd;
  std::set<std::string> dirty;
  // Of the dirty directories: those to read whole, and for the others the
  // entries named by their events (with the first event's mask).
  std::set<std::string> whole;
  std::map<std::string, NamedEntries> named;
  double events_read_at = 0;  // wall clock, when ReadEvents last began
  Clock::time_point first_dirty{};
  std::map<std::string, Later> quiet;  // by path
  // path -> end of its writeback window: re-read then (see WatchOptions).
  std::map<std::string, Later> settling;
  std::chrono::milliseconds settle;
  Clock::time_point next_reconcile;
  Clock::time_point next_root_check{};
  bool check_roots_now = false;  // a component directory's own watch fired
  int64_t overflow_after;
  std::vector<WatchInfo> info;
  std::vector<std::array<uint64_t, kErrorReasonCount>> errors;
  std::unique_ptr<char[]> buffer{new char[kScanBufferBytes]};
  bool changed = false;

 private:
  // Parts of WalkSubtree: the walk's options (its on_directory adds the
  // watches, setting *limit_hit when one is refused), and one directory
  // walked made a node.
  WalkOptions SubtreeOptions(int depth, std::atomic<bool>* limit_hit);
  void AddRecord(int c, const DirectoryRecord& r, int depth, bool in_segment);
  // Parts of Reread.
  bool ReadNamed(const std::string& path, Node& node,
                 const NamedEntries& names);
  int OpenForReread(const std::string& path, const Node& node,
                    struct stat* self);
  void ReadWhole(const std::string& path, Node& node, int fd,
                 const struct stat& self, const NamedEntries* names);
  void UpdateLinks(const std::string& path, Node& node,
                   std::vector<LinkedEntry> linked);
  void UpdateChildren(const std::string& path, const Node& node,
                      const std::vector<Subdirectory>& found);
  // Parts of Reconcile.
  Seen NodeSeen(int c, const Node& node) const;
  // `others_heard`: another component heard events during the walk.
  Difference Compare(int c, const ComponentStats& truth, bool others_heard);
  // Whether one of `linked` has names outside component c (a write through
  // such a name is heard only there).
  bool NamedElsewhere(int c, const std::vector<LinkedEntry>& linked) const;
};

}  // namespace stemedb::measure::detail
