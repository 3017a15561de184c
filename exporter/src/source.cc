#include "source.h"

namespace stemedb::exporter {

WalkPlan PlanWalk(const Config& config) {
  WalkPlan plan;
  for (const auto& c : config.components) {
    plan.specs.push_back({c.name, c.resolved_path, c.segment_pattern});
  }
  plan.options.threads = config.scan.threads;
  plan.options.one_filesystem = config.scan.one_filesystem;
  plan.options.max_depth = config.scan.max_depth;
  // For diagnose's top-20 lists; the engine reduces the records to them as
  // soon as a walk is applied (TopDirectoriesOf).
  plan.options.record_directories = true;
  return plan;
}

bool SameWalkInputs(const Config& a, const Config& b) {
  if (a.components.size() != b.components.size()) return false;
  for (size_t i = 0; i < a.components.size(); ++i) {
    const Component& x = a.components[i];
    const Component& y = b.components[i];
    if (x.name != y.name || x.resolved_path != y.resolved_path ||
        x.segment_pattern != y.segment_pattern) {
      return false;
    }
  }
  // The cleanup rules add walk roots and tally every entry.
  if (a.cleanup.rules.size() != b.cleanup.rules.size()) return false;
  for (size_t i = 0; i < a.cleanup.rules.size(); ++i) {
    const CleanupRule& x = a.cleanup.rules[i];
    const CleanupRule& y = b.cleanup.rules[i];
    if (x.name != y.name || x.section != y.section ||
        x.resolved_path != y.resolved_path || x.match != y.match ||
        x.type != y.type || x.older_than.value != y.older_than.value ||
        x.resolved_command != y.resolved_command) {
      return false;
    }
  }
  return a.scan.threads == b.scan.threads &&
         a.scan.one_filesystem == b.scan.one_filesystem &&
         a.scan.max_depth == b.scan.max_depth;
}

namespace {

class WalkSource : public ComponentSource {
 public:
  std::vector<scanner::ComponentStats> Collect(const WalkPlan& plan) override {
    return scanner::ScanComponents(plan.specs, plan.options);
  }
};

}  // namespace

std::unique_ptr<ComponentSource> MakeWalkSource() {
  return std::make_unique<WalkSource>();
}

}  // namespace stemedb::exporter
