#include "stemedb/measure/watcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "stemedb/base/paths.h"

namespace stemedb::measure {

std::string_view RewalkReasonName(RewalkReason reason) {
  switch (reason) {
    case RewalkReason::kOverflow:
      return "overflow";
    case RewalkReason::kWatchLimit:
      return "watch_limit";
    case RewalkReason::kError:
      return "error";
    case RewalkReason::kReplaced:
      return "replaced";
  }
  return "error";
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kWatchMask =
    IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB |
    IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
// A component's path is resolved afresh this often: a missing directory
// is looked for, and one replaced behind the watches (its parent moved
// away, a symlink on its path changed: no event reaches a watch below) is
// noticed by its device and inode.
constexpr std::chrono::milliseconds kRootCheck{1000};

struct InodeKey {
  dev_t dev;
  ino_t ino;
  bool operator==(const InodeKey&) const = default;
};
struct InodeKeyHash {
  size_t operator()(const InodeKey& k) const {
    return std::hash<uint64_t>()(static_cast<uint64_t>(k.ino) *
                                     0x9e3779b97f4a7c15ULL ^
                                 static_cast<uint64_t>(k.dev));
  }
};

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

// How many named entries one directory may remember; beyond, it is read
// whole again (which starts over).
constexpr size_t kMaxKnown = 4096;
// Segments remembered at a whole reading (with their mtimes) so that
// dropping the oldest, as a WAL does at every roll, needs no whole reading.
constexpr size_t kOldestSegments = 64;
// Entries whose ctime is this much before the events were last read are
// remembered at a whole reading (see Reread): covers events queued while
// the directory was being listed, with room for a coarse clock.
constexpr double kRecentSlackSeconds = 5.0;

double Seconds(const struct timespec& ts) {
  return static_cast<double>(ts.tv_sec) +
         static_cast<double>(ts.tv_nsec) * 1e-9;
}

double WallNow() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return Seconds(ts);
}

// Forwards every entry of a whole reading to the directory's aggregate and
// remembers those changed recently (ctime at or after `since`), those the
// events behind this reading named (`named`, may be null), and the
// kOldestSegments oldest segments.
class Remember : public EntryAggregate {
 public:
  Remember(EntryAggregate* inner, double since, const NamedEntries* named)
      : inner_(inner), since_(since), named_(named) {}
  void Add(const EntryInfo& e) override {
    if (inner_ != nullptr) inner_->Add(e);
    if (S_ISDIR(e.st->st_mode)) {
      // A directory segment (a backup set) is not in oldest_.
      if (e.is_segment) overflow_ = true;
      // Listed, so not absent (ReadNamed leaves directories to whole
      // readings).
      if (!overflow_ && named_ != nullptr && named_->contains(e.name)) {
        known_[std::string(e.name)] = {true, *e.st};
      }
      return;
    }
    if (e.is_segment) {
      ++segments_;
      oldest_.emplace(Seconds(e.st->st_mtim),
                      std::make_pair(std::string(e.name), *e.st));
      if (oldest_.size() > kOldestSegments)
        oldest_.erase(std::prev(oldest_.end()));
    }
    if (overflow_) return;
    if (Seconds(e.st->st_ctim) < since_ &&
        (named_ == nullptr || !named_->contains(e.name))) {
      return;
    }
    if (known_.size() >= kMaxKnown) {
      overflow_ = true;
      known_.clear();
      return;
    }
    known_[std::string(e.name)] = {true, *e.st};
  }
  void Merge(const EntryAggregate&) override {}
  // Into `node`, when it may take per-name updates.
  bool Into(Node* node) {
    node->known.clear();
    node->oldest_segments.clear();
    if (overflow_) return false;
    node->known = std::move(known_);
    for (auto& [mtime, entry] : oldest_) {
      node->oldest_segments.insert(mtime);
      node->known[entry.first] = {true, entry.second};
    }
    node->all_segments = segments_ == oldest_.size();
    // Named by an event read before this listing, yet not listed: gone
    // before the listing reached it, so not counted; its IN_DELETE may
    // still be queued.
    if (named_ != nullptr) {
      for (const auto& [name, mask] : *named_) {
        node->known.try_emplace(name);  // absent
      }
    }
    return true;
  }

 private:
  EntryAggregate* inner_;
  double since_;
  const NamedEntries* named_;
  bool overflow_ = false;
  std::unordered_map<std::string, Node::Known> known_;
  std::multimap<double, std::pair<std::string, struct stat>> oldest_;
  size_t segments_ = 0;
};

// The end of `path`'s subtree range in a map ordered by path: every key
// below it starts with path + "/", and '0' follows '/'.
std::string SubtreeEnd(const std::string& path) {
  return path == "/" ? std::string("0") : path + "0";
}

std::string ParentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string NameOf(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

// How long after a write the kernel may still allocate its blocks: dirty
// pages expire after dirty_expire_centisecs and the flusher wakes every
// dirty_writeback_centisecs; 5 s more for the writeback itself.
std::chrono::milliseconds WritebackWindow() {
  auto centisecs = [](const char* path, int64_t fallback) {
    int64_t value = fallback;
    if (FILE* f = std::fopen(path, "re")) {
      long long v = 0;
      if (std::fscanf(f, "%lld", &v) == 1 && v >= 0 && v < 8640000) value = v;
      std::fclose(f);
    }
    return value;
  };
  const int64_t cs = centisecs("/proc/sys/vm/dirty_expire_centisecs", 3000) +
                     centisecs("/proc/sys/vm/dirty_writeback_centisecs", 500);
  return std::chrono::milliseconds(cs * 10 + 5000);
}

std::string Join(const std::string& dir, std::string_view name) {
  std::string out = dir;
  if (out.back() != '/') out += '/';
  out += name;
  return out;
}

}  // namespace

struct Watcher::Tree {
  struct Component {
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
    // Events read for it since the reconcile walk began.
    uint64_t touched = 0;
    // When an event last touched it; until `settle` later, allocated bytes
    // may still change with no event (writeback).
    Clock::time_point last_event{};
  };

