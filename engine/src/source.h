// The seam between the engine (state and rendering, exporter.cc) and where
// per-component numbers come from: a periodic walk, or a watcher that keeps
// them current from change notifications. Private to the exporter.
//
// Thread safety: a source's Collect is called by one thread at a time (the
// engine's walk loop, or RunOnce's walker); NotifyChanged may be called from
// any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "stemedb/config/config.h"
#include "stemedb/measure/walk.h"
#include "stemedb/measure/watcher.h"

namespace stemedb::exporter {

// What to measure, translated from a config (pure). options.deadline and
// options.cancel are the engine's to set per collection.
struct WalkPlan {
  std::vector<measure::ComponentSpec> specs;  // parallel to config.components
  measure::WalkOptions options;
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

// True when a walk started under `a` measures exactly what one under `b`
// would: same directories in the same order, same patterns and walk rules.
// A reload that keeps these keeps the running walk's results (a SIGHUP storm
// used to throw every walk away).
bool SameWalkInputs(const Config& a, const Config& b);

class ComponentSource {
 public:
  virtual ~ComponentSource() = default;

  // Numbers for every component of `plan`, parallel to plan.specs. May block
  // for a whole walk, until plan.options.deadline or *cancel; the engine
  // treats a call that outlives the deadline as stuck and leaves it behind
  // (the source must then stay alive: the engine's shared state owns it).
  virtual std::vector<measure::ComponentStats> Collect(
      const WalkPlan& plan) = 0;

  // Stops background work (the watcher thread). After it, Collect walks.
  virtual void Stop() {}

  // Per component (parallel to the last plan's specs): watched or walked,
  // and what the watcher did; plus events read and watches held.
  struct WatchState {
    std::vector<bool> watched;
    std::vector<measure::WatchInfo> info;
    uint64_t events = 0;
    uint64_t directories = 0;
  };
  virtual WatchState Watching() const { return {}; }

  // Blocks until every change notification queued so far is applied (watch
  // mode; returns at once otherwise). For tests.
  virtual void Sync() {}

  // Called by the source whenever newer numbers are ready without a walk
  // (watch mode), so the engine collects and renders now rather than at the
  // next interval. Set once, before the first Collect.
  void SetChangedCallback(std::function<void()> changed) {
    changed_ = std::move(changed);
  }

 protected:
  void NotifyChanged() const {
    if (changed_) changed_();
  }

 private:
  std::function<void()> changed_;
};

// The source for plan.mode: a full walk per Collect in walk mode; in watch
// mode a Watcher (first walk at the first Collect, then inotify), with
// components on filesystems whose notifications miss changes walked at
// plan.interval instead.
std::unique_ptr<ComponentSource> MakeSource();

// True for filesystem types whose change notifications miss changes made
// elsewhere (network and FUSE filesystems): walked even in watch mode.
bool NotificationsMissChanges(std::string_view fstype);

}  // namespace stemedb::exporter
