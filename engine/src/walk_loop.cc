// The walk loop: one collection from the source for the plan in force,
// on the walk schedule or when the source has newer numbers.
#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "shared.h"

namespace stemedb::exporter {

void Exporter::Shared::Walk(bool once, bool scheduled) {
  WalkPlan plan;
  uint64_t generation;
  uint64_t collect_ticket;
  std::shared_ptr<ComponentSource> source_now;
  std::shared_ptr<ComponentSource> retired;  // of the previous mode
  {
    std::lock_guard<std::mutex> lock(mu);
    // Stop() may have come between the loop's wait and here; it then
    // found no walk in progress and would join one that could hang.
    if (stopping) return;
    plan = PlanWalk(config);
    if (once) plan.mode = ScanMode::kWalk;
    plan.walks_due = scheduled;
    collect_ticket = collect_requested;
    cleanup.Extend(&plan, WallSeconds());
    plan.options.deadline =
        SaturatingAdd(Clock::now(), ScheduleOf(config).timeout);
    plan.options.cancel = &cancel;
    // The test seams go to measure with the rest of the walk options (the
    // walk source's walks, the watch source's watcher).
    plan.options.hooks = options.walk_hooks;
    generation = config_generation;
    walk_in_progress = true;
    walk_deadline = plan.options.deadline;
    stuck_reported = false;
    source_now = SourceForLocked(plan.mode, &retired);
    cv.notify_all();  // RunOnce() times the walk from here
  }
  if (retired) retired->Stop();  // outside mu: its thread may call back
  std::vector<measure::ComponentStats> results = source_now->Collect(plan);
  const ComponentSource::WatchState watching = source_now->Watching();
  double now = WallSeconds();
  std::vector<GrowthInput> growth_inputs;
  uint64_t epoch = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    walk_in_progress = false;
    if (generation == config_generation) {
      ApplyWalkLocked(results, now, &growth_inputs);
      ApplyWatchingLocked(watching);
      cleanup.Apply(results);
      std::lock_guard<std::mutex> growth_lock(growth_mu);
      epoch = growth_epoch;
    }  // else a reload replaced the components mid-walk: a new walk is due.
    ++walks_finished;
    collect_done = std::max(collect_done, collect_ticket);
    RenderLocked();
    cv.notify_all();
  }
  FeedGrowth(growth_inputs, epoch, now);
}

void Exporter::Shared::FeedGrowth(const std::vector<GrowthInput>& inputs,
                                  uint64_t epoch, double now) {
  if (inputs.empty()) return;
  std::lock_guard<std::mutex> lock(growth_mu);
  if (epoch != growth_epoch) return;  // a reload retained other components
  for (const GrowthInput& in : inputs) {
    growth.Observe(in.component, *in.records, now);
  }
}

std::shared_ptr<ComponentSource> Exporter::Shared::SourceForLocked(
    ScanMode mode, std::shared_ptr<ComponentSource>* retired) {
  if (source && source_mode == mode) return source;
  *retired = std::move(source);
  source = MakeSource(mode, options.watch);
  source_mode = mode;
  // Watch mode: newer numbers are ready; collect and render now.
  source->SetChangedCallback([this] {
    std::lock_guard<std::mutex> lock(mu);
    source_changed = true;
    cv.notify_all();
  });
  return source;
}

void Exporter::Shared::WalkLoop() {
  auto next = Clock::now();
  for (;;) {
    bool scheduled = false;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_until(lock, next, [&] {
        return stopping || walk_requested || source_changed;
      });
      if (stopping) return;
      // A watcher's change is collected at once without moving the
      // schedule of walks (of components that are walked).
      scheduled = walk_requested || Clock::now() >= next;
      if (scheduled) {
        next = SaturatingAdd(Clock::now(), ScheduleOf(config).interval);
      }
      walk_requested = false;
      source_changed = false;
    }
    Walk(/*once=*/false, scheduled);
  }
}

}  // namespace stemedb::exporter
