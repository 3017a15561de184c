#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>

#include "watch_tree.h"

namespace stemedb::measure::detail {
namespace {

constexpr uint32_t kWatchMask =
    IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB |
    IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

}  // namespace

WalkOptions WatchTree::SubtreeOptions(int depth, std::atomic<bool>* limit_hit) {
  WalkOptions options = ctx.walk;
  options.record_directories = true;
  options.collect_links = true;
  options.per_directory_aggregates = true;
  options.deadline = SaturatingAddNow(ctx.options.walk_timeout);
  options.cancel = &ctx.stop;
  options.on_directory = [this, limit_hit](int fd,
                                           std::string_view) -> int64_t {
    const int64_t max = ctx.options.max_watches;
    if (max >= 0 && static_cast<int64_t>(ctx.watches.fetch_add(
                        1, std::memory_order_relaxed)) >= max) {
      ctx.watches.fetch_sub(1, std::memory_order_relaxed);
      *limit_hit = true;
      return -1;
    }
    if (max < 0) ctx.watches.fetch_add(1, std::memory_order_relaxed);
    // Through the descriptor the walk opened (no symlink on the way), so
    // the watch is on the directory listed, whatever its path is now.
    const std::string proc = "/proc/self/fd/" + std::to_string(fd);
    const int wd = inotify_add_watch(inotify_fd, proc.c_str(), kWatchMask);
    if (wd < 0) {
      ctx.watches.fetch_sub(1, std::memory_order_relaxed);
      // Out of watches (ENOSPC), or refused otherwise: a directory that
      // is not watched would go stale, so the component is walked.
      *limit_hit = true;
    }
    return wd;
  };
  // The depth limit is the component's, not the subtree's: a subtree
  // walked at `depth` goes as deep below the component as a full walk.
  options.max_depth = std::max(0, ctx.walk.max_depth - depth);
  return options;
}

bool WatchTree::WalkSubtree(int c, const std::string& path, int depth,
                            bool in_segment) {
  std::atomic<bool> limit_hit{false};
  const WalkOptions options = SubtreeOptions(depth, &limit_hit);
  ComponentSpec sub = ctx.specs[c];
  sub.path = path;
  if (depth != 0) sub.segment_pattern.clear();
  std::vector<ComponentStats> result = ScanComponents({sub}, options);
  ComponentStats& stats = result[0];
  if (depth == 0) {
    WatchedComponent& comp = components[c];
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
    AddRecord(c, r, depth, in_segment);
  }
  if (depth > 0) {
    auto parent = nodes.find(ParentOf(path));
    if (parent != nodes.end()) parent->second.children.insert(NameOf(path));
  }
  changed = true;
  return !limit_hit;
}

void WatchTree::AddRecord(int c, const DirectoryRecord& r, int depth,
                          bool in_segment) {
  const int wd = static_cast<int>(r.tag);
  Node node;
  node.component = c;
  node.depth = depth + r.depth;
  node.inode = r.inode;
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
      if (node.depth == 1 && segments && segments->Matches(NameOf(r.path))) {
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
      ctx.watches.fetch_sub(1, std::memory_order_relaxed);
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
  if (linked && ctx.walk.make_aggregate) MarkDirty(r.path);
}

// Walks component `c` from scratch. A watch limit makes it a walked
// component for good.
void WatchTree::Build(int c, std::optional<RewalkReason> reason) {
  WatchedComponent& comp = components[c];
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
std::optional<InodeKey> WatchTree::RootInode(int c) const {
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
// optional component replaces nothing, so nothing is counted); one the
// kernel said was deleted but that is there again is walked again.
void WatchTree::CheckRoots() {
  for (size_t i = 0; i < components.size(); ++i) {
    WatchedComponent& comp = components[i];
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
    } else if (RootDeleted(static_cast<int>(i))) {
      // Removed and made again between two looks, under the same inode
      // number (ext4 gives it back at once): the watches went with the
      // old directory. Gone and back, so nothing is counted.
      Build(static_cast<int>(i), std::nullopt);
    }
  }
}

bool WatchTree::RootDeleted(int c) const {
  const auto root = nodes.find(components[c].root);
  return root != nodes.end() && root->second.component == c &&
         root->second.deleted;
}

// A watch was refused in component `c` (at its first walk, or for a new
// subdirectory later): a directory not watched would go stale, so it is
// walked by the caller from now on, counted as a watch_limit rewalk. Its
// watches go back for the components that fit. Not retried: with the
// limit at hand it would only be refused again.
void WatchTree::FallBack(int c) {
  WatchedComponent& comp = components[c];
  RemoveSubtree(comp.root);
  comp.links.clear();
  comp.watched = false;
  info[c].watched = false;
  ++info[c].rewalks[static_cast<int>(RewalkReason::kWatchLimit)];
  changed = true;
}

}  // namespace stemedb::measure::detail