  Watcher& w;
  std::vector<Component> components;
  std::map<std::string, Node> nodes;  // by path
  std::unordered_map<int, std::string> by_wd;
  std::set<std::string> dirty;
  // Of the dirty directories: those to read whole, and for the others the
  // entries named by their events (with the first event's mask).
  std::set<std::string> whole;
  std::map<std::string, NamedEntries> named;
  double events_read_at = 0;  // wall clock, when ReadEvents last began
  Clock::time_point first_dirty{};
  // A directory to read again later (quiet, settle): when, and which of
  // its entries (all of them: `whole`).
  struct Later {
    Clock::time_point at;
    bool whole = false;
    std::set<std::string> names;
    void Name(std::string_view name) {
      if (whole) return;
      if (names.size() >= kMaxKnown) {
        whole = true;
        names.clear();
        return;
      }
      names.emplace(name);
    }
  };
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

  explicit Tree(Watcher& watcher)
      : w(watcher),
        components(watcher.specs_.size()),
        settle(watcher.options_.settle.count() > 0 ? watcher.options_.settle
                                                   : WritebackWindow()),
        overflow_after(watcher.options_.overflow_after),
        info(watcher.specs_.size()),
        errors(watcher.specs_.size()) {}

  // `dir` holds `linked` now. A directory that stops being an inode's
  // counting one is read again, so its aggregate stops counting it.
  void AddLinks(int c, const std::string& dir,
                const std::vector<LinkedEntry>& linked, bool mark = true) {
    for (const LinkedEntry& e : linked) {
      LinkRef& ref = components[c].links[InodeKey{e.dev, e.ino}];
      if (mark && !ref.dirs.empty() && dir < ref.dirs.begin()->first) {
        MarkDirty(ref.dirs.begin()->first);
      }
      ++ref.dirs[dir];
      ref.allocated = e.allocated_bytes;
      ref.apparent = e.apparent_bytes;
      if (e.in_segment) ++ref.segment_names;
    }
  }

  // `dir` no longer holds `linked`. The inode's new counting directory is
  // read again, so its aggregate counts it.
  void DropLinks(int c, const std::string& dir,
                 const std::vector<LinkedEntry>& linked, bool mark = true) {
    auto& links = components[c].links;
    for (const LinkedEntry& e : linked) {
      auto it = links.find(InodeKey{e.dev, e.ino});
      if (it == links.end()) continue;
      auto& dirs = it->second.dirs;
      auto held = dirs.find(dir);
      if (held == dirs.end()) continue;
      const bool was_first = held == dirs.begin();
      if (e.in_segment && it->second.segment_names > 0) {
        --it->second.segment_names;
      }
      if (--held->second == 0) dirs.erase(held);
      if (dirs.empty()) {
        links.erase(it);
      } else if (mark && was_first && dirs.begin()->first != dir) {
        MarkDirty(dirs.begin()->first);
      }
    }
  }

  // `dir` is to be read whole.
  void MarkDirty(const std::string& dir) {
    if (!nodes.contains(dir)) return;
    if (dirty.empty()) first_dirty = Clock::now();
    dirty.insert(dir);
    whole.insert(dir);
  }

  // A later reading of `dir` is due: its named entries stat'ed again
  // (st_blocks that changed with no event), or all of it.
  void Due(const std::string& dir, const Later& l) {
    if (l.whole || l.names.empty()) {
      MarkDirty(dir);
      return;
    }
    if (!nodes.contains(dir)) return;
    for (const std::string& name : l.names) MarkNamed(dir, name, IN_MODIFY);
  }

  // An event named entry `name` of `dir`.
  void MarkNamed(const std::string& dir, std::string_view name, uint32_t mask) {
    if (dirty.empty()) first_dirty = Clock::now();
    dirty.insert(dir);
    if (whole.contains(dir)) return;
    auto& names = named[dir];
    if (names.size() >= kMaxKnown) {
      whole.insert(dir);
      named.erase(dir);
      return;
    }
    names.try_emplace(std::string(name), mask);
  }

  // Whether `dir`'s aggregate counts inode (dev, ino): `dir` is the
  // smallest directory holding it (its own stale count aside), and this is
  // the first of its names there in this reading.
  bool CountsLink(int c, const std::string& dir, dev_t dev, ino_t ino,
                  std::set<std::pair<dev_t, ino_t>>* seen) {
    if (!seen->emplace(dev, ino).second) return false;
    const auto& links = components[c].links;
    auto it = links.find(InodeKey{dev, ino});
    if (it == links.end()) return true;
    for (const auto& [holder, count] : it->second.dirs) {
      if (holder == dir) continue;
      return dir < holder;
    }
    return true;
  }

  // An inode hard-linked into several components is written through one
  // name, and only that directory hears of it: every component that counts
  // the inode takes the size just read.
  void ShareLinkSizes(int c, const std::vector<LinkedEntry>& linked) {
    if (components.size() < 2) return;
    for (const LinkedEntry& e : linked) {
      for (size_t k = 0; k < components.size(); ++k) {
        if (static_cast<int>(k) == c) continue;
        auto ref = components[k].links.find(InodeKey{e.dev, e.ino});
        if (ref == components[k].links.end()) continue;
        if (ref->second.allocated != e.allocated_bytes ||
            ref->second.apparent != e.apparent_bytes) {
          ref->second.allocated = e.allocated_bytes;
          ref->second.apparent = e.apparent_bytes;
          changed = true;
        }
      }
    }
  }

  void CountErrors(int c, const DirectoryTotals& t) {
    for (int k = 0; k < kErrorReasonCount; ++k) errors[c][k] += t.errors[k];
  }

  // Drops `path` and everything below it of the same component: watches,
  // shares, links. Another component's root below it (a cleanup root above
  // component roots, which its walks skip) keeps its nodes and watches.
  void RemoveSubtree(const std::string& path) {
    auto first = nodes.lower_bound(path);
    if (first == nodes.end() || first->first != path) return;
    const int c = first->second.component;
    auto last = nodes.lower_bound(SubtreeEnd(path));
    // Keys between path and path + "/" (e.g. "a b" after "a") are siblings.
    for (auto it = first; it != last;) {
      if (it->second.component != c ||
          (it->first != path && !it->first.starts_with(path + "/"))) {
        ++it;
        continue;
      }
      Node& node = it->second;
      if (node.wd >= 0) {
        inotify_rm_watch(w.inotify_fd_, node.wd);
        by_wd.erase(node.wd);
        w.watches_.fetch_sub(1, std::memory_order_relaxed);
      }
      DropLinks(node.component, it->first, node.linked);
      dirty.erase(it->first);
      whole.erase(it->first);
      named.erase(it->first);
      quiet.erase(it->first);
      settling.erase(it->first);
      it = nodes.erase(it);
    }
    auto parent = nodes.find(ParentOf(path));
    if (parent != nodes.end() && parent->second.component == c) {
      parent->second.children.erase(NameOf(path));
    }
    changed = true;
  }

