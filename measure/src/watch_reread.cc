#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include "stemedb/base/paths.h"
#include "stemedb/base/time.h"
#include "watch_tree.h"

namespace stemedb::measure::detail {
namespace {

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

// Subdirectories a whole reading found, to walk the new ones.
class Subdirs : public DirectoryVisitor {
 public:
  Subdirs(const std::string& dir, const std::vector<std::string>& skip,
          bool may_descend)
      : dir_(dir), skip_(skip), may_descend_(may_descend) {}
  bool Subdirectory(std::string_view name, const struct stat& st,
                    bool is_segment) override {
    // Beyond max_depth: counted here with reason loop, as a walk does.
    if (!may_descend_) return false;
    // A directory another root walks (cleanup rules) is not this one's.
    if (!skip_.empty() && std::find(skip_.begin(), skip_.end(),
                                    Join(dir_, name)) != skip_.end()) {
      return true;
    }
    found.push_back({std::string(name), is_segment, st.st_ino});
    return true;
  }
  std::vector<WatchTree::Subdirectory> found;

 private:
  const std::string& dir_;
  const std::vector<std::string>& skip_;
  const bool may_descend_;
};

// A per-name update of one directory in progress: its direct totals and
// oldest segments as each named entry's old state is taken back and its
// new one added (see ReadNamed).
class NamedUpdate {
 public:
  NamedUpdate(int component, const std::string& path, Node& node,
              const Pattern* segments, bool one_filesystem, dev_t device)
      : d(node.direct),
        oldest(node.oldest_segments),
        component_(component),
        path_(path),
        node_(node),
        segments_(segments),
        one_filesystem_(one_filesystem),
        device_(device) {}

  // Entry `name` went from `was` to `is`; false when that cannot be
  // counted exactly (the directory is then read whole).
  bool Apply(const std::string& name, const Node::Known& was,
             const Node::Known& is) {
    if (!Plain(was) || !Plain(is)) return false;
    const bool was_segment = IsSegment(name, was);
    const bool is_seg = IsSegment(name, is);
    if (!Segments(was, is, was_segment, is_seg)) return false;
    if (was.present) {
      if (node_.aggregate &&
          !node_.aggregate->Remove(Entry(name, was, was_segment))) {
        return false;
      }
      d.allocated_bytes -= static_cast<uint64_t>(was.st.st_blocks) * 512;
      d.apparent_bytes -= static_cast<uint64_t>(was.st.st_size);
      --d.files;
    }
    if (is.present) {
      if (node_.aggregate) node_.aggregate->Add(Entry(name, is, is_seg));
      d.allocated_bytes += static_cast<uint64_t>(is.st.st_blocks) * 512;
      d.apparent_bytes += static_cast<uint64_t>(is.st.st_size);
      ++d.files;
    }
    return true;
  }

  DirectoryTotals d;
  std::multiset<double> oldest;

