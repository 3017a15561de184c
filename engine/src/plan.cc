#include "plan.h"

namespace stemedb::exporter {

// Each InputsOf below binds every field of its config struct, so a field
// added there does not compile until it is sorted here: a walk input, or a
// field that does not change what a walk measures.

ComponentInputs InputsOf(const Component& c) {
  const auto& [name, path, resolved_path, segment_pattern, optional] = c;
  static_cast<void>(path);      // as written; resolved_path is walked
  static_cast<void>(optional);  // how a missing one is reported
  return {name, resolved_path, segment_pattern};
}

ComponentInputs InputsOf(const measure::ComponentSpec& spec) {
  return {spec.name, spec.path, spec.segment_pattern};
}

namespace {

CleanupRuleInputs InputsOf(const CleanupRule& r) {
  const auto& [name, section, component, path, resolved_path, match, type,
               older_than, command, resolved_command] = r;
  // As written; resolved_path and resolved_command are what counts.
  static_cast<void>(component);
  static_cast<void>(path);
  static_cast<void>(command);
  return {name, section,          resolved_path,   match,
          type, older_than.value, resolved_command};
}

ScanInputs ScanInputsOf(const ScanOptions& scan) {
  const auto& [interval, timeout, statfs_timeout, one_filesystem, threads,
               max_depth, mode, reconcile_interval] = scan;
  // The schedule (ScheduleOf), not what a walk measures.
  static_cast<void>(interval);
  static_cast<void>(timeout);
  static_cast<void>(statfs_timeout);
  return {threads, one_filesystem, max_depth, mode, reconcile_interval.value};
}

}  // namespace

WalkInputs WalkInputsOf(const Config& config) {
  WalkInputs in;
  for (const auto& c : config.components) in.components.push_back(InputsOf(c));
  for (const auto& r : config.cleanup.rules) {
    in.cleanup_rules.push_back(InputsOf(r));
  }
  in.scan = ScanInputsOf(config.scan);
  return in;
}

WalkPlan PlanWalk(const Config& config) {
  WalkPlan plan;
  for (const auto& c : config.components) {
    plan.specs.push_back({c.name, c.resolved_path, c.segment_pattern});
  }
  plan.scan = ScanInputsOf(config.scan);
  plan.options.threads = config.scan.threads;
  plan.options.one_filesystem = config.scan.one_filesystem;
  plan.options.max_depth = config.scan.max_depth;
  plan.mode = config.scan.mode;
  plan.interval = config.scan.interval.value;
  plan.timeout = config.scan.timeout.value;
  plan.reconcile_interval = config.scan.reconcile_interval.value;
  // For diagnose's top-20 lists; the engine reduces the records to them as
  // soon as a walk is applied (TopDirectoriesOf).
  plan.options.record_directories = true;
  return plan;
}

bool ServesPlan(const WalkPlan& b, const WalkPlan& a) {
  if (a.specs.size() < b.specs.size()) return false;
  for (size_t i = 0; i < b.specs.size(); ++i) {
    if (InputsOf(a.specs[i]) != InputsOf(b.specs[i])) return false;
  }
  return a.scan == b.scan && a.mode == b.mode &&
         a.options.record_directories == b.options.record_directories;
}

Schedule ScheduleOf(const Config& config) {
  return {config.scan.interval.value, config.scan.timeout.value,
          config.scan.statfs_timeout.value, config.scan.one_filesystem};
}

}  // namespace stemedb::exporter