  // Walks `path` (a component directory at depth 0, or a new subdirectory)
  // adding a watch to each directory before listing it. False when the
  // watch limit was hit (the component then falls back to walks).
  bool WalkSubtree(int c, const std::string& path, int depth, bool in_segment) {
    const ComponentSpec& spec = w.specs_[c];
    const bool node_aggregates = static_cast<bool>(w.walk_.make_aggregate);
    WalkOptions options = w.walk_;
    options.record_directories = true;
    options.collect_links = true;
    options.per_directory_aggregates = true;
    options.deadline = SaturatingAddNow(w.options_.walk_timeout);
    options.cancel = &w.stop_;
    std::atomic<bool> limit_hit{false};
    options.on_directory = [this, &limit_hit](int fd,
                                              std::string_view) -> int64_t {
      const int64_t max = w.options_.max_watches;
      if (max >= 0 && static_cast<int64_t>(w.watches_.fetch_add(
                          1, std::memory_order_relaxed)) >= max) {
        w.watches_.fetch_sub(1, std::memory_order_relaxed);
        limit_hit = true;
        return -1;
      }
      if (max < 0) w.watches_.fetch_add(1, std::memory_order_relaxed);
      // Through the descriptor the walk opened (no symlink on the way), so
      // the watch is on the directory listed, whatever its path is now.
      const std::string proc = "/proc/self/fd/" + std::to_string(fd);
      const int wd = inotify_add_watch(w.inotify_fd_, proc.c_str(), kWatchMask);
      if (wd < 0) {
        w.watches_.fetch_sub(1, std::memory_order_relaxed);
        // Out of watches (ENOSPC), or refused otherwise: a directory that
        // is not watched would go stale, so the component is walked.
        limit_hit = true;
      }
      return wd;
    };
    // The depth limit is the component's, not the subtree's: a subtree
    // walked at `depth` goes as deep below the component as a full walk.
    options.max_depth = std::max(0, w.walk_.max_depth - depth);
    ComponentSpec sub = spec;
    sub.path = path;
    if (depth != 0) sub.segment_pattern.clear();
    std::vector<ComponentStats> result = ScanComponents({sub}, options);
    ComponentStats& stats = result[0];
    if (depth == 0) {
      Component& comp = components[c];
      comp.present = stats.present;
      comp.complete = stats.complete;
      comp.device = stats.device;
      comp.duration_seconds = stats.duration_seconds;
    } else if (!stats.complete) {
      components[c].complete = false;
    }
    for (int k = 0; k < kErrorReasonCount; ++k) errors[c][k] += stats.errors[k];
    if (stats.directory_list == nullptr) return !limit_hit;
    for (const DirectoryRecord& r : *stats.directory_list) {
      const int wd = static_cast<int>(r.tag);
      Node node;
      node.component = c;
      node.depth = depth + r.depth;
      node.direct = r.direct;
      node.linked = r.linked;
      node.aggregate = r.aggregate;
      node.in_segment = in_segment;
      if (r.depth > 0) {
        const auto parent = nodes.find(ParentOf(r.path));
        if (parent != nodes.end()) {
          parent->second.children.insert(NameOf(r.path));
          node.in_segment = parent->second.in_segment;
          const std::optional<Pattern>& segments = components[c].segments;
          if (node.depth == 1 && segments &&
              segments->Matches(NameOf(r.path))) {
            node.in_segment = true;
          }
        }
      }
      if (node.in_segment) {
        node.direct.segment_allocated_bytes = node.direct.allocated_bytes;
        for (LinkedEntry& e : node.linked) e.in_segment = true;
      }
      if (wd >= 0) {
        // The same inode already watched under another path (a rename
        // not yet seen): that path's bookkeeping goes, the watch stays.
        auto old = by_wd.find(wd);
        if (old != by_wd.end() && old->second != r.path) {
          auto it = nodes.find(old->second);
          if (it != nodes.end()) it->second.wd = -1;
          w.watches_.fetch_sub(1, std::memory_order_relaxed);
        }
        by_wd[wd] = r.path;
      }
      node.wd = wd;
      // Made (or moved in) just now: its files' blocks may come at
      // writeback, so read it again after the window.
      if (depth > 0) {
        Later& later = settling[r.path];
        later.at = Clock::now() + settle;
        later.whole = true;
      }
      const bool linked = !node.linked.empty();
      AddLinks(c, r.path, node.linked);
      nodes[r.path] = std::move(node);
      // The walk let the first sighting count a hard link in its
      // aggregate; read it again so the smallest directory counts it.
      if (linked && node_aggregates) MarkDirty(r.path);
    }
    if (depth > 0) {
      auto parent = nodes.find(ParentOf(path));
      if (parent != nodes.end()) parent->second.children.insert(NameOf(path));
    }
    changed = true;
    return !limit_hit;
  }

  static Clock::time_point SaturatingAddNow(std::chrono::milliseconds d) {
    const auto now = Clock::now();
    if (d > std::chrono::hours(24 * 365 * 100)) return Clock::time_point::max();
    return now + d;
  }

  // Walks component `c` from scratch. A watch limit makes it a walked
  // component for good.
  void Build(int c, std::optional<RewalkReason> reason) {
    Component& comp = components[c];
    RemoveSubtree(comp.root);
    comp.links.clear();
    if (reason) ++info[c].rewalks[static_cast<int>(*reason)];
    // Taken before the walk: a swap during it shows at the next check as a
    // difference (one walk more), never as a match (a miss).
    comp.root_inode = RootInode(c);
    if (!WalkSubtree(c, comp.root, 0, false)) FallBack(c);
    changed = true;
  }

