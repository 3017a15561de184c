#include "cleanup.h"

#include <utility>

namespace stemedb::exporter {
namespace {

// One walker thread's tally for one walk root.
class RuleAggregate : public measure::EntryAggregate {
 public:
  RuleAggregate(std::shared_ptr<const reclaim::Rules> rules, double now)
      : rules_(std::move(rules)), tally_(rules_.get(), now) {}

  void Add(const measure::EntryInfo& e) override {
    tally_.Add(e.directory, e.name, *e.st, e.counted);
  }
  bool Remove(const measure::EntryInfo& e) override {
    return tally_.Remove(e.directory, e.name, *e.st, e.counted);
  }
  void Merge(const measure::EntryAggregate& other) override {
    tally_.Merge(static_cast<const RuleAggregate&>(other).tally_);
  }
  const reclaim::Tally& tally() const { return tally_; }

 private:
  std::shared_ptr<const reclaim::Rules> rules_;  // outlives the tally
  reclaim::Tally tally_;
};

}  // namespace

CleanupTracker::CleanupTracker(const Config& config)
    : rules_(std::make_shared<const reclaim::Rules>(config)),
      components_(config.components.size()),
      filesystems_(config.cleanup.rules.size()) {
  for (const Component& c : config.components) {
    roots_.push_back({c.resolved_path, false, nullptr});
  }
  extra_ = rules_->ExtraRoots();
  for (const std::string& path : extra_)
    roots_.push_back({path, false, nullptr});
}

void CleanupTracker::Extend(WalkPlan* plan, double now) const {
  if (rules_->rules().empty()) return;
  for (const std::string& path : extra_) {
    measure::ComponentSpec spec;
    spec.name = path;
    spec.path = path;
    spec.skip = rules_->ComponentRootsBelow(path);
    plan->specs.push_back(std::move(spec));
  }
  plan->options.make_aggregate = [rules = rules_, now](int) {
    return std::make_unique<RuleAggregate>(rules, now);
  };
}

void CleanupTracker::Apply(
    const std::vector<measure::ComponentStats>& results) {
  for (size_t i = 0; i < results.size() && i < roots_.size(); ++i) {
    const measure::ComponentStats& r = results[i];
    if (!r.complete) continue;  // keep the last complete tally
    roots_[i].known = true;
    roots_[i].tally = r.present ? r.aggregate : nullptr;
    roots_[i].present = r.present;
    roots_[i].device = r.device;
    roots_[i].allocated_bytes = r.allocated_bytes;
  }
}

std::vector<ExtraRootState> CleanupTracker::ExtraRoots() const {
  std::vector<ExtraRootState> out;
  for (size_t i = components_; i < roots_.size(); ++i) {
    const Root& root = roots_[i];
    out.push_back({root.path, root.known, root.present, root.device,
                   root.allocated_bytes});
  }
  return out;
}

void CleanupTracker::SetFilesystem(size_t index, std::string mountpoint,
                                   std::string device) {
  if (index < filesystems_.size()) {
    filesystems_[index] = {std::move(mountpoint), std::move(device)};
  }
}

std::vector<std::string> CleanupTracker::RulePaths() const {
  std::vector<std::string> out;
  for (const CleanupRule& rule : rules_->rules()) {
    out.push_back(rule.resolved_path);
  }
  return out;
}

std::vector<CleanupRuleState> CleanupTracker::States(double now) const {
  std::vector<const reclaim::Tally*> tallies;
  for (const Root& root : roots_) {
    if (root.tally) {
      tallies.push_back(
          &static_cast<const RuleAggregate&>(*root.tally).tally());
    }
  }
  const std::vector<reclaim::Reading> readings = rules_->Evaluate(tallies, now);
  std::vector<CleanupRuleState> out;
  const std::vector<CleanupRule>& rules = rules_->rules();
  for (size_t i = 0; i < rules.size(); ++i) {
    CleanupRuleState state;
    state.name = rules[i].name;
    state.section = rules[i].section;
    state.path = rules[i].resolved_path;
    state.mountpoint = filesystems_[i].first;
    state.device = filesystems_[i].second;
    // Known once every tree the rule covers has been walked completely.
    state.have_reading = true;
    for (const Root& root : roots_) {
      if (rules_->Overlaps(i, root.path) && !root.known) {
        state.have_reading = false;
      }
    }
    if (state.have_reading) state.reading = readings[i];
    out.push_back(std::move(state));
  }
  return out;
}

}  // namespace stemedb::exporter
