// What the engine logs about conditions that last (a missing directory,
// unreadable entries, a filesystem whose statfs hangs, a watch fallback):
// logged when they start and when they end, or once, not on every walk. A
// node whose data disk is not mounted would otherwise log the same lines
// every scan.interval for as long as it is down. Private to the engine.
//
// Thread safety: Walked() and Watched() are called with the engine's mutex
// held; Statfs() by the capacity pass alone (one thread at a time). They
// touch separate members.
#pragma once

#include <map>
#include <set>
#include <string>

#include "stemedb/config/config.h"
#include "stemedb/measure/walk.h"
#include "stemedb/measure/watcher.h"

namespace stemedb::exporter {

class ConditionLog {
 public:
  // A walk of `component` returned `result`: its conditions, and a debug
  // line.
  void Walked(const Component& component, const measure::ComponentStats& r);

  // The watcher's view of `component`: `before` as last applied, `now` as
  // it is. Logs each rewalk reason once, and a reconcile's difference.
  void Watched(const Component& component, const measure::WatchInfo& before,
               const measure::WatchInfo& now);

  // statfs of `mountpoint` answered (or not).
  void Statfs(const std::string& mountpoint, bool answered);

 private:
  std::set<std::string> component_conditions_;  // component/condition
  std::set<std::string> rewalks_logged_;        // component/reason
  std::set<std::string> statfs_failing_;        // mountpoints
  // component -> the unaccounted directories last logged, joined.
  std::map<std::string, std::string> unaccounted_;
};

}  // namespace stemedb::exporter