  // What component c's path resolves to now (symlinks followed, as a walk
  // does); nullopt when it is not there (or cannot be looked at).
  std::optional<InodeKey> RootInode(int c) const {
    struct stat st;
    if (stat(components[c].root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return std::nullopt;
    }
    return InodeKey{st.st_dev, st.st_ino};
  }

  // Resolves every watched component's path afresh: one that names another
  // directory than the one last walked is walked again (reason replaced),
  // whether or not a check caught the moment it led nowhere (mv, then ln -s,
  // leaves such a moment); one that appeared is walked; one that leads
  // nowhere is missing, as a re-read finding it gone makes it (removing an
  // optional component replaces nothing, so nothing is counted).
  void CheckRoots() {
    for (size_t i = 0; i < components.size(); ++i) {
      Component& comp = components[i];
      if (!comp.watched) continue;
      const std::optional<InodeKey> now = RootInode(static_cast<int>(i));
      if (!comp.present) {
        if (!now) continue;
        const bool other = comp.root_inode && *comp.root_inode != *now;
        Build(static_cast<int>(i),
              other ? std::optional(RewalkReason::kReplaced) : std::nullopt);
      } else if (!now) {
        RemoveSubtree(comp.root);
        comp.links.clear();
        comp.present = false;
        changed = true;
      } else if (now != comp.root_inode) {
        Build(static_cast<int>(i), RewalkReason::kReplaced);
      }
    }
  }

  // A watch was refused in component `c` (at its first walk, or for a new
  // subdirectory later): a directory not watched would go stale, so it is
  // walked by the caller from now on, counted as a watch_limit rewalk. Its
  // watches go back for the components that fit. Not retried: with the
  // limit at hand it would only be refused again.
  void FallBack(int c) {
    Component& comp = components[c];
    RemoveSubtree(comp.root);
    comp.links.clear();
    comp.watched = false;
    info[c].watched = false;
    ++info[c].rewalks[static_cast<int>(RewalkReason::kWatchLimit)];
    changed = true;
  }

  // Updates `node` (directory `path`) for the entries its events named
  // (with the first event's mask since the node was last read) by stat'ing
  // only them. Exact because each entry's old share is known:
  // - remembered: a whole reading remembers every entry whose ctime is at
  //   most kRecentSlackSeconds before events were last read (an event
  //   still queued then is for a change made since, which set the ctime),
  //   and the oldest segments; a per-name update remembers what it stat'ed;
  // - or absent, when its first event is IN_CREATE: a name counted when
  //   the directory was read would first have to be removed, and that
  //   event (IN_DELETE, IN_MOVED_FROM) would come first.
  // Anything else (a name not remembered, a directory, a hard link, the
  // newest segment going, the aggregate unable to take an entry back)
  // returns false: the directory is then read whole, which also rebuilds
  // the aggregate this may have changed.
  bool ReadNamed(const std::string& path, Node& node,
                 const NamedEntries& names) {
    const int c = node.component;
    const int fd = OpenDirectory(path, /*follow=*/node.depth == 0);
    if (fd < 0) return false;
    struct stat self;
    if (fstat(fd, &self) != 0 ||
        (node.depth == 0 &&
         components[c].root_inode != InodeKey{self.st_dev, self.st_ino})) {
      close(fd);
      return false;  // read whole, which walks a replaced component again
    }
    const Pattern* segments = node.depth == 0 && components[c].segments
                                  ? &*components[c].segments
                                  : nullptr;
    auto is_segment = [&](const std::string& name, const Node::Known& e) {
      return e.present && segments != nullptr && S_ISREG(e.st.st_mode) &&
             segments->Matches(name);
    };
    // Only plain entries on the component's filesystem (what ScanDirectory
    // counts directly); the rest goes by whole readings.
    auto plain = [&](const Node::Known& e) {
      return !e.present ||
             (!S_ISDIR(e.st.st_mode) && e.st.st_nlink <= 1 &&
              (!w.walk_.one_filesystem || e.st.st_dev == components[c].device));
    };
    auto entry = [&](const std::string& name, const Node::Known& e,
                     bool segment) {
      EntryInfo i;
      i.component = c;
      i.directory = path;
      i.name = name;
      i.st = &e.st;
      i.depth = node.depth;
      i.is_segment = segment;
      return i;
    };
    DirectoryTotals d = node.direct;
    std::multiset<double> oldest = node.oldest_segments;
    std::vector<std::pair<const std::string*, Node::Known>> seen;
    bool ok = true;
    for (const auto& [name, mask] : names) {
      Node::Known was;
      auto known = node.known.find(name);
      if (known != node.known.end()) {
        was = known->second;
      } else if (!(mask & IN_CREATE)) {
        ok = false;
        break;
      }
      Node::Known is;
      if (fstatat(fd, name.c_str(), &is.st, AT_SYMLINK_NOFOLLOW) == 0) {
        is.present = true;
      } else if (errno != ENOENT) {
        ok = false;
        break;
      }
      if (!plain(was) || !plain(is)) {
        ok = false;
        break;
      }
      const bool was_segment = is_segment(name, was);
      const bool is_seg = is_segment(name, is);
      if (was_segment) {
        const double t = Seconds(was.st.st_mtim);
        const bool later = is_seg && Seconds(is.st.st_mtim) >= t;
        // The newest going (or getting older): the next is not known.
        if (t >= d.newest_segment_mtime && !later) {
          ok = false;
          break;
        }
        auto at = oldest.find(t);
        if (at != oldest.end()) oldest.erase(at);
        --d.segments;
        d.segment_allocated_bytes -=
            static_cast<uint64_t>(was.st.st_blocks) * 512;
      }
      if (is_seg) {
        const double t = Seconds(is.st.st_mtim);
        if (node.all_segments || (!oldest.empty() && t <= *oldest.rbegin())) {
          oldest.insert(t);
        }
        ++d.segments;
        d.newest_segment_mtime = std::max(d.newest_segment_mtime, t);
        d.segment_allocated_bytes +=
            static_cast<uint64_t>(is.st.st_blocks) * 512;
      }
      if (d.segments > 0 && oldest.empty()) {
        ok = false;  // the oldest segment is no longer known
        break;
      }
      d.oldest_segment_mtime = oldest.empty()
                                   ? std::numeric_limits<double>::infinity()
                                   : *oldest.begin();
      if (d.segments == 0) {
        d.newest_segment_mtime = -std::numeric_limits<double>::infinity();
      }
      if (was.present) {
        if (node.aggregate &&
            !node.aggregate->Remove(entry(name, was, was_segment))) {
          ok = false;
          break;
        }
        d.allocated_bytes -= static_cast<uint64_t>(was.st.st_blocks) * 512;
        d.apparent_bytes -= static_cast<uint64_t>(was.st.st_size);
        --d.files;
      }
      if (is.present) {
        if (node.aggregate) node.aggregate->Add(entry(name, is, is_seg));
        d.allocated_bytes += static_cast<uint64_t>(is.st.st_blocks) * 512;
        d.apparent_bytes += static_cast<uint64_t>(is.st.st_size);
        ++d.files;
      }
      seen.emplace_back(&name, is);
    }
    close(fd);
    if (!ok) return false;
    const uint64_t self_allocated = static_cast<uint64_t>(self.st_blocks) * 512;
    const uint64_t self_apparent = static_cast<uint64_t>(self.st_size);
    d.allocated_bytes =
        d.allocated_bytes - node.self_allocated + self_allocated;
    d.apparent_bytes = d.apparent_bytes - node.self_apparent + self_apparent;
    node.self_allocated = self_allocated;
    node.self_apparent = self_apparent;
    node.direct = d;
    node.oldest_segments = std::move(oldest);
    for (auto& [name, e] : seen) node.known[*name] = e;
    if (node.known.size() > kMaxKnown) {
      // Forgetting absent names is safe: a later event for one is either
      // IN_CREATE (absent, as known) or follows one (read whole).
      std::erase_if(node.known,
                    [](const auto& k) { return !k.second.present; });
      if (node.known.size() > kMaxKnown) node.per_name = false;
    }
    changed = true;
    return true;
  }

  // Reads directory `path` again and replaces its share.
  void Reread(const std::string& path) {
    auto it = nodes.find(path);
    if (it == nodes.end()) return;
    Node& node = it->second;
    const bool read_whole = whole.erase(path) > 0;
    auto names = named.extract(path);
    const int c = node.component;
    if (!read_whole && !names.empty() && node.per_name &&
        ReadNamed(path, node, names.mapped())) {
      ++info[c].named_reads;
      return;
    }
    ++info[c].whole_reads;
    const bool follow = node.depth == 0;  // a component path may be a symlink
    const int fd = OpenDirectory(path, follow);
    if (fd < 0) {
      if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
        const bool root = node.depth == 0;
        RemoveSubtree(path);  // gone; its parent re-reads its own entries
        if (root) components[c].present = false;
      } else {
        ++errors[c][static_cast<int>(errno == EACCES || errno == EPERM
                                         ? ErrorReason::kPermission
                                         : ErrorReason::kOther)];
      }
      return;
    }
    struct stat self;
    if (fstat(fd, &self) != 0) {
      close(fd);
      return;
    }
    if (node.depth == 0 &&
        components[c].root_inode != InodeKey{self.st_dev, self.st_ino}) {
      // The path names another directory now: the watches below are on
      // the old one.
      close(fd);
      Build(c, RewalkReason::kReplaced);
      return;
    }
    struct Subdirs : DirectoryVisitor {
      Subdirs(const std::string& dir, const std::vector<std::string>& skip,
              bool may_descend)
          : dir_(dir), skip_(skip), may_descend_(may_descend) {}
      bool Subdirectory(std::string_view name, const struct stat&,
                        bool is_segment) override {
        // Beyond max_depth: counted here with reason loop, as a walk does.
        if (!may_descend_) return false;
        // A directory another root walks (cleanup rules) is not this one's.
        if (!skip_.empty() && std::find(skip_.begin(), skip_.end(),
                                        Join(dir_, name)) != skip_.end()) {
          return true;
        }
        found.emplace_back(std::string(name), is_segment);
        return true;
      }
      std::vector<std::pair<std::string, bool>> found;
      const std::string& dir_;
      const std::vector<std::string>& skip_;
      const bool may_descend_;
    } subdirs(path, w.specs_[c].skip, node.depth < w.walk_.max_depth);
    DirectoryScan scan;
    scan.fd = fd;
    scan.path = path;
    scan.self = &self;
    scan.component = c;
    scan.depth = node.depth;
    scan.in_segment = node.in_segment;
    if (node.depth == 0 && components[c].segments) {
      scan.segments = &*components[c].segments;
    }
    scan.one_filesystem = w.walk_.one_filesystem;
    scan.device = components[c].device;
    std::vector<LinkedEntry> linked;
    scan.linked = &linked;
    std::set<std::pair<dev_t, ino_t>> seen;
    scan.count_linked = [this, c, &path, &seen](dev_t dev, ino_t ino) {
      return CountsLink(c, path, dev, ino, &seen);
    };
    std::shared_ptr<EntryAggregate> aggregate;
    if (w.walk_.make_aggregate) aggregate = w.walk_.make_aggregate(c);
    Remember remember(aggregate.get(), events_read_at - kRecentSlackSeconds,
                      names.empty() ? nullptr : &names.mapped());
    scan.aggregate = &remember;
    DirectoryTotals totals;
    const bool listed =
        ScanDirectory(scan, subdirs, buffer.get(), kScanBufferBytes, &totals);
    close(fd);
    CountErrors(c, totals);
    const int64_t min_entries = w.options_.per_name_min_entries;
    node.per_name = listed && min_entries >= 0 && !node.in_segment &&
                    totals.entries() >= static_cast<uint64_t>(min_entries) &&
                    totals.errors == decltype(totals.errors){} &&
                    remember.Into(&node);
    if (!node.per_name) {
      node.known.clear();
      node.oldest_segments.clear();
    }
    node.self_allocated = static_cast<uint64_t>(self.st_blocks) * 512;
    node.self_apparent = static_cast<uint64_t>(self.st_size);
    // Which directory counts each hard-linked inode, before and after: a
    // change is read again there (never here: this reading is current),
    // so the counting directory changes hands without ping-pong.
    auto counting = [&](const LinkedEntry& e) -> std::string {
      const auto& links = components[c].links;
      auto ref = links.find(InodeKey{e.dev, e.ino});
      return ref == links.end() || ref->second.dirs.empty()
                 ? std::string()
                 : ref->second.dirs.begin()->first;
    };
    // A hard link made to a file counted as plain elsewhere: link(2) tells
    // only the new name's directory, so the component is read again.
    bool unseen_names = false;
    for (const LinkedEntry& e : linked) {
      if (!components[c].links.contains(InodeKey{e.dev, e.ino}) &&
          e.nlink > static_cast<nlink_t>(std::count_if(
                        linked.begin(), linked.end(), [&](const auto& o) {
                          return o.dev == e.dev && o.ino == e.ino;
                        }))) {
        unseen_names = true;
      }
    }
    std::vector<std::string> before;
    for (const auto* list : {&node.linked, &linked}) {
      for (const LinkedEntry& e : *list) before.push_back(counting(e));
    }
    // Known before this reading (by another directory, or by this one).
    DropLinks(c, path, node.linked, /*mark=*/false);
    AddLinks(c, path, linked, /*mark=*/false);
    if (unseen_names) {
      auto first = nodes.lower_bound(components[c].root);
      auto last = nodes.lower_bound(SubtreeEnd(components[c].root));
      for (auto n = first; n != last; ++n) {
        if (n->second.component == c && n->first != path) {
          MarkDirty(n->first);
        }
      }
    }
    size_t k = 0;
    for (const auto* list : {&node.linked, &linked}) {
      for (const LinkedEntry& e : *list) {
        const std::string after = counting(e);
        const std::string& was = before[k++];
        if (after == was) continue;
        if (!was.empty() && was != path) MarkDirty(was);
        if (!after.empty() && after != path) MarkDirty(after);
      }
    }
    ShareLinkSizes(c, linked);
    node.linked = std::move(linked);
    node.aggregate = std::move(aggregate);
    node.direct = totals;
    changed = true;

    std::set<std::string> now;
    std::vector<std::pair<std::string, bool>> added;
    for (auto& [name, is_segment] : subdirs.found) {
      now.insert(name);
      if (!node.children.contains(name)) added.emplace_back(name, is_segment);
    }
    std::vector<std::string> gone;
    for (const std::string& name : node.children) {
      if (!now.contains(name)) gone.push_back(name);
    }
    const int depth = node.depth;
    const bool in_segment = node.in_segment;
    for (const std::string& name : gone) RemoveSubtree(Join(path, name));
    for (auto& [name, is_segment] : added) {
      if (!components[c].watched) return;
      if (!WalkSubtree(c, Join(path, name), depth + 1,
                       in_segment || is_segment)) {
        FallBack(c);
        return;
      }
    }
    // A segment directory's own mtime is the component directory's entry.
    if (depth == 1 && in_segment) MarkDirty(components[c].root);
  }