 private:
  bool IsSegment(const std::string& name, const Node::Known& e) const {
    return e.present && segments_ != nullptr && S_ISREG(e.st.st_mode) &&
           segments_->Matches(name);
  }
  // Only plain entries on the component's filesystem (what ScanDirectory
  // counts directly); the rest goes by whole readings.
  bool Plain(const Node::Known& e) const {
    return !e.present || (!S_ISDIR(e.st.st_mode) && e.st.st_nlink <= 1 &&
                          (!one_filesystem_ || e.st.st_dev == device_));
  }
  EntryInfo Entry(const std::string& name, const Node::Known& e,
                  bool segment) const {
    EntryInfo i;
    i.component = component_;
    i.directory = path_;
    i.name = name;
    i.st = &e.st;
    i.depth = node_.depth;
    i.is_segment = segment;
    return i;
  }
  // The segment numbers; false when the oldest or newest is not known.
  bool Segments(const Node::Known& was, const Node::Known& is, bool was_segment,
                bool is_seg) {
    if (was_segment) {
      const double t = Seconds(was.st.st_mtim);
      const bool later = is_seg && Seconds(is.st.st_mtim) >= t;
      // The newest going (or getting older): the next is not known.
      if (t >= d.newest_segment_mtime && !later) return false;
      auto at = oldest.find(t);
      if (at != oldest.end()) oldest.erase(at);
      --d.segments;
      d.segment_allocated_bytes -=
          static_cast<uint64_t>(was.st.st_blocks) * 512;
    }
    if (is_seg) {
      const double t = Seconds(is.st.st_mtim);
      if (node_.all_segments || (!oldest.empty() && t <= *oldest.rbegin())) {
        oldest.insert(t);
      }
      ++d.segments;
      d.newest_segment_mtime = std::max(d.newest_segment_mtime, t);
      d.segment_allocated_bytes += static_cast<uint64_t>(is.st.st_blocks) * 512;
    }
    if (d.segments > 0 && oldest.empty()) {
      return false;  // the oldest segment is no longer known
    }
    d.oldest_segment_mtime = oldest.empty()
                                 ? std::numeric_limits<double>::infinity()
                                 : *oldest.begin();
    if (d.segments == 0) {
      d.newest_segment_mtime = -std::numeric_limits<double>::infinity();
    }
    return true;
  }

  const int component_;
  const std::string& path_;
  Node& node_;
  const Pattern* segments_;
  const bool one_filesystem_;
  const dev_t device_;
};

}  // namespace

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
bool WatchTree::ReadNamed(const std::string& path, Node& node,
                          const NamedEntries& names) {
  const int c = node.component;
  const int fd = OpenDirectory(path, /*follow=*/node.depth == 0);
  if (fd < 0) return false;
  struct stat self;
  if (fstat(fd, &self) != 0 ||
      (node.depth == 0 &&
       components[c].root_inode != InodeKey{self.st_dev, self.st_ino}) ||
      (node.depth > 0 && !node.Holds(self.st_ino))) {
    close(fd);
    // Read whole, which walks a replaced component again and has the
    // parent walk a name that holds another directory now: the names
    // heard are the old directory's.
    return false;
  }
  const Pattern* segments = node.depth == 0 && components[c].segments
                                ? &*components[c].segments
                                : nullptr;
  NamedUpdate update(c, path, node, segments, ctx.walk.one_filesystem,
                     components[c].device);
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
    if (!update.Apply(name, was, is)) {
      ok = false;
      break;
    }
    seen.emplace_back(&name, is);
  }
  close(fd);
  if (!ok) return false;
  DirectoryTotals& d = update.d;
  const uint64_t self_allocated = static_cast<uint64_t>(self.st_blocks) * 512;
  const uint64_t self_apparent = static_cast<uint64_t>(self.st_size);
  d.allocated_bytes = d.allocated_bytes - node.self_allocated + self_allocated;
  d.apparent_bytes = d.apparent_bytes - node.self_apparent + self_apparent;
  node.self_allocated = self_allocated;
  node.self_apparent = self_apparent;
  node.direct = d;
  node.oldest_segments = std::move(update.oldest);
  for (auto& [name, e] : seen) node.known[*name] = e;
  if (node.known.size() > kMaxKnown) {
    // Forgetting absent names is safe: a later event for one is either
    // IN_CREATE (absent, as known) or follows one (read whole).
    std::erase_if(node.known, [](const auto& k) { return !k.second.present; });
    if (node.known.size() > kMaxKnown) node.per_name = false;
  }
  changed = true;
  return true;
}

// Reads directory `path` again and replaces its share.
void WatchTree::Reread(const std::string& path) {
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
  struct stat self;
  const int fd = OpenForReread(path, node, &self);
  if (fd < 0) return;
  ReadWhole(path, node, fd, self, names.empty() ? nullptr : &names.mapped());
}

