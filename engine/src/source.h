// The seam between the engine (state and rendering) and where
// per-component numbers come from: a periodic walk (source.cc), or a watcher
// that keeps them current from change notifications (watch_source.cc), one
// implementation per scan mode. Private to the engine.
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

#include "plan.h"
#include "stemedb/config/config.h"
#include "stemedb/engine/options.h"
#include "stemedb/measure/walk.h"
#include "stemedb/measure/watcher.h"

namespace stemedb::exporter {

class ComponentSource {
 public:
  virtual ~ComponentSource() = default;

  // Numbers for every component of `plan`, parallel to plan.specs. May block
  // for a whole walk, until plan.options.deadline or *cancel; the engine
  // treats a call that outlives the deadline as stuck and leaves it behind
  // (the source must then stay alive: the engine's shared state owns it).
  virtual std::vector<measure::ComponentStats> Collect(
      const WalkPlan& plan) = 0;

  // Stops background work (the watcher thread). After it, Collect starts
  // none.
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

// The source for `mode`, chosen once (the engine makes a new one when a
// reload changes the mode): a full walk per Collect for kWalk; for kWatch a
// Watcher (first walk at the first Collect, then inotify), with components
// on filesystems whose notifications miss changes walked at plan.interval
// instead. `seams`: watch mode's test knobs (ExporterOptions::watch).
std::unique_ptr<ComponentSource> MakeSource(ScanMode mode,
                                            const WatchSeams& seams);

// The walk source alone (kWalk).
std::unique_ptr<ComponentSource> MakeWalkSource();
// The watch source alone (kWatch); in watch_source.cc.
std::unique_ptr<ComponentSource> MakeWatchSource(const WatchSeams& seams);

// True for filesystem types whose change notifications miss changes made
// elsewhere (network and FUSE filesystems): walked even in watch mode.
bool NotificationsMissChanges(std::string_view fstype);

}  // namespace stemedb::exporter
