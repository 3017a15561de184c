// The exporter's engine: two background loops (collecting component numbers
// from a source, a periodic walk or a watcher, see source.h; filesystem
// capacity) that keep an immutable Snapshot and its rendered exposition text
// up to date, so that serving a scrape is handing out a string.
//
// Thread safety: every public method may be called from any thread.
// Exposition() and Ready() never block on the filesystem.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "stemedb/config/config.h"
#include "stemedb/diagnose/growth.h"
#include "stemedb/engine/options.h"
#include "stemedb/engine/snapshot.h"

namespace stemedb::exporter {

// Produces a fresh config on SIGHUP; returns the error instead when the new
// config is bad (the running one is then kept).
using ConfigLoader = std::function<Status(Config*)>;

class Exporter {
 public:
  // `loader` may be empty: Reload() then re-applies the current config.
  // `options`: the defaults are production (see options.h).
  Exporter(Config config, ConfigLoader loader, ExporterOptions options = {});
  ~Exporter();  // Stop()s
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  // Starts the walk and capacity loops; the first walk starts at once.
  void Start();
  // Stops the loops. A walk stuck in the kernel (hung mount) is left behind
  // rather than waited for; it holds only shared state, never `this`.
  void Stop();

  // One walk and one capacity pass, then renders. Waits for the walk at most
  // scan.timeout plus a grace period; a walk stuck in the kernel is then
  // reported (scan_success 0, reason timeout) and left behind. For --once
  // and tests; do not call while the loops of Start() run.
  void RunOnce();

  // Loads a new config through the loader. On success later cycles use it
  // (components removed from it stop reporting at once) and a walk starts
  // now; on failure the old config stays, the failure is logged and counted.
  // Returns the error, if any.
  // `companion_failed`: a file reloaded alongside (the web config) failed
  // and was kept as it was. The caller logs it; the reload then counts as
  // failed (last_reload_successful 0, failures + 1) either way, though a
  // good config is still applied.
  Status Reload(bool companion_failed = false);

  // The text of the last render (never null; possibly only self metrics
  // before the first walk finishes).
  std::shared_ptr<const std::string> Exposition() const;
  // True once one walk has finished without being cut off at its timeout
  // (missing or unreadable components do not hold it back); stays true.
  bool Ready() const;
  // Increases whenever a walk finishes (complete or not). Tests wait on it.
  uint64_t WalksFinished() const;
  // Blocks until WalksFinished() >= n or the exporter stops; for tests and
  // --once style callers that need synchronisation without sleeping.
  void WaitForWalks(uint64_t n) const;

  // Blocks until `pred` holds for the current snapshot (re-checked at every
  // render) or the exporter stops; returns whether it held. For tests.
  bool WaitForSnapshot(const std::function<bool(const Snapshot&)>& pred) const;

  // Watch mode: blocks until every change notification queued before the
  // call is applied and rendered (the exporter must be Start()ed). In walk
  // mode: until one more walk has finished. For tests and benchmarks.
  void SyncWatch() const;

  // The current snapshot (a copy of the state behind Exposition()).
  std::shared_ptr<const Snapshot> CurrentSnapshot() const;
  // A copy of the config in force (for GET /diagnose: paths and thresholds).
  Config CurrentConfig() const;
  // The top growing directories over the last hour and day (see
  // growth_history.h); built per call, no I/O.
  diagnose::GrowthReport Growth() const;

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

}  // namespace stemedb::exporter