// Opens `node` (directory `path`) for a whole reading, with its own stat in
// *self; else -1, having dealt with why: gone (dropped with its subtree),
// refused (counted), a component path that names another directory now
// (walked again).
int WatchTree::OpenForReread(const std::string& path, const Node& node,
                             struct stat* self) {
  const int c = node.component;
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
    return -1;
  }
  if (fstat(fd, self) != 0) {
    close(fd);
    return -1;
  }
  if (node.depth == 0 &&
      components[c].root_inode != InodeKey{self->st_dev, self->st_ino}) {
    // The path names another directory now: the watches below are on
    // the old one.
    close(fd);
    Build(c, RewalkReason::kReplaced);
    return -1;
  }
  if (node.depth > 0 && !node.Holds(self->st_ino)) {
    // Another directory under the same name: its parent's reading walks
    // it anew, with watches.
    close(fd);
    const std::string parent = ParentOf(path);
    RemoveSubtree(path);
    MarkDirty(parent);
    return -1;
  }
  return fd;
}

// Lists `fd` (directory `path`, stat `self`) and replaces `node`'s share:
// its totals, aggregate, remembered entries, hard links and subdirectories.
// `names`: what the events behind this reading named (may be null).
void WatchTree::ReadWhole(const std::string& path, Node& node, int fd,
                          const struct stat& self, const NamedEntries* names) {
  const int c = node.component;
  Subdirs subdirs(path, ctx.specs[c].skip, node.depth < ctx.walk.max_depth);
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
  scan.one_filesystem = ctx.walk.one_filesystem;
  scan.device = components[c].device;
  std::vector<LinkedEntry> linked;
  scan.linked = &linked;
  std::set<std::pair<dev_t, ino_t>> seen;
  scan.count_linked = [this, c, &path, &seen](dev_t dev, ino_t ino) {
    return CountsLink(c, path, dev, ino, &seen);
  };
  std::shared_ptr<EntryAggregate> aggregate;
  if (ctx.walk.make_aggregate) aggregate = ctx.walk.make_aggregate(c);
  Remember remember(aggregate.get(), events_read_at - kRecentSlackSeconds,
                    names);
  scan.aggregate = &remember;
  scan.hooks = &ctx.walk.hooks;
  DirectoryTotals totals;
  const bool listed =
      ScanDirectory(scan, subdirs, buffer.get(), kScanBufferBytes, &totals);
  close(fd);
  CountErrors(c, totals);
  const int64_t min_entries = ctx.options.per_name_min_entries;
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
  UpdateLinks(path, node, std::move(linked));
  node.aggregate = std::move(aggregate);
  node.direct = totals;
  changed = true;
  UpdateChildren(path, node, subdirs.found);
}

// `node` (directory `path`) holds `linked` now instead of node.linked.
void WatchTree::UpdateLinks(const std::string& path, Node& node,
                            std::vector<LinkedEntry> linked) {
  const int c = node.component;
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
}

// `node` (directory `path`) has the subdirectories `found` now: the gone
// ones are dropped, the new ones walked. A name now holding another
// directory than its node's (renamed over, removed and made again) is both.
void WatchTree::UpdateChildren(const std::string& path, const Node& node,
                               const std::vector<Subdirectory>& found) {
  const int c = node.component;
  std::set<std::string> now;
  std::vector<std::pair<std::string, bool>> added;
  std::vector<std::string> gone;
  for (const Subdirectory& d : found) {
    now.insert(d.name);
    if (node.children.contains(d.name)) {
      const auto child = nodes.find(Join(path, d.name));
      if (child == nodes.end() || child->second.Holds(d.inode)) {
        continue;
      }
      gone.push_back(d.name);
    }
    added.emplace_back(d.name, d.is_segment);
  }
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

void WatchTree::Drain() {
  // Re-reads may find new dirty directories (a segment's parent).
  while (!dirty.empty()) {
    std::set<std::string> batch;
    batch.swap(dirty);
    // Parents first, so a subtree that is gone is dropped before its
    // children are read in vain.
    for (const std::string& path : batch) Reread(path);
  }
}

}  // namespace stemedb::measure::detail
