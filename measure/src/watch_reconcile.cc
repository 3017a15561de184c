#include "watch_tree.h"

namespace stemedb::measure::detail {

// What a reconcile walk found in one directory, to compare with a node.
struct WatchTree::Seen {
  uint64_t allocated = 0;
  uint64_t apparent = 0;
  uint64_t entries = 0;
};
namespace {

WatchTree::Seen SeenOf(const DirectoryTotals& direct,
                       const std::vector<LinkedEntry>& linked) {
  // `files` counts every name, hard-linked ones included; their bytes
  // are kept apart (a name whose other names went away elsewhere is
  // still linked to the watcher and plain to a walk: the same bytes).
  WatchTree::Seen s{direct.allocated_bytes, direct.apparent_bytes,
                    direct.files + direct.directories};
  for (const LinkedEntry& e : linked) {
    s.allocated += e.allocated_bytes;
    s.apparent += e.apparent_bytes;
  }
  return s;
}

}  // namespace

// A node's share as a reconcile walk would see it: its hard-linked
// entries at their inode's current size (another name's directory may
// have been read since this one).
WatchTree::Seen WatchTree::NodeSeen(int c, const Node& node) const {
  Seen s = SeenOf(node.direct, {});
  const auto& links = components[c].links;
  for (const LinkedEntry& e : node.linked) {
    auto ref = links.find(InodeKey{e.dev, e.ino});
    s.allocated +=
        ref == links.end() ? e.allocated_bytes : ref->second.allocated;
    s.apparent += ref == links.end() ? e.apparent_bytes : ref->second.apparent;
  }
  return s;
}

// Component c's directories against a reconcile walk's: the allocated
// bytes and entries that differ, summed over directories. A directory
// whose files were written within the writeback window may differ in
// allocated bytes only (blocks allocated later, with no event): it is
// read again, and not counted.
struct WatchTree::Difference {
  uint64_t allocated = 0;
  uint64_t apparent = 0;
  uint64_t entries = 0;
  std::string path;  // the first directory that differs
  void Add(const WatchTree::Seen& s) {
    allocated += s.allocated;
    apparent += s.apparent;
    entries += s.entries;
  }
};

bool WatchTree::Reconcile() {
  const auto heard_by_all = [&] {
    uint64_t n = 0;
    for (const WatchedComponent& comp : components) n += comp.heard;
    return n;
  };
  for (size_t i = 0; i < components.size(); ++i) {
    WatchedComponent& comp = components[i];
    if (!comp.watched || !comp.present) continue;
    // What was heard during an earlier component's walk is applied first:
    // this walk must start from the model of now, or it finds a difference
    // that is only news not yet read.
    if (!ReadEvents()) return false;
    Drain();
    if (!comp.watched || !comp.present) continue;  // fell back meanwhile
    const uint64_t heard = comp.heard;
    const uint64_t heard_all = heard_by_all();
    WalkOptions options = ctx.walk;
    options.deadline = SaturatingAddNow(ctx.options.walk_timeout);
    options.cancel = &ctx.stop;
    // Per directory, with hard links apart, as the watcher keeps them.
    options.record_directories = true;
    options.collect_links = true;
    options.per_directory_aggregates = false;
    const ComponentStats truth = ScanComponents({ctx.specs[i]}, options).at(0);
    // Events that arrived meanwhile are still queued: read them now.
    if (!ReadEvents()) return false;
    if (comp.heard != heard || !truth.complete || ctx.stop ||
        truth.directory_list == nullptr) {
      continue;
    }
    const bool others_heard = heard_by_all() != heard_all;
    const Difference d = Compare(static_cast<int>(i), truth, others_heard);
    WatchInfo& in = info[i];
    ++in.reconciles;
    in.reconcile_difference_bytes = d.allocated;
    in.reconcile_difference_entries = d.entries;
    in.reconcile_difference_apparent_bytes = d.apparent;
    in.reconcile_difference_path = d.path;
    changed = true;
    if (d.allocated != 0 || d.entries != 0 || d.apparent != 0) {
      Build(static_cast<int>(i), RewalkReason::kError);
    }
  }
  return true;
}

bool WatchTree::NamedElsewhere(int c,
                               const std::vector<LinkedEntry>& linked) const {
  const auto& links = components[c].links;
  for (const LinkedEntry& e : linked) {
    auto ref = links.find(InodeKey{e.dev, e.ino});
    uint64_t here = 0;
    if (ref != links.end()) {
      for (const auto& [dir, names] : ref->second.dirs) here += names;
    }
    if (e.nlink > here) return true;
  }
  return false;
}

WatchTree::Difference WatchTree::Compare(int c, const ComponentStats& truth,
                                         bool others_heard) {
  auto diff = [](uint64_t a, uint64_t b) { return a > b ? a - b : b - a; };
  const auto now = Clock::now();
  const bool late = now < components[c].last_event + settle;
  // A hard-linked inode also changes through its names elsewhere.
  bool any_late = false;
  for (const WatchedComponent& other : components) {
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
    // Written during the walk through a name in another component: only
    // that one heard it, and this directory's hard-linked entries alone
    // differ. Read again, not counted.
    if (others_heard && t.entries == n.entries && NamedElsewhere(c, r.linked)) {
      const Seen td = SeenOf(r.direct, {});
      const Seen nd = SeenOf(it->second.direct, {});
      if (td.allocated == nd.allocated && td.apparent == nd.apparent) {
        MarkDirty(r.path);
        continue;
      }
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

}  // namespace stemedb::measure::detail