  void Drain() {
    // Re-reads may find new dirty directories (a segment's parent).
    while (!dirty.empty()) {
      std::set<std::string> batch;
      batch.swap(dirty);
      // Parents first, so a subtree that is gone is dropped before its
      // children are read in vain.
      for (const std::string& path : batch) Reread(path);
    }
  }

  // What a reconcile walk found in one directory, to compare with a node.
  struct Seen {
    uint64_t allocated = 0;
    uint64_t apparent = 0;
    uint64_t entries = 0;
  };
  static Seen SeenOf(const DirectoryTotals& direct,
                     const std::vector<LinkedEntry>& linked) {
    // `files` counts every name, hard-linked ones included; their bytes
    // are kept apart (a name whose other names went away elsewhere is
    // still linked to the watcher and plain to a walk: the same bytes).
    Seen s{direct.allocated_bytes, direct.apparent_bytes,
           direct.files + direct.directories};
    for (const LinkedEntry& e : linked) {
      s.allocated += e.allocated_bytes;
      s.apparent += e.apparent_bytes;
    }
    return s;
  }

  // A node's share as a reconcile walk would see it: its hard-linked
  // entries at their inode's current size (another name's directory may
  // have been read since this one).
  Seen NodeSeen(int c, const Node& node) const {
    Seen s = SeenOf(node.direct, {});
    const auto& links = components[c].links;
    for (const LinkedEntry& e : node.linked) {
      auto ref = links.find(InodeKey{e.dev, e.ino});
      s.allocated +=
          ref == links.end() ? e.allocated_bytes : ref->second.allocated;
      s.apparent +=
          ref == links.end() ? e.apparent_bytes : ref->second.apparent;
    }
    return s;
  }

