// Cleanup rules in the engine: what each rule would free, tallied by the
// walk itself (a reclaim::Tally per walker thread and walk root, plugged in
// as the scanner's per-entry aggregate), the rule directories outside the
// components walked as extra roots, and the rule states a snapshot shows,
// evaluated at rendering time so entries reaching their age are counted
// without a walk. Private to the exporter.
//
// Thread safety: none; the engine calls it with its mutex held. Aggregates
// handed to a walk hold what they use, so a walk left behind is safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "source.h"
#include "stemedb/config/config.h"
#include "stemedb/engine/snapshot.h"
#include "stemedb/measure/walk.h"
#include "stemedb/reclaim/reclaim.h"

namespace stemedb::exporter {

class CleanupTracker {
 public:
  explicit CleanupTracker(const Config& config);

  // Appends the extra roots to plan->specs (after the components, whose
  // results the engine reads by index) and sets the aggregate factory;
  // `now`: the walk's start, wall seconds.
  void Extend(WalkPlan* plan, double now) const;

  // A finished walk's results (components, then extra roots, as Extend
  // planned them): each root's tally is kept when its walk completed.
  void Apply(const std::vector<measure::ComponentStats>& results);

  // The filesystem holding rule `index`'s directory ("" when absent).
  void SetFilesystem(size_t index, std::string mountpoint, std::string device);

  // Rule directories, config order (for the capacity pass).
  std::vector<std::string> RulePaths() const;

  // The extra roots (rule directories outside the components) as last
  // walked completely.
  std::vector<ExtraRootState> ExtraRoots() const;

  // The rules as of `now` (wall seconds), config order.
  std::vector<CleanupRuleState> States(double now) const;

 private:
  struct Root {
    std::string path;
    bool known = false;  // a complete walk of it has been applied
    std::shared_ptr<const measure::EntryAggregate> tally;  // null: absent
    bool present = false;
    dev_t device = 0;
    uint64_t allocated_bytes = 0;
  };
  std::shared_ptr<const reclaim::Rules> rules_;
  size_t components_ = 0;  // roots_[0, components_) are the components
  std::vector<Root> roots_;
  std::vector<std::string> extra_;  // the extra roots
  std::vector<std::pair<std::string, std::string>> filesystems_;
};

}  // namespace stemedb::exporter
