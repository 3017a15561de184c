// How an Exporter runs, beyond its config: the seams tests use to steer it
// (leveldb's Options/Env style). The defaults are production; the production
// binary never changes them.
//
// Thread safety: an ExporterOptions is copied into the Exporter at
// construction; the callables and shared objects it holds must be safe to
// call from the engine's threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "stemedb/measure/filesystems.h"
#include "stemedb/measure/open_deleted.h"
#include "stemedb/measure/walk.h"

namespace stemedb::exporter {

// Watch mode's knobs for tests (the hidden --testing.* flags of the testing
// binary), read when a watcher starts.
struct WatchSeams {
  int64_t overflow_after = -1;  // --testing.watch-overflow-after=N
  int64_t max_watches = -1;     // --testing.max-watches=N
  // --testing.watch-per-name-min-entries=N (0: every directory takes
  // per-name updates, so the e2e tests exercise them on small trees).
  std::optional<int64_t> per_name_min_entries;
  // --testing.fs-type=PATH=TYPE: components at or below PATH count as on a
  // filesystem of TYPE for the watch-or-walk decision.
  std::vector<std::pair<std::string, std::string>> fs_types;
};

// Walk threads an exporter left behind (stuck in the kernel past their
// deadline in RunOnce(), or still walking at Stop()). They hold only the
// engine's shared state; kept joinable, so a test can join them once it has
// released them.
//
// Thread safety: every method may be called from any thread.
class AbandonedWalks {
 public:
  void Add(std::thread t);
  // Blocks until every thread added so far has returned, and joins it.
  void JoinAll();

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;  // GUARDED_BY(mu_)
};

struct ExporterOptions {
  // False: the exposition leaves out the exporter's own metrics
  // (--web.disable-exporter-metrics; metrics::IsExporterMetric).
  bool exporter_metrics = true;

  // Default: nothing changed.
  WatchSeams watch;

  // While it returns true, every walk in progress counts as stuck at once
  // (as if its deadline and the grace period had passed), in the capacity
  // loop's next check and in RunOnce(), so stuck-walk tests do not race the
  // clock. Default (empty): a walk is stuck only past its deadline.
  std::function<bool()> declare_walks_stuck;

  // Where walk threads left behind go. Default (null): a process-wide list
  // that is never joined (such a thread is waiting in the kernel).
  std::shared_ptr<AbandonedWalks> abandoned_walks;

  // The measure unit's test seams, handed to every walk and watcher (e.g. a
  // hook that blocks walkers, for the stuck-walk tests). Default: none.
  measure::WalkHooks walk_hooks;

  // The capacity prober's test seams (e.g. a statvfs that hangs). Default:
  // the real statvfs(2).
  measure::CapacityProberOptions capacity_prober;

  // The /proc scan for deleted-but-open files, run at every capacity pass:
  // its limits (and /proc's place, for tests).
  measure::OpenDeletedOptions open_deleted;
};

}  // namespace stemedb::exporter