  void Reconcile() {
    for (size_t i = 0; i < components.size(); ++i) {
      Component& comp = components[i];
      if (!comp.watched || !comp.present) continue;
      comp.touched = 0;
      WalkOptions options = w.walk_;
      options.deadline = SaturatingAddNow(w.options_.walk_timeout);
      options.cancel = &w.stop_;
      // Per directory, with hard links apart, as the watcher keeps them.
      options.record_directories = true;
      options.collect_links = true;
      options.per_directory_aggregates = false;
      const ComponentStats truth = ScanComponents({w.specs_[i]}, options).at(0);
      // Events that arrived meanwhile are still queued: read them now.
      ReadEvents();
      if (comp.touched != 0 || !truth.complete || w.stop_ ||
          truth.directory_list == nullptr) {
        continue;
      }
      const Difference d = Compare(static_cast<int>(i), truth);
      WatchInfo& in = info[i];
      ++in.reconciles;
      in.reconcile_difference_bytes = d.allocated;
      in.reconcile_difference_entries = d.entries;
      in.reconcile_difference_path = d.path;
      changed = true;
      if (d.allocated != 0 || d.entries != 0 || d.apparent != 0) {
        Build(static_cast<int>(i), RewalkReason::kError);
      }
    }
  }

  // Component c's directories against a reconcile walk's: the allocated
  // bytes and entries that differ, summed over directories. A directory
  // whose files were written within the writeback window may differ in
  // allocated bytes only (blocks allocated later, with no event): it is
  // read again, and not counted.
  struct Difference {
    uint64_t allocated = 0;
    uint64_t apparent = 0;
    uint64_t entries = 0;
    std::string path;  // the first directory that differs
    void Add(const Seen& s) {
      allocated += s.allocated;
      apparent += s.apparent;
      entries += s.entries;
    }
  };
  Difference Compare(int c, const ComponentStats& truth) {
    auto diff = [](uint64_t a, uint64_t b) { return a > b ? a - b : b - a; };
    const auto now = Clock::now();
    const bool late = now < components[c].last_event + settle;
    // A hard-linked inode also changes through its names elsewhere.
    bool any_late = false;
    for (const Component& other : components) {
      any_late |= now < other.last_event + settle;
    }
    Difference d;
    std::set<std::string_view> walked;
    for (const DirectoryRecord& r : *truth.directory_list) {
      walked.insert(r.path);
      const Seen t = SeenOf(r.direct, r.linked);
      auto it = nodes.find(r.path);
      if (it == nodes.end() || it->second.component != c) {
        if (d.path.empty()) d.path = r.path;
        d.Add(t);
        continue;
      }
      const Seen n = NodeSeen(c, it->second);
      if (t.allocated == n.allocated && t.apparent == n.apparent &&
          t.entries == n.entries) {
        continue;
      }
      if (t.apparent == n.apparent && t.entries == n.entries &&
          (late || (any_late && !r.linked.empty()))) {
        MarkDirty(r.path);
        continue;
      }
      if (d.path.empty()) d.path = r.path;
      d.allocated += diff(t.allocated, n.allocated);
      d.apparent += diff(t.apparent, n.apparent);
      d.entries += diff(t.entries, n.entries);
    }
    auto first = nodes.lower_bound(components[c].root);
    auto last = nodes.lower_bound(SubtreeEnd(components[c].root));
    for (auto it = first; it != last; ++it) {
      if (it->second.component != c || walked.contains(it->first)) continue;
      if (d.path.empty()) d.path = it->first;
      d.Add(NodeSeen(c, it->second));
    }
    return d;
  }

