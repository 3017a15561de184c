// Reload: a new config through the loader, keeping what is known about
// the components that did not change, and the running walk when the walk
// inputs did not change.
#include <utility>
#include <vector>

#include "shared.h"
#include "stemedb/base/log.h"

namespace stemedb::exporter {

Status Exporter::Reload(bool companion_failed) {
  auto& s = *shared_;
  Config next;
  Status err;
  if (s.loader) {
    err = s.loader(&next);
  } else {
    std::lock_guard<std::mutex> lock(s.mu);
    next = s.config;
  }
  std::lock_guard<std::mutex> lock(s.mu);
  if (err) {
    s.reload_success = false;
    ++s.reload_failures;
    log::Error("config reload failed; keeping the running config",
               {{"err", err->ToString()}});
    s.RenderLocked();
    return err;
  }
  std::vector<ComponentState> states;
  std::vector<std::string> unchanged;  // their growth history stays
  for (const auto& c : next.components) {
    ComponentState st = FreshState(c);
    // Keep what is known about a component that did not change, so a reload
    // does not reset its counters or blank its series until the next walk.
    const Component* old = s.config.FindComponent(c.name);
    if (old && InputsOf(*old) == InputsOf(c)) {
      unchanged.push_back(c.name);
      for (const auto& o : s.components) {
        if (o.name == c.name) st = o;
      }
    }
    states.push_back(std::move(st));
  }
  const bool same_walk = WalkInputsOf(s.config) == WalkInputsOf(next);
  // A new timing takes effect with a walk now; otherwise the next walk is
  // due on the old schedule, which is the same one.
  const Schedule old_schedule = ScheduleOf(s.config);
  const Schedule new_schedule = ScheduleOf(next);
  const bool same_schedule = same_walk &&
                             old_schedule.interval == new_schedule.interval &&
                             old_schedule.timeout == new_schedule.timeout;
  s.config = std::move(next);
  s.components = std::move(states);
  {
    std::lock_guard<std::mutex> growth_lock(s.growth_mu);
    s.growth.Retain(unchanged);
    ++s.growth_epoch;  // collections read before now are of the old config
  }
  if (!same_walk) s.cleanup = CleanupTracker(s.config);
  // A removed component's series disappear now, not at the next capacity
  // pass.
  std::erase_if(s.links, [&](const ComponentFilesystemLink& l) {
    return s.config.FindComponent(l.component) == nullptr;
  });
  if (!same_walk) ++s.config_generation;  // results of a running walk: void
  // A good config is applied even when its companion file failed; the
  // reload as a whole did not succeed, and the metric says so until a
  // later reload succeeds in full.
  s.reload_success = !companion_failed;
  if (companion_failed) ++s.reload_failures;
  if (!same_schedule) s.walk_requested = true;
  log::Info("config reloaded", {{"source", s.config.source}});
  s.RenderLocked();
  s.cv.notify_all();
  return std::nullopt;
}

}  // namespace stemedb::exporter
