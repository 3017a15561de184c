#include "stemedb/diagnose/snapshot_numbers.h"

#include <chrono>

#include "deleted_open_numbers.h"
#include "stemedb/base/time.h"
#include "stemedb/diagnose/prevention_notes.h"
#include "stemedb/diagnose/render.h"
#include "stemedb/engine/exporter.h"

namespace stemedb::exporter {
namespace {

// The filesystem a cleanup rule frees: its component's, else the deepest
// reported filesystem whose mountpoint is the rule directory or above it.
std::string MountpointOf(const Snapshot& s, const diagnose::Numbers& n,
                         const CleanupRule& rule) {
  if (!rule.component.empty()) {
    for (const auto& c : n.components) {
      if (c.name == rule.component) return c.mountpoint;
    }
    return "";
  }
  std::string best;
  for (const auto& fs : s.filesystems) {
    const std::string& mp = fs.mount.mountpoint;
    const bool above = rule.resolved_path == mp ||
                       (rule.resolved_path.compare(0, mp.size(), mp) == 0 &&
                        (mp == "/" || rule.resolved_path[mp.size()] == '/'));
    if (above && mp.size() > best.size()) best = mp;
  }
  return best;
}

// Capacity and identity of each filesystem, with a note for a statvfs that
// did not answer in time.
void AddFilesystems(const Snapshot& s, diagnose::Numbers* n) {
  for (const auto& fs : s.filesystems) {
    diagnose::FilesystemNumbers f;
    f.mountpoint = fs.mount.mountpoint;
    f.device = fs.mount.device;
    f.fstype = fs.mount.fstype;
    // The filesystem's own flag, as the exporter exports it and the alerts
    // read it: a writable disk seen through a read-only view still fills.
    f.readonly = fs.mount.readonly;
    f.stat_success = fs.stat_success;
    f.have_capacity = fs.have_capacity;
    if (fs.have_capacity) {
      f.size_bytes = fs.capacity.size_bytes;
      f.free_bytes = fs.capacity.free_bytes;
      f.avail_bytes = fs.capacity.avail_bytes;
      f.files = fs.capacity.files;
      f.files_free = fs.capacity.files_free;
    }
    if (!fs.stat_success) {
      n->notes.push_back("statvfs of " + fs.mount.mountpoint +
                         " did not answer in time" +
                         (fs.have_capacity ? "; its numbers are older" : ""));
    }
    n->filesystems.push_back(std::move(f));
  }
}

// Each configured component's last complete walk, with a note when there
// is none yet or the last walk was incomplete.
void AddComponents(const Snapshot& s, const Config& config,
                   diagnose::Numbers* n) {
  for (const auto& st : s.components) {
    const Component* comp = config.FindComponent(st.name);
    if (comp == nullptr) continue;  // a reload removed it meanwhile
    diagnose::ComponentNumbers c;
    c.name = st.name;
    c.path = comp->resolved_path;
    for (const auto& link : s.links) {
      if (link.component == st.name) c.mountpoint = link.mountpoint;
    }
    c.has_segments = st.has_segments;
    // As stemedb_disk_scan_success, exported once a walk was attempted.
    c.scan_success = !st.attempted || st.last_success;
    if (st.have_stats) {
      const auto& stats = st.stats;
      c.present = stats.present;
      for (uint64_t k : stats.unaccounted) c.unaccounted_entries += k;
      c.unaccounted_paths = stats.unaccounted_paths;
      c.complete =
          st.last_success && stats.complete && c.unaccounted_entries == 0;
      c.allocated_bytes = stats.allocated_bytes;
      c.files = stats.files;
      c.directories = stats.directories;
      c.segments = stats.segments.count;
      c.oldest_segment_timestamp = stats.segments.oldest_mtime;
      c.newest_segment_timestamp = stats.segments.newest_mtime;
    }
    if (!st.have_stats) {
      n->notes.push_back("component " + st.name +
                         " has not been walked to the end yet (" +
                         comp->resolved_path + ")");
    } else if (st.attempted && !st.last_success && st.stats.present) {
      n->notes.push_back("the last walk of component " + st.name +
                         " was incomplete (see the log and "
                         "stemedb_disk_scan_errors_total); its numbers are "
                         "from the last complete one");
    }
    n->components.push_back(std::move(c));
  }
}

// The lists over every component: the union of each one's top 20 holds
// the overall top 20.
void AddDirectories(const Snapshot& s, diagnose::Numbers* n) {
  diagnose::TopDirectories top;
  bool all_measured = true;
  for (const auto& st : s.components) {
    if (!st.have_stats || !st.stats.present) continue;
    if (st.top_directories) {
      top.Merge(*st.top_directories);
      n->directories_measured = true;
    } else {
      all_measured = false;
    }
  }
  if (n->directories_measured && !all_measured) {
    n->notes.push_back(
        "the directory lists leave out components walked without "
        "per-directory records");
  }
  n->largest_directories = top.Largest();
  n->most_entries = top.MostEntries();
}

// REQUIRES: n->components filled (a rule's filesystem may be its
// component's).
void AddRules(const Snapshot& s, const Config& config, diagnose::Numbers* n) {
  for (const auto& rule : config.cleanup.rules) {
    diagnose::RuleNumbers r;
    r.name = rule.name;
    r.section = std::to_string(rule.section);
    r.path = rule.resolved_path;
    r.command = rule.resolved_command;
    r.mountpoint = MountpointOf(s, *n, rule);
    for (const auto& state : s.cleanup_rules) {
      if (state.name != rule.name) continue;
      // The capacity pass knows the rule directory's filesystem; "" when
      // the directory is absent (it then frees nothing anywhere).
      r.mountpoint = state.mountpoint;
      r.measured = state.have_reading;
      r.bytes = state.reading.bytes;
      r.entries = state.reading.entries;
      r.oldest_timestamp = state.reading.oldest_mtime.value_or(0);
    }
    n->rules.push_back(std::move(r));
  }
}

}  // namespace

diagnose::Numbers NumbersFromSnapshot(const Snapshot& s, const Config& config,
                                      const std::string& source, double now) {
  diagnose::Numbers n;
  n.source = source;
  n.timestamp = now;
  n.root = config.root;
  AddFilesystems(s, &n);
  AddComponents(s, config, &n);
  AddDirectories(s, &n);
  AddRules(s, config, &n);
  diagnose::AddPreventionNotes(s.prevention, &n);
  AddDeletedOpen(s, &n);
  return n;
}

diagnose::Numbers WalkNumbers(const Config& config) {
  Exporter exporter(config, nullptr);
  exporter.RunOnce();
  return NumbersFromSnapshot(*exporter.CurrentSnapshot(), config, "walk",
                             WallSeconds());
}

std::string DiagnoseJson(const Snapshot& snapshot, const Config& config) {
  return diagnose::RenderJson(diagnose::Diagnose(
      NumbersFromSnapshot(snapshot, config, "exporter", WallSeconds()),
      diagnose::LimitsFrom(config.thresholds, config.alerts)));
}

}  // namespace stemedb::exporter
