// The engine's state model: everything a scrape shows, as of one moment.
// The engine builds a new immutable Snapshot at every change; the collector
// turns it into metric families and diagnose into its numbers.
//
// Thread safety: plain values; a published Snapshot is never modified.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stemedb/config/thresholds_in_force.h"
#include "stemedb/diagnose/top.h"
#include "stemedb/measure/filesystems.h"
#include "stemedb/measure/open_deleted.h"
#include "stemedb/measure/walk.h"
#include "stemedb/measure/watcher.h"
#include "stemedb/reclaim/reclaim.h"

namespace stemedb::exporter {

struct ComponentState {
  std::string name;
  bool has_segments = false;
  bool attempted = false;         // a walk of it has finished (well or not)
  bool have_stats = false;        // `stats` holds a complete walk
  measure::ComponentStats stats;  // the last complete walk
  // Its top-20 directories for diagnose (stats.directory_list reduced at
  // once, so the per-directory records are not kept); null: not measured.
  std::shared_ptr<const diagnose::TopDirectories> top_directories;
  bool last_success = false;  // the last walk was complete and usable
  double last_duration_seconds = 0;
  double last_success_timestamp = 0;  // unix seconds; 0: never
  std::array<uint64_t, measure::kErrorReasonCount> errors_total{};
  // How its numbers are kept: true for watch mode (inotify), false for
  // periodic walks; and what the watcher did for it.
  bool watched = false;
  measure::WatchInfo watch;
};

struct FilesystemState {
  measure::Mount mount;
  bool stat_success = false;   // the last statvfs answered in time
  bool have_capacity = false;  // `capacity` holds an answer (maybe older)
  measure::Capacity capacity;
};

struct ComponentFilesystemLink {
  std::string component;
  std::string mountpoint;
  std::string device;
};

// One cleanup rule (config cleanup.rules) and what it would free.
struct CleanupRuleState {
  std::string name;
  int section = 1;
  std::string path;        // the rule's directory (resolved_path)
  std::string mountpoint;  // the filesystem holding (or that would hold) it
  std::string device;
  // A complete walk of every tree the rule covers has been tallied; the
  // reading is then as of the snapshot's rendering (young entries that
  // reached their age since the walk are counted).
  bool have_reading = false;
  reclaim::Reading reading;
};

// A cleanup rule's directory outside the components (walked as an extra
// root): what it holds, for the per-filesystem accounting.
struct ExtraRootState {
  std::string path;
  bool known = false;    // a complete walk of it has been applied
  bool present = false;  // it exists
  dev_t device = 0;      // st_dev, when present
  uint64_t allocated_bytes = 0;  // like du, components below it left out
};

// Everything a scrape shows, as of one moment.
struct Snapshot {
  std::vector<ComponentState> components;    // config order
  std::vector<FilesystemState> filesystems;  // sorted by mountpoint
  std::vector<ComponentFilesystemLink> links;
  uint64_t watch_events_total = 0;              // inotify events read
  uint64_t watch_directories = 0;               // watches held
  std::vector<CleanupRuleState> cleanup_rules;  // config order
  std::vector<ExtraRootState> extra_roots;      // the rules' extra roots
  // The last /proc scan for deleted-but-open files; null before the first.
  std::shared_ptr<const measure::OpenDeletedScan> open_deleted;
  bool config_reload_success = true;
  uint64_t config_reload_failures = 0;
  std::vector<ThresholdInForce> thresholds;  // of the config in force
  int stemedb_config_loaded = -1;  // 1 read, 0 absent, -1 not configured
  std::vector<PreventionCheck> prevention;  // the checks that could be made
  std::string version;
  std::string revision;
};

// The top-20 lists of one walked component, from its per-directory records
// (WalkOptions::record_directories): subtree allocated bytes and direct
// entries per directory. Null when the walk kept no records.
std::shared_ptr<const diagnose::TopDirectories> TopDirectoriesOf(
    const measure::ComponentStats& stats);

}  // namespace stemedb::exporter
