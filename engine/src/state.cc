// The engine's state: applying a walk's and a watcher's results,
// stuck walks, and rendering the snapshot and its text.
#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "config_in_force.h"
#include "shared.h"
#include "stemedb/base/log.h"
#include "stemedb/collector/collector.h"

#ifndef STEMEDB_VERSION
#define STEMEDB_VERSION "unknown"
#endif
#ifndef STEMEDB_REVISION
#define STEMEDB_REVISION "unknown"
#endif

namespace stemedb::exporter {

void Exporter::Shared::RenderLocked() {
  auto s = std::make_shared<Snapshot>();
  s->components = components;
  s->filesystems = filesystems;
  // A component its walk found missing is on no filesystem, even while
  // the latest capacity pass, made before that walk, linked it by its
  // path's spelling: the next pass leaves it out, and a scrape before that
  // pass must not show it either.
  for (const auto& link : links) {
    const auto held = std::find_if(
        components.begin(), components.end(),
        [&](const ComponentState& c) { return c.name == link.component; });
    if (held != components.end() && held->have_stats && !held->stats.present) {
      continue;
    }
    s->links.push_back(link);
  }
  s->watch_events_total = watch_events;
  s->watch_directories = watch_directories;
  // Evaluated now, not at the walk: an entry reaching its rule's age is
  // counted at the next rendering (the capacity pass renders every 10 s
  // at most), with no walk and no file event.
  s->cleanup_rules = cleanup.States(WallSeconds());
  s->extra_roots = cleanup.ExtraRoots();
  s->open_deleted = open_deleted;
  s->config_reload_success = reload_success;
  s->config_reload_failures = reload_failures;
  AddConfigInForce(config, components, s.get());
  s->version = STEMEDB_VERSION;
  s->revision = STEMEDB_REVISION;
  text = std::make_shared<const std::string>(
      RenderText(*s, {.exporter_metrics = options.exporter_metrics}));
  snapshot = std::move(s);
}

bool Exporter::Shared::DeclaredStuck() const {
  return options.declare_walks_stuck && options.declare_walks_stuck();
}

void Exporter::Shared::ApplyWatchingLocked(
    const ComponentSource::WatchState& w) {
  watch_events = w.events;
  watch_directories = w.directories;
  for (size_t i = 0; i < components.size(); ++i) {
    auto& st = components[i];
    st.watched = i < w.watched.size() && w.watched[i];
    if (i >= w.info.size()) continue;
    conditions.Watched(config.components[i], st.watch, w.info[i]);
    st.watch = w.info[i];
  }
}

void Exporter::Shared::ApplyWalkLocked(
    const std::vector<measure::ComponentStats>& results, double now,
    std::vector<GrowthInput>* growth_inputs) {
  bool in_time = true;
  for (size_t i = 0; i < results.size() && i < components.size(); ++i) {
    const auto& r = results[i];
    auto& st = components[i];
    const bool optional = config.components[i].optional;
    st.attempted = true;
    st.last_duration_seconds = r.duration_seconds;
    st.last_success = r.complete && (r.present || optional);
    if (r.complete) {
      st.stats = r;
      st.have_stats = true;
      // Only the top-20 lists stay: memory does not follow directories.
      st.top_directories = TopDirectoriesOf(r);
      if (r.directory_list) {
        growth_inputs->push_back({config.components[i].name, r.directory_list});
      }
      st.stats.directory_list.reset();
    }
    if (st.last_success) st.last_success_timestamp = now;
    for (int k = 0; k < measure::kErrorReasonCount; ++k) {
      // A stuck walk had its timeout counted when it was found stuck.
      if (stuck_reported &&
          k == static_cast<int>(measure::ErrorReason::kTimeout)) {
        continue;
      }
      st.errors_total[k] += r.errors[k];
    }
    conditions.Walked(config.components[i], r);
    in_time = in_time &&
              r.errors[static_cast<int>(measure::ErrorReason::kTimeout)] == 0;
  }
  // Ready after the first walk that was not cut off at its timeout. An
  // unreadable or missing component does not hold readiness back: a
  // sidecar that never turns ready would take its StemeDB pod out of
  // service over a chmod.
  if (in_time) ready = true;
}

bool Exporter::Shared::CheckStuckLocked() {
  if (!walk_in_progress || stuck_reported ||
      (Clock::now() < SaturatingAdd(walk_deadline, kStuckGrace) &&
       !DeclaredStuck())) {
    return false;
  }
  MarkStuckLocked();
  return true;
}

void Exporter::Shared::MarkStuckLocked() {
  stuck_reported = true;
  for (auto& st : components) {
    st.attempted = true;
    st.last_success = false;
    ++st.errors_total[static_cast<int>(measure::ErrorReason::kTimeout)];
  }
  log::Error(
      "walk is stuck past its timeout (hung mount?); serving the last "
      "complete results");
}

}  // namespace stemedb::exporter
