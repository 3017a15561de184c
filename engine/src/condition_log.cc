#include "condition_log.h"

#include "stemedb/base/log.h"

namespace stemedb::exporter {
namespace {

// Sets or clears `key` in `set`; true when that changed it (a condition
// started or ended).
bool Flip(std::set<std::string>& set, const std::string& key, bool on) {
  return on ? set.insert(key).second : set.erase(key) > 0;
}

const char* RewalkMessage(measure::RewalkReason why) {
  switch (why) {
    case measure::RewalkReason::kWatchLimit:
      return "out of inotify watches (fs.inotify.max_user_watches, or "
             "the user namespace's max_inotify_watches): the component "
             "is walked every scan.interval from now on (logged once; "
             "see stemedb_disk_watch_rewalks_total)";
    case measure::RewalkReason::kReplaced:
      return "component path now names another directory (moved away, "
             "replaced, or a symlink on it changed): walked again and "
             "watched there (logged once; see "
             "stemedb_disk_watch_rewalks_total)";
    default:
      return "watch mode had to walk the component again (logged "
             "once; see stemedb_disk_watch_rewalks_total)";
  }
}

// Logs the directories whose entries the numbers leave out when that list
// changes (at most kMaxUnaccountedPaths of them), not at every walk.
void LogUnaccounted(const measure::ComponentStats& r, std::string* last) {
  std::string paths;
  for (const std::string& p : r.unaccounted_paths) {
    if (!paths.empty()) paths += ' ';
    paths += p;
  }
  if (paths == *last) return;
  *last = paths;
  if (paths.empty()) {
    log::Info("the numbers account for every entry again",
              {{"component", r.name}});
    return;
  }
  uint64_t entries = 0;
  for (uint64_t n : r.unaccounted) entries += n;
  log::Warn(
      "the numbers leave out entries that could not be read: they are a "
      "lower bound (add the service user to the directories' group, or fix "
      "their permissions; see stemedb_disk_scan_unaccounted_entries)",
      {{"component", r.name},
       {"entries", std::to_string(entries)},
       {"directories", paths}});
}

}  // namespace

void ConditionLog::Walked(const Component& component,
                          const measure::ComponentStats& r) {
  const log::Fields where = {{"component", r.name},
                             {"path", component.resolved_path}};
  const bool unreachable = !r.present && !r.complete;
  if (Flip(component_conditions_, r.name + "/unreachable", unreachable)) {
    if (unreachable) {
      log::Warn(
          "component directory cannot be reached (see "
          "stemedb_disk_scan_errors_total)",
          where);
    } else {
      log::Info("component directory can be reached again", where);
    }
  }
  const bool missing = !r.present && !component.optional && !unreachable;
  if (Flip(component_conditions_, r.name + "/missing", missing)) {
    if (missing) {
      log::Warn("component directory is missing or not a directory", where);
    } else if (r.present) {
      log::Info("component directory is back", where);
    }
  }
  uint64_t errs = 0;
  for (auto e : r.errors) errs += e;
  if (Flip(component_conditions_, r.name + "/errors", errs > 0)) {
    if (errs > 0) {
      log::Warn(
          "walk could not account for some entries (see "
          "stemedb_disk_scan_errors_total)",
          {{"component", r.name}, {"errors", std::to_string(errs)}});
    } else {
      log::Info("walk accounts for every entry again", where);
    }
  }
  LogUnaccounted(r, &unaccounted_[r.name]);
  log::Debug("walk finished", {{"component", r.name},
                               {"complete", r.complete ? "true" : "false"},
                               {"seconds", std::to_string(r.duration_seconds)},
                               {"files", std::to_string(r.files)}});
}

void ConditionLog::Watched(const Component& component,
                           const measure::WatchInfo& before,
                           const measure::WatchInfo& now) {
  for (int r = 0; r < measure::kRewalkReasonCount; ++r) {
    const auto why = static_cast<measure::RewalkReason>(r);
    const std::string reason(measure::RewalkReasonName(why));
    if (now.rewalks[r] > before.rewalks[r] &&
        rewalks_logged_.insert(component.name + "/" + reason).second) {
      log::Warn(RewalkMessage(why), {{"component", component.name},
                                     {"reason", reason},
                                     {"path", component.resolved_path}});
    }
  }
  if ((now.reconcile_difference_bytes != 0 ||
       now.reconcile_difference_entries != 0 ||
       now.reconcile_difference_apparent_bytes != 0) &&
      now.reconciles != before.reconciles) {
    log::Warn("reconcile walk found a difference; walked again",
              {{"component", component.name},
               {"bytes", std::to_string(now.reconcile_difference_bytes)},
               {"apparent_bytes",
                std::to_string(now.reconcile_difference_apparent_bytes)},
               {"entries", std::to_string(now.reconcile_difference_entries)},
               {"directory", now.reconcile_difference_path}});
  }
}

void ConditionLog::Statfs(const std::string& mountpoint, bool answered) {
  if (!Flip(statfs_failing_, mountpoint, !answered)) return;
  if (answered) {
    log::Info("statfs answers again", {{"mountpoint", mountpoint}});
  } else {
    log::Warn("statfs failed or timed out; keeping the last answer",
              {{"mountpoint", mountpoint}});
  }
}

}  // namespace stemedb::exporter