  // Reads every queued event; marks directories dirty. False on overflow.
  bool ReadEvents() {
    alignas(struct inotify_event) char buf[64 * 1024];
    bool overflow = false;
    events_read_at = WallNow();
    for (;;) {
      const ssize_t got = read(w.inotify_fd_, buf, sizeof buf);
      if (got <= 0) break;  // EAGAIN: the queue is empty
      const auto now = Clock::now();
      for (ssize_t off = 0; off < got;) {
        const auto* ev =
            reinterpret_cast<const struct inotify_event*>(buf + off);
        off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
        w.events_.fetch_add(1, std::memory_order_relaxed);
        if (overflow_after >= 0 && overflow_after-- == 0) overflow = true;
        if (ev->mask & IN_Q_OVERFLOW) overflow = true;
        if (overflow) continue;
        auto it = by_wd.find(ev->wd);
        if (it == by_wd.end()) continue;
        const std::string& path = it->second;
        auto node = nodes.find(path);
        if (node == nodes.end()) continue;
        Component& comp = components[node->second.component];
        ++comp.touched;
        comp.last_event = now;
        if (ev->mask & IN_IGNORED) {
          by_wd.erase(it);  // the kernel dropped the watch (deleted)
          node->second.wd = -1;
          w.watches_.fetch_sub(1, std::memory_order_relaxed);
          // A component directory no longer watched: what is its path now?
          if (node->second.depth == 0) check_roots_now = true;
          continue;
        }
        if (node->second.depth == 0 &&
            (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))) {
          check_roots_now = true;
        }
        std::string target = path;
        if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
          if (node->second.depth == 0) {
            target = path;  // the component directory itself
          } else {
            target = ParentOf(path);
          }
        }
        constexpr uint32_t kNamed = IN_CREATE | IN_DELETE | IN_MODIFY |
                                    IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM |
                                    IN_MOVED_TO;
        const bool by_name = ev->len > 0 && (ev->mask & kNamed) &&
                             !(ev->mask & IN_ISDIR) && target == path;
        const std::string_view name(ev->name,
                                    by_name ? strnlen(ev->name, ev->len) : 0);
        if (by_name) {
          MarkNamed(target, name, ev->mask);
        } else {
          MarkDirty(target);
        }
        auto later = [&](Later& l, Clock::time_point at) {
          l.at = at;
          if (by_name) {
            l.Name(name);
          } else {
            l.whole = true;
          }
        };
        if (ev->mask & (IN_MODIFY | IN_CLOSE_WRITE)) {
          later(quiet[target], now + w.options_.quiet);
        }
        // Whatever lands here (written, renamed in, linked) may have its
        // blocks allocated at writeback: read it again after the window.
        if (ev->mask & (IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO)) {
          later(settling[target], now + settle);
        }
      }
    }
    return !overflow;
  }

  // The component's numbers from its directories' shares.
  ComponentStats Totals(int c, bool with_directories) const {
    const Component& comp = components[c];
    ComponentStats stats;
    stats.name = w.specs_[c].name;
    stats.has_segments = !w.specs_[c].segment_pattern.empty();
    stats.present = comp.present;
    stats.complete = comp.complete;
    stats.device = comp.device;
    stats.duration_seconds = comp.duration_seconds;
    DirectoryTotals sum;
    std::vector<DirectoryRecord> records;
    std::unique_ptr<EntryAggregate> aggregate;
    if (w.walk_.make_aggregate) aggregate = w.walk_.make_aggregate(c);
    auto first = nodes.lower_bound(comp.root);
    auto last = nodes.lower_bound(SubtreeEnd(comp.root));
    for (auto it = first; it != last; ++it) {
      if (it->second.component != c) continue;
      sum.Merge(it->second.direct);
      if (aggregate && it->second.aggregate) {
        aggregate->Merge(*it->second.aggregate);
      }
      if (with_directories) {
        DirectoryRecord& r = records.emplace_back();
        r.path = it->first;
        r.depth = it->second.depth;
        r.direct = it->second.direct;
      }
    }
    for (const auto& [key, ref] : comp.links) {
      sum.allocated_bytes += ref.allocated;
      sum.apparent_bytes += ref.apparent;
      if (ref.segment_names > 0) sum.segment_allocated_bytes += ref.allocated;
    }
    sum.errors = {};  // reported as they are met (TakeStats)
    SetTotals(sum, &stats);
    stats.aggregate = std::move(aggregate);
    if (with_directories) {
      ComputeCumulative(&records);
      stats.directory_list =
          std::make_shared<const std::vector<DirectoryRecord>>(
              std::move(records));
    }
    return stats;
  }
};

