#include "plan.h"

namespace stemedb::exporter {

ComponentInputs InputsOf(const Component& c) {
  return {c.name, c.resolved_path, c.segment_pattern};
}

ComponentInputs InputsOf(const measure::ComponentSpec& spec) {
  return {spec.name, spec.path, spec.segment_pattern};
}

namespace {

CleanupRuleInputs InputsOf(const CleanupRule& r) {
  return {r.name, r.section,          r.resolved_path,   r.match,
          r.type, r.older_than.value, r.resolved_command};
}

ScanInputs ScanInputsOf(const ScanOptions& scan) {
  return {scan.threads, scan.one_filesystem, scan.max_depth, scan.mode,
          scan.reconcile_interval.value};
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
