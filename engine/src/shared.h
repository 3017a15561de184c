// The engine's shared state (Exporter::Shared): what the loops, reload and
// the public methods of Exporter share, and the jobs' entry points. The
// members are defined by job: state.cc (applying results, stuck walks,
// rendering), walk_loop.cc, capacity_loop.cc, exporter.cc (the public
// methods and reload). Private to the engine.
//
// Thread safety: members are GUARDED_BY(mu) unless noted; the threads own a
// reference to the shared state, so a walk stuck in the kernel after Stop()
// never touches freed memory.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "capacity.h"
#include "cleanup.h"
#include "condition_log.h"
#include "plan.h"
#include "source.h"
#include "stemedb/base/time.h"
#include "stemedb/engine/exporter.h"
#include "stemedb/engine/growth_history.h"
#include "stemedb/measure/walk.h"

namespace stemedb::exporter {

using Clock = std::chrono::steady_clock;

// Capacity is cheap to read and is what the disk-full alerts watch, so it is
// refreshed more often than the (expensive) walks: every walk interval, but
// at least this often.
inline constexpr std::chrono::milliseconds kMaxCapacityPeriod{10000};

// A walk that has not returned this long after its deadline is stuck in the
// kernel (hung mount): the scanner itself stops within milliseconds of the
// deadline whenever it gets the CPU back.
inline constexpr std::chrono::milliseconds kStuckGrace{2000};

inline ComponentState FreshState(const Component& c) {
  ComponentState s;
  s.name = c.name;
  s.has_segments = !c.segment_pattern.empty();
  return s;
}

// Where walk threads left behind go by default (see exporter.cc).
std::shared_ptr<AbandonedWalks> ProcessAbandonedWalks();

struct Exporter::Shared {
  Shared(Config c, ConfigLoader l, ExporterOptions o)
      : options(std::move(o)),
        config(std::move(c)),
        loader(std::move(l)),
        cleanup(config),
        capacity_source(MakeCapacitySource(options.capacity_prober)) {
    if (!options.abandoned_walks) {
      options.abandoned_walks = ProcessAbandonedWalks();
    }
    for (const auto& comp : config.components) {
      components.push_back(FreshState(comp));
    }
  }

  ExporterOptions options;  // immutable after construction

  // --- State. Everything below is GUARDED_BY(mu) unless noted.
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  Config config;
  const ConfigLoader loader;  // immutable after construction
  // Where the numbers come from, for source_mode; made by the thread that
  // walks when a plan asks for another mode (Collect runs on a reference
  // of its own, without mu).
  std::shared_ptr<ComponentSource> source;
  ScanMode source_mode = ScanMode::kWalk;
  uint64_t config_generation = 0;
  std::vector<ComponentState> components;  // parallel to config.components
  std::vector<FilesystemState> filesystems;
  std::vector<ComponentFilesystemLink> links;
  std::shared_ptr<const measure::OpenDeletedScan> open_deleted;
  // What the cleanup rules would free; rebuilt with the config.
  CleanupTracker cleanup;
  // What is growing: per-directory history fed by every complete
  // collection (GET /diagnose/growth). Fed outside mu, under its own
  // mutex: at its cap an update takes tens of milliseconds, which scrapes
  // (Exposition() takes mu) must not wait for. Lock order: mu, then
  // growth_mu; never mu while holding growth_mu.
  mutable std::mutex growth_mu;
  GrowthHistory growth;       // GUARDED_BY(growth_mu)
  uint64_t growth_epoch = 0;  // GUARDED_BY(growth_mu); bumped by Retain
  bool reload_success = true;
  uint64_t reload_failures = 0;
  bool stopping = false;
  bool walk_requested = false;
  bool source_changed = false;  // the source has newer numbers (watch mode)
  // Collections asked for by SyncWatch(), and the last one a finished
  // collection began after.
  uint64_t collect_requested = 0;
  uint64_t collect_done = 0;
  uint64_t watch_events = 0;       // from the source, at the last collection
  uint64_t watch_directories = 0;  // likewise
  bool walk_in_progress = false;
  Clock::time_point walk_deadline;
  bool stuck_reported = false;  // timeout already counted for this walk
  bool ready = false;
  uint64_t walks_finished = 0;
  std::shared_ptr<const Snapshot> snapshot;
  std::shared_ptr<const std::string> text;
  // Conditions logged when they start and end (see condition_log.h);
  // Statfs() is the capacity pass's, without mu.
  ConditionLog conditions;

  std::atomic<bool> cancel{false};  // read by walker threads without mu
  // Used only by the capacity loop (or RunOnce), never concurrently.
  const std::unique_ptr<CapacitySource> capacity_source;
  std::thread walk_thread;
  std::thread capacity_thread;

  // Builds the snapshot and its text from the state; REQUIRES: mu held.
  void RenderLocked();

  // One walk over the current config's components. Runs without mu held
  // while walking.
  // `once`: a single walk whatever scan.mode says (--once, RunOnce).
  // `scheduled`: the walk schedule came round (or a walk was asked for), so
  // components that are walked rather than watched are walked now; false
  // when only a watcher's change is collected.
  void Walk(bool once = false, bool scheduled = true);

  // The source for `mode`: the current one, or a new one (the old one is
  // handed back in *retired, for the caller to stop without mu).
  // REQUIRES: mu held.
  std::shared_ptr<ComponentSource> SourceForLocked(
      ScanMode mode, std::shared_ptr<ComponentSource>* retired);

  bool DeclaredStuck() const;

  // REQUIRES: mu held; `w` parallel to config.components (or empty).
  void ApplyWatchingLocked(const ComponentSource::WatchState& w);

  // One complete collection of a component, for the growth history.
  struct GrowthInput {
    std::string component;
    std::shared_ptr<const std::vector<measure::DirectoryRecord>> records;
  };

  // REQUIRES: mu held; results parallel to config.components. Appends the
  // complete collections to `growth_inputs` (for FeedGrowth, outside mu).
  void ApplyWalkLocked(const std::vector<measure::ComponentStats>& results,
                       double now, std::vector<GrowthInput>* growth_inputs);

  // REQUIRES: mu not held. Feeds `inputs` to the growth history unless a
  // reload retained other components since `epoch` was read.
  void FeedGrowth(const std::vector<GrowthInput>& inputs, uint64_t epoch,
                  double now);

  // REQUIRES: mu held. Marks a walk that outlived its deadline as failed,
  // once, so a hung mount shows up as scan_success 0 while the walk thread
  // waits in the kernel.
  bool CheckStuckLocked();

  // REQUIRES: mu held.
  void MarkStuckLocked();

  // One capacity pass: which filesystems hold the components, and statvfs of
  // each with a timeout. Runs without mu held while probing.
  void Capacity();

  // What the capacity pass asks about now.
  CapacityWants CapacityWantsNow() const;

  // REQUIRES: mu held.
  void LinkComponentsLocked(const CapacityAnswers& answers);

  // The filesystem of each rule's directory, named as the filesystem series
  // name it. REQUIRES: mu held.
  void LinkRulesLocked(const CapacityAnswers& answers);

  void WalkLoop();

  void CapacityLoop();
};

}  // namespace stemedb::exporter