Watcher::Watcher(std::vector<ComponentSpec> specs, WalkOptions walk,
                 WatchOptions options, std::vector<bool> watch)
    : specs_(std::move(specs)),
      walk_(std::move(walk)),
      options_(options),
      tree_(std::make_unique<Tree>(*this)) {
  for (size_t i = 0; i < specs_.size(); ++i) {
    Tree::Component& c = tree_->components[i];
    c.watched = i < watch.size() && watch[i];
    c.root = NormalizePath(specs_[i].path);
    c.segments = SegmentGlob(specs_[i]);
  }
  published_.resize(specs_.size());
  info_.resize(specs_.size());
  new_errors_.resize(specs_.size());
}

Watcher::~Watcher() { Stop(); }

void Watcher::Start(std::function<void()> changed) {
  changed_ = std::move(changed);
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  Tree& t = *tree_;
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (inotify_fd_ < 0 || wake_fd_ < 0) t.components[i].watched = false;
    t.info[i].watched = t.components[i].watched;
  }
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (t.components[i].watched) t.Build(static_cast<int>(i), std::nullopt);
  }
  t.next_reconcile = Tree::SaturatingAddNow(options_.reconcile_interval);
  Publish();
  if (inotify_fd_ >= 0 && wake_fd_ >= 0)
    thread_ = std::thread([this] { Run(); });
}

void Watcher::Stop() {
  stop_ = true;
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mu_);
    sync_done_ = sync_requested_;  // nobody waits for a stopped watcher
  }
  cv_.notify_all();
  if (inotify_fd_ >= 0) close(inotify_fd_);  // drops every watch
  if (wake_fd_ >= 0) close(wake_fd_);
  inotify_fd_ = wake_fd_ = -1;
}

void Watcher::Publish() {
  Tree& t = *tree_;
  std::vector<ComponentStats> stats;
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (t.components[i].watched) {
      stats.push_back(t.Totals(static_cast<int>(i), walk_.record_directories));
    } else {
      stats.emplace_back().name = specs_[i].name;
    }
  }
  {
    std::lock_guard lock(mu_);
    published_ = std::move(stats);
    info_ = t.info;
    for (size_t i = 0; i < specs_.size(); ++i) {
      for (int k = 0; k < kErrorReasonCount; ++k) {
        new_errors_[i][k] += t.errors[i][k];
      }
      t.errors[i] = {};
    }
  }
  t.changed = false;
}

void Watcher::Run() {
  Tree& t = *tree_;
  while (!stop_) {
    auto now = Clock::now();
    auto wake = t.next_reconcile;
    if (!t.dirty.empty())
      wake = std::min(wake, t.first_dirty + options_.coalesce);
    for (const auto& [path, l] : t.quiet) wake = std::min(wake, l.at);
    for (const auto& [path, l] : t.settling) wake = std::min(wake, l.at);
    bool any_watched = false;
    for (const auto& c : t.components) any_watched |= c.watched;
    if (any_watched) wake = std::min(wake, t.next_root_check);
    int timeout_ms = -1;
    if (wake != Clock::time_point::max()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(wake - now);
      timeout_ms = static_cast<int>(std::clamp<int64_t>(
          left.count() + 1, 0, std::numeric_limits<int>::max()));
    }
    struct pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    poll(fds, 2, timeout_ms);
    if (stop_) break;
    uint64_t drained;
    (void)!read(wake_fd_, &drained, sizeof drained);

    uint64_t ticket;
    bool syncing;
    {
      std::lock_guard lock(mu_);
      ticket = sync_requested_;
      syncing = ticket > sync_done_;
    }
    if (!t.ReadEvents()) {
      t.dirty.clear();
      t.quiet.clear();
      for (size_t i = 0; i < t.components.size(); ++i) {
        if (t.components[i].watched) {
          t.Build(static_cast<int>(i), RewalkReason::kOverflow);
        }
      }
    }
    now = Clock::now();
    // Before the dirty directories are read: those of a replaced component
    // would be read in vain. Sync checks too, so a test can wait on it.
    if (any_watched &&
        (syncing || t.check_roots_now || now >= t.next_root_check)) {
      t.check_roots_now = false;
      t.CheckRoots();
      t.next_root_check = Clock::now() + kRootCheck;
    }
    for (auto it = t.quiet.begin(); it != t.quiet.end();) {
      if (syncing || it->second.at <= now) {
        t.Due(it->first, it->second);
        it = t.quiet.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = t.settling.begin(); it != t.settling.end();) {
      if (it->second.at <= now) {
        t.Due(it->first, it->second);
        it = t.settling.erase(it);
      } else {
        ++it;
      }
    }
    if (!t.dirty.empty() &&
        (syncing || now >= t.first_dirty + options_.coalesce)) {
      t.Drain();
    }
    if (now >= t.next_reconcile && !t.quiet.empty()) {
      t.next_reconcile = now + options_.quiet;  // after the re-reads due
    } else if (now >= t.next_reconcile) {
      t.Drain();
      t.Reconcile();
      t.Drain();
      t.next_reconcile = Tree::SaturatingAddNow(options_.reconcile_interval);
    }
    if (t.changed) {
      Publish();
      if (changed_) changed_();
    }
    if (syncing && t.dirty.empty()) {
      {
        std::lock_guard lock(mu_);
        sync_done_ = ticket;
      }
      cv_.notify_all();
    }
  }
}

std::vector<ComponentStats> Watcher::TakeStats(bool with_directories) {
  std::lock_guard lock(mu_);
  std::vector<ComponentStats> out = published_;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].errors = new_errors_[i];
    new_errors_[i] = {};
    if (!with_directories) out[i].directory_list = nullptr;
  }
  return out;
}

std::vector<WatchInfo> Watcher::Info() const {
  std::lock_guard lock(mu_);
  return info_;
}

uint64_t Watcher::Events() const {
  return events_.load(std::memory_order_relaxed);
}

uint64_t Watcher::Directories() const {
  return watches_.load(std::memory_order_relaxed);
}

void Watcher::Sync() {
  std::unique_lock lock(mu_);
  if (!thread_.joinable()) return;
  const uint64_t ticket = ++sync_requested_;
  lock.unlock();
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  lock.lock();
  cv_.wait(lock, [&] { return sync_done_ >= ticket || stop_; });
}

}  // namespace stemedb::measure
