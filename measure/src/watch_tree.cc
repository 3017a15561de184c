#include "watch_tree.h"

#include <sys/inotify.h>

#include <cstdio>

namespace stemedb::measure::detail {
namespace {

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

}  // namespace

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

Clock::time_point SaturatingAddNow(std::chrono::milliseconds d) {
  const auto now = Clock::now();
  if (d > std::chrono::hours(24 * 365 * 100)) return Clock::time_point::max();
  return now + d;
}

void Later::Name(std::string_view name) {
  if (whole) return;
  if (names.size() >= kMaxKnown) {
    whole = true;
    names.clear();
    return;
  }
  names.emplace(name);
}

WatchTree::WatchTree(const WatchContext& context)
    : ctx(context),
      components(context.specs.size()),
      settle(context.options.settle.count() > 0 ? context.options.settle
                                                : WritebackWindow()),
      overflow_after(context.options.overflow_after),
      info(context.specs.size()),
      errors(context.specs.size()) {}

void WatchTree::AddLinks(int c, const std::string& dir,
                         const std::vector<LinkedEntry>& linked, bool mark) {
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
void WatchTree::DropLinks(int c, const std::string& dir,
                          const std::vector<LinkedEntry>& linked, bool mark) {
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
void WatchTree::MarkDirty(const std::string& dir) {
  if (!nodes.contains(dir)) return;
  if (dirty.empty()) first_dirty = Clock::now();
  dirty.insert(dir);
  whole.insert(dir);
}

// A later reading of `dir` is due: its named entries stat'ed again
// (st_blocks that changed with no event), or all of it.
void WatchTree::Due(const std::string& dir, const Later& l) {
  if (l.whole || l.names.empty()) {
    MarkDirty(dir);
    return;
  }
  if (!nodes.contains(dir)) return;
  for (const std::string& name : l.names) MarkNamed(dir, name, IN_MODIFY);
}

// An event named entry `name` of `dir`.
void WatchTree::MarkNamed(const std::string& dir, std::string_view name,
                          uint32_t mask) {
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
bool WatchTree::CountsLink(int c, const std::string& dir, dev_t dev, ino_t ino,
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
void WatchTree::ShareLinkSizes(int c, const std::vector<LinkedEntry>& linked) {
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

void WatchTree::CountErrors(int c, const DirectoryTotals& t) {
  for (int k = 0; k < kErrorReasonCount; ++k) errors[c][k] += t.errors[k];
}

// Drops `path` and everything below it of the same component: watches,
// shares, links. Another component's root below it (a cleanup root above
// component roots, which its walks skip) keeps its nodes and watches.
void WatchTree::RemoveSubtree(const std::string& path) {
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
      inotify_rm_watch(inotify_fd, node.wd);
      by_wd.erase(node.wd);
      ctx.watches.fetch_sub(1, std::memory_order_relaxed);
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

// The component's numbers from its directories' shares.
ComponentStats WatchTree::Totals(int c, bool with_directories) const {
  const WatchedComponent& comp = components[c];
  ComponentStats stats;
  stats.name = ctx.specs[c].name;
  stats.has_segments = !ctx.specs[c].segment_pattern.empty();
  stats.present = comp.present;
  stats.complete = comp.complete;
  stats.device = comp.device;
  stats.duration_seconds = comp.duration_seconds;
  DirectoryTotals sum;
  std::vector<DirectoryRecord> records;
  std::unique_ptr<EntryAggregate> aggregate;
  if (ctx.walk.make_aggregate) aggregate = ctx.walk.make_aggregate(c);
  auto first = nodes.lower_bound(comp.root);
  auto last = nodes.lower_bound(SubtreeEnd(comp.root));
  for (auto it = first; it != last; ++it) {
    if (it->second.component != c) continue;
    sum.Merge(it->second.direct);
    if (LeavesOut(it->second.direct.errors)) {
      AddUnaccountedPath(it->first, &stats.unaccounted_paths);
    }
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
  SetTotals(sum, &stats);  // unaccounted: as each directory was last read
  stats.errors = {};       // reported as they are met (TakeStats)
  stats.aggregate = std::move(aggregate);
  if (with_directories) {
    ComputeCumulative(&records);
    stats.directory_list = std::make_shared<const std::vector<DirectoryRecord>>(
        std::move(records));
  }
  return stats;
}

void WatchTree::TakeDue(Clock::time_point now, bool syncing) {
  for (auto it = quiet.begin(); it != quiet.end();) {
    if (syncing || it->second.at <= now) {
      Due(it->first, it->second);
      it = quiet.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = settling.begin(); it != settling.end();) {
    if (it->second.at <= now) {
      Due(it->first, it->second);
      it = settling.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace stemedb::measure::detail
