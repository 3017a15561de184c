// What to measure, translated from a config: the only reader of
// `config.scan.*` in the engine, and the one rule for "did the walk inputs
// change?". Pure functions; private to the engine.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "stemedb/config/config.h"
#include "stemedb/measure/walk.h"

namespace stemedb::exporter {

// What one component's walk depends on.
struct ComponentInputs {
  std::string name;
  std::string path;  // absolute
  std::string segment_pattern;
  bool operator==(const ComponentInputs&) const = default;
};
ComponentInputs InputsOf(const Component& c);
ComponentInputs InputsOf(const measure::ComponentSpec& spec);

// What one cleanup rule's tally depends on (the rule adds a walk root and
// tallies every entry). CleanupRule's display fields (path, component and
// command as written) are not among them.
struct CleanupRuleInputs {
  std::string name;
  int section = 0;
  std::string resolved_path;
  std::string match;
  CleanupEntryType type = CleanupEntryType::kFile;
  std::chrono::milliseconds older_than{0};
  std::string resolved_command;
  bool operator==(const CleanupRuleInputs&) const = default;
};

// The scan settings a walk (or a watcher) depends on.
struct ScanInputs {
  int threads = 0;
  bool one_filesystem = true;
  int max_depth = 0;
  ScanMode mode = ScanMode::kWalk;
  std::chrono::milliseconds reconcile_interval{0};
  bool operator==(const ScanInputs&) const = default;
};

// Everything a walk's results depend on: two configs with equal WalkInputs
// measure exactly the same thing (same directories in the same order, same
// patterns and walk rules), so a reload that keeps them keeps the running
// walk's results (a SIGHUP storm used to throw every walk away).
struct WalkInputs {
  std::vector<ComponentInputs> components;
  std::vector<CleanupRuleInputs> cleanup_rules;
  ScanInputs scan;
  bool operator==(const WalkInputs&) const = default;
};
WalkInputs WalkInputsOf(const Config& config);

// What to measure, translated from a config (pure). options.deadline and
// options.cancel are the engine's to set per collection.
struct WalkPlan {
  std::vector<measure::ComponentSpec> specs;  // parallel to config.components
  measure::WalkOptions options;
  ScanInputs scan;  // the settings the specs were planned with
  ScanMode mode = ScanMode::kWalk;
  std::chrono::milliseconds interval{60000};  // walk mode: between walks
  std::chrono::milliseconds timeout{300000};  // a walk is cut off
  std::chrono::milliseconds reconcile_interval{3600 * 1000};
  // Set by the engine per collection: the walk schedule came round, so
  // components that are walked (not watched) are walked now. False when the
  // engine only collects a watcher's change: they keep their last walk.
  bool walks_due = true;
};
WalkPlan PlanWalk(const Config& config);

// True when a watcher started for plan `b` serves plan `a`: the same scan
// settings and `b`'s specs a prefix of `a`'s (specs appended later, such as
// a cleanup rule's extra roots, are walked at the interval instead:
// restarting would count the old instance's watches against the limit until
// the kernel has freed them).
bool ServesPlan(const WalkPlan& b, const WalkPlan& a);

// The schedule of the loops, from the config.
struct Schedule {
  std::chrono::milliseconds interval{60000};  // between walk starts
  std::chrono::milliseconds timeout{300000};  // a walk is cut off
  std::chrono::milliseconds statfs_timeout{5000};
  bool one_filesystem = true;  // capacity: components' filesystems only
  bool operator==(const Schedule&) const = default;
};
Schedule ScheduleOf(const Config& config);

}  // namespace stemedb::exporter
