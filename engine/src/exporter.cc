#include "stemedb/engine/exporter.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "cleanup.h"
#include "exporter_testing.h"
#include "source.h"
#include "stemedb/base/log.h"
#include "stemedb/base/time.h"
#include "stemedb/collector/collector.h"
#include "stemedb/measure/filesystems.h"
#include "stemedb/measure/walk.h"

#ifndef STEMEDB_VERSION
#define STEMEDB_VERSION "unknown"
#endif
#ifndef STEMEDB_REVISION
#define STEMEDB_REVISION "unknown"
#endif

namespace stemedb::exporter {
namespace {

using Clock = std::chrono::steady_clock;

// Capacity is cheap to read and is what the disk-full alerts watch, so it is
// refreshed more often than the (expensive) walks: every walk interval, but
// at least this often.
constexpr std::chrono::milliseconds kMaxCapacityPeriod{10000};

// A walk that has not returned this long after its deadline is stuck in the
// kernel (hung mount): the scanner itself stops within milliseconds of the
// deadline whenever it gets the CPU back.
constexpr std::chrono::milliseconds kStuckGrace{2000};

// testing::SetDeclareWalksStuck.
std::atomic<bool> declare_walks_stuck{false};

// Walk threads left behind (stuck in the kernel). They hold only the shared
// state; kept joinable, never destroyed (a joinable std::thread must not be
// destroyed), so a test can join them. One per stuck walk: RunOnce() runs
// once, and the loops leave at most one behind at Stop().
struct Abandoned {
  std::mutex mu;
  std::vector<std::thread> threads;  // guarded by mu
};
Abandoned& AbandonedWalks() {
  static auto* abandoned = new Abandoned;  // outlives static destruction
  return *abandoned;
}
void Abandon(std::thread t) {
  auto& a = AbandonedWalks();
  std::lock_guard<std::mutex> lock(a.mu);
  a.threads.push_back(std::move(t));
}

ComponentState FreshState(const Component& c) {
  ComponentState s;
  s.name = c.name;
  s.has_segments = !c.segment_pattern.empty();
  return s;
}

// Sets or clears `key` in `set`; true when that changed it (a condition
// started or ended).
bool Flip(std::set<std::string>& set, const std::string& key, bool on) {
  return on ? set.insert(key).second : set.erase(key) > 0;
}

}  // namespace

struct Exporter::Shared {
  explicit Shared(Config c, ConfigLoader l)
      : config(std::move(c)),
        loader(std::move(l)),
        source(MakeSource()),
        cleanup(config) {
    // Watch mode: newer numbers are ready; collect and render now.
    source->SetChangedCallback([this] {
      std::lock_guard<std::mutex> lock(mu);
      source_changed = true;
      cv.notify_all();
    });
    for (const auto& comp : config.components) {
      components.push_back(FreshState(comp));
    }
  }

  // --- State. Everything below is GUARDED_BY(mu) unless noted.
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  Config config;
  const ConfigLoader loader;  // immutable after construction
  // Where the numbers come from; used by the one thread that walks.
  const std::unique_ptr<ComponentSource> source;
  uint64_t config_generation = 0;
  std::vector<ComponentState> components;  // parallel to config.components
  std::vector<FilesystemState> filesystems;
  std::vector<ComponentFilesystemLink> links;
  // What the cleanup rules would free (issue 9); rebuilt with the config.
  CleanupTracker cleanup;
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
  std::set<std::string> rewalks_logged;  // component/reason, logged once
  bool walk_in_progress = false;
  Clock::time_point walk_deadline;
  bool stuck_reported = false;  // timeout already counted for this walk
  bool ready = false;
  uint64_t walks_finished = 0;
  std::shared_ptr<const Snapshot> snapshot;
  std::shared_ptr<const std::string> text;
  // Conditions that last (a missing directory, unreadable entries) are
  // logged when they start and when they end, not on every walk: a node
  // whose data disk is not mounted would otherwise log the same lines every
  // scan.interval for as long as it is down.
  std::set<std::string> component_conditions;

  std::atomic<bool> cancel{false};  // read by walker threads without mu
  // Used only by the capacity loop (or RunOnce), never concurrently.
  measure::CapacityProber prober;
  std::set<std::string> statfs_failing;  // mountpoints; like prober
  std::thread walk_thread;
  std::thread capacity_thread;

  // Builds the snapshot and its text from the state; REQUIRES: mu held.
  void RenderLocked() {
    auto s = std::make_shared<Snapshot>();
    s->components = components;
    s->filesystems = filesystems;
    s->links = links;
    s->watch_events_total = watch_events;
    s->watch_directories = watch_directories;
    // Evaluated now, not at the walk: an entry reaching its rule's age is
    // counted at the next rendering (the capacity pass renders every 10 s
    // at most), with no walk and no file event.
    s->cleanup_rules = cleanup.States(WallSeconds());
    s->config_reload_success = reload_success;
    s->config_reload_failures = reload_failures;
    s->version = STEMEDB_VERSION;
    s->revision = STEMEDB_REVISION;
    text = std::make_shared<const std::string>(RenderText(*s));
    snapshot = std::move(s);
  }

  // One walk over the current config's components. Runs without mu held
  // while walking.
  // `once`: a single walk whatever scan.mode says (--once, RunOnce).
  // `scheduled`: the walk schedule came round (or a walk was asked for), so
  // components that are walked rather than watched are walked now; false
  // when only a watcher's change is collected.
  void Walk(bool once = false, bool scheduled = true) {
    WalkPlan plan;
    uint64_t generation;
    uint64_t collect_ticket;
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
          SaturatingAdd(Clock::now(), config.scan.timeout.value);
      plan.options.cancel = &cancel;
      generation = config_generation;
      walk_in_progress = true;
      walk_deadline = plan.options.deadline;
      stuck_reported = false;
      cv.notify_all();  // RunOnce() times the walk from here
    }
    std::vector<measure::ComponentStats> results = source->Collect(plan);
    const ComponentSource::WatchState watching = source->Watching();
    double now = WallSeconds();
    std::lock_guard<std::mutex> lock(mu);
    walk_in_progress = false;
    if (generation == config_generation) {
      ApplyWalkLocked(results, now);
      ApplyWatchingLocked(watching);
      cleanup.Apply(results);
    }  // else a reload replaced the components mid-walk: a new walk is due.
    ++walks_finished;
    collect_done = std::max(collect_done, collect_ticket);
    RenderLocked();
    cv.notify_all();
  }

  // REQUIRES: mu held; `w` parallel to config.components (or empty).
  void ApplyWatchingLocked(const ComponentSource::WatchState& w) {
    watch_events = w.events;
    watch_directories = w.directories;
    for (size_t i = 0; i < components.size(); ++i) {
      auto& st = components[i];
      st.watched = i < w.watched.size() && w.watched[i];
      if (i >= w.info.size()) continue;
      const measure::WatchInfo& info = w.info[i];
      for (int r = 0; r < measure::kRewalkReasonCount; ++r) {
        const std::string reason(
            measure::RewalkReasonName(static_cast<measure::RewalkReason>(r)));
        if (info.rewalks[r] > st.watch.rewalks[r] &&
            rewalks_logged.insert(st.name + "/" + reason).second) {
          const auto why = static_cast<measure::RewalkReason>(r);
          log::Warn(
              why == measure::RewalkReason::kWatchLimit
                  ? "out of inotify watches (fs.inotify.max_user_watches, or "
                    "the user namespace's max_inotify_watches): the component "
                    "is walked every scan.interval from now on (logged once; "
                    "see stemedb_disk_watch_rewalks_total)"
              : why == measure::RewalkReason::kReplaced
                  ? "component path now names another directory (moved away, "
                    "replaced, or a symlink on it changed): walked again and "
                    "watched there (logged once; see "
                    "stemedb_disk_watch_rewalks_total)"
                  : "watch mode had to walk the component again (logged "
                    "once; see stemedb_disk_watch_rewalks_total)",
              {{"component", st.name},
               {"reason", reason},
               {"path", config.components[i].resolved_path}});
        }
      }
      if (info.reconcile_difference_bytes != 0 ||
          info.reconcile_difference_entries != 0) {
        if (info.reconciles != st.watch.reconciles) {
          log::Warn(
              "reconcile walk found a difference; walked again",
              {{"component", st.name},
               {"bytes", std::to_string(info.reconcile_difference_bytes)},
               {"entries", std::to_string(info.reconcile_difference_entries)},
               {"directory", info.reconcile_difference_path}});
        }
      }
      st.watch = info;
    }
  }

  // REQUIRES: mu held; results parallel to config.components.
  void ApplyWalkLocked(const std::vector<measure::ComponentStats>& results,
                       double now) {
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
      const log::Fields where = {{"component", r.name},
                                 {"path", config.components[i].resolved_path}};
      const bool unreachable = !r.present && !r.complete;
      if (Flip(component_conditions, r.name + "/unreachable", unreachable)) {
        if (unreachable) {
          log::Warn(
              "component directory cannot be reached (see "
              "stemedb_disk_scan_errors_total)",
              where);
        } else {
          log::Info("component directory can be reached again", where);
        }
      }
      const bool missing = !r.present && !optional && !unreachable;
      if (Flip(component_conditions, r.name + "/missing", missing)) {
        if (missing) {
          log::Warn("component directory is missing or not a directory", where);
        } else if (r.present) {
          log::Info("component directory is back", where);
        }
      }
      uint64_t errs = 0;
      for (auto e : r.errors) errs += e;
      if (Flip(component_conditions, r.name + "/errors", errs > 0)) {
        if (errs > 0) {
          log::Warn(
              "walk could not account for some entries (see "
              "stemedb_disk_scan_errors_total)",
              {{"component", r.name}, {"errors", std::to_string(errs)}});
        } else {
          log::Info("walk accounts for every entry again", where);
        }
      }
      in_time = in_time &&
                r.errors[static_cast<int>(measure::ErrorReason::kTimeout)] == 0;
      log::Debug("walk finished",
                 {{"component", r.name},
                  {"complete", r.complete ? "true" : "false"},
                  {"seconds", std::to_string(r.duration_seconds)},
                  {"files", std::to_string(r.files)}});
    }
    // Ready after the first walk that was not cut off at its timeout. An
    // unreadable or missing component does not hold readiness back: a
    // sidecar that never turns ready would take its StemeDB pod out of
    // service over a chmod.
    if (in_time) ready = true;
  }

  // REQUIRES: mu held. Marks a walk that outlived its deadline as failed,
  // once, so a hung mount shows up as scan_success 0 while the walk thread
  // waits in the kernel.
  bool CheckStuckLocked() {
    if (!walk_in_progress || stuck_reported ||
        (Clock::now() < SaturatingAdd(walk_deadline, kStuckGrace) &&
         !declare_walks_stuck.load())) {
      return false;
    }
    MarkStuckLocked();
    return true;
  }

  // REQUIRES: mu held.
  void MarkStuckLocked() {
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

  // One capacity pass: which filesystems hold the components, and statvfs of
  // each with a timeout. Runs without mu held while probing.
  void Capacity() {
    std::vector<measure::MountWant> wants;
    std::chrono::milliseconds statfs_timeout;
    bool one_filesystem;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (size_t i = 0; i < config.components.size(); ++i) {
        const auto& st = components[i];
        wants.push_back({config.components[i].name,
                         config.components[i].resolved_path,
                         st.have_stats ? st.stats.device : 0,
                         st.have_stats && !st.stats.present});
      }
      statfs_timeout = config.scan.statfs_timeout.value;
      one_filesystem = config.scan.one_filesystem;
    }
    std::vector<measure::MountWant> rule_wants;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const std::string& path : cleanup.RulePaths()) {
        rule_wants.push_back({path, path, 0, false});
      }
    }
    const auto table = measure::ReadMountTable();
    const auto [by_device, component_devices] =
        measure::ChooseMounts(table, wants, one_filesystem);
    // The filesystem of each rule's directory, named as the filesystem
    // series name it (chosen alike), not reported for that alone.
    const auto rule_mounts = measure::ChooseMounts(table, rule_wants, true);
    std::map<dev_t, std::optional<measure::Capacity>> answers;
    for (const auto& [dev, mount] : by_device) {
      answers[dev] = prober.Probe(mount.mountpoint, statfs_timeout);
      if (Flip(statfs_failing, mount.mountpoint, !answers[dev])) {
        if (answers[dev]) {
          log::Info("statfs answers again", {{"mountpoint", mount.mountpoint}});
        } else {
          log::Warn("statfs failed or timed out; keeping the last answer",
                    {{"mountpoint", mount.mountpoint}});
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    std::vector<FilesystemState> next;
    for (const auto& [dev, mount] : by_device) {
      FilesystemState fs;
      fs.mount = mount;
      const auto& answer = answers[dev];
      fs.stat_success = answer.has_value();
      if (answer) {
        fs.have_capacity = true;
        fs.capacity = *answer;
      } else {
        for (const auto& old : filesystems) {
          if (old.mount.mountpoint == mount.mountpoint && old.have_capacity) {
            fs.have_capacity = true;
            fs.capacity = old.capacity;
          }
        }
      }
      next.push_back(std::move(fs));
    }
    std::sort(next.begin(), next.end(), [](const auto& a, const auto& b) {
      return a.mount.mountpoint < b.mount.mountpoint;
    });
    filesystems = std::move(next);
    links.clear();
    for (const auto& [component, dev] : component_devices) {
      // A reload during this pass may have removed the component.
      if (config.FindComponent(component) == nullptr) continue;
      const auto& mount = by_device.at(dev);
      links.push_back({component, mount.mountpoint, mount.device});
    }
    // Rule i's want is named by its path; a reload since may have changed
    // the rules, so match by path.
    const std::vector<std::string> rule_paths = cleanup.RulePaths();
    for (const auto& [path, dev] : rule_mounts.component_devices) {
      const auto ours = by_device.find(dev);
      const auto& mount = ours != by_device.end()
                              ? ours->second
                              : rule_mounts.by_device.at(dev);
      for (size_t k = 0; k < rule_paths.size(); ++k) {
        if (rule_paths[k] == path) {
          cleanup.SetFilesystem(k, mount.mountpoint, mount.device);
        }
      }
    }
    CheckStuckLocked();
    RenderLocked();
    cv.notify_all();
  }

  void WalkLoop() {
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
          next = SaturatingAdd(Clock::now(), config.scan.interval.value);
        }
        walk_requested = false;
        source_changed = false;
      }
      Walk(/*once=*/false, scheduled);
    }
  }

  void CapacityLoop() {
    for (;;) {
      Capacity();
      std::unique_lock<std::mutex> lock(mu);
      auto period = std::min<std::chrono::milliseconds>(
          config.scan.interval.value, kMaxCapacityPeriod);
      // Wake early at a walk's stuck point so scan_success drops on time.
      auto wake = Clock::now() + period;
      if (walk_in_progress && !stuck_reported) {
        wake = std::min(wake, SaturatingAdd(walk_deadline, kStuckGrace));
      }
      cv.wait_until(lock, wake, [&] { return stopping; });
      if (stopping) return;
    }
  }
};

Exporter::Exporter(Config config, ConfigLoader loader)
    : shared_(std::make_shared<Shared>(std::move(config), std::move(loader))) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  shared_->RenderLocked();
}

Exporter::~Exporter() { Stop(); }

void Exporter::Start() {
  // The threads own a reference to the shared state, so a walk stuck in the
  // kernel after Stop() never touches freed memory.
  auto s = shared_;
  s->walk_thread = std::thread([s] { s->WalkLoop(); });
  s->capacity_thread = std::thread([s] { s->CapacityLoop(); });
}

void Exporter::Stop() {
  auto& s = *shared_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.stopping = true;
    s.cancel = true;
    s.cv.notify_all();
  }
  if (s.capacity_thread.joinable()) s.capacity_thread.join();
  // The watcher's thread is joined here; a walk in progress ends by itself.
  s.source->Stop();
  if (s.walk_thread.joinable()) {
    std::unique_lock<std::mutex> lock(s.mu);
    bool done = s.cv.wait_for(lock, std::chrono::seconds(5),
                              [&] { return !s.walk_in_progress; });
    lock.unlock();
    if (done) {
      s.walk_thread.join();
    } else {
      log::Warn("a walk is stuck in the kernel; leaving it behind");
      Abandon(std::move(s.walk_thread));
    }
  }
}

void Exporter::RunOnce() {
  auto s = shared_;
  // The walk runs on its own thread so that a walk stuck in the kernel (hung
  // mount) cannot hang --once: past its deadline it is reported stuck and
  // left behind, like in the background loop.
  std::unique_lock<std::mutex> lock(s->mu);
  // Counted before the walker starts: a walk that finishes before this
  // thread gets the lock again must not be waited for a second time (it
  // was, for scan.timeout, whenever the machine was busy).
  const uint64_t before = s->walks_finished;
  lock.unlock();
  std::thread walker([s] { s->Walk(/*once=*/true); });
  lock.lock();
  // Give up relative to the walk's own deadline, once it has begun: a walker
  // that the machine has not scheduled yet is not stuck, and a walk marked
  // stuck before it began would be marked again by the capacity pass.
  s->cv.wait(lock, [&] {
    return s->walk_in_progress || s->walks_finished > before || s->stopping;
  });
  const auto give_up = declare_walks_stuck.load()
                           ? Clock::now()
                           : SaturatingAdd(s->walk_deadline, kStuckGrace);
  const bool done = s->cv.wait_until(
      lock, give_up, [&] { return s->walks_finished > before || s->stopping; });
  if (!done) {
    s->MarkStuckLocked();
    s->RenderLocked();
  }
  lock.unlock();
  if (done) {
    walker.join();
  } else {
    Abandon(std::move(walker));  // holds `s`, never `this`
  }
  s->Capacity();
}

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
  for (const auto& c : next.components) {
    ComponentState st = FreshState(c);
    // Keep what is known about a component that did not change, so a reload
    // does not reset its counters or blank its series until the next walk.
    const Component* old = s.config.FindComponent(c.name);
    if (old && old->resolved_path == c.resolved_path &&
        old->segment_pattern == c.segment_pattern) {
      for (const auto& o : s.components) {
        if (o.name == c.name) st = o;
      }
    }
    states.push_back(std::move(st));
  }
  const bool same_walk = SameWalkInputs(s.config, next);
  // A new timing takes effect with a walk now; otherwise the next walk is
  // due on the old schedule, which is the same one.
  const bool same_schedule =
      same_walk && s.config.scan.interval.value == next.scan.interval.value &&
      s.config.scan.timeout.value == next.scan.timeout.value;
  s.config = std::move(next);
  s.components = std::move(states);
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

std::shared_ptr<const std::string> Exporter::Exposition() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->text;
}

bool Exporter::Ready() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->ready;
}

uint64_t Exporter::WalksFinished() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->walks_finished;
}

void Exporter::WaitForWalks(uint64_t n) const {
  std::unique_lock<std::mutex> lock(shared_->mu);
  shared_->cv.wait(
      lock, [&] { return shared_->walks_finished >= n || shared_->stopping; });
}

bool Exporter::WaitForSnapshot(
    const std::function<bool(const Snapshot&)>& pred) const {
  auto& s = *shared_;
  std::unique_lock<std::mutex> lock(s.mu);
  s.cv.wait(lock, [&] { return s.stopping || pred(*s.snapshot); });
  return pred(*s.snapshot);
}

void Exporter::SyncWatch() const {
  auto& s = *shared_;
  s.source->Sync();
  std::unique_lock<std::mutex> lock(s.mu);
  const uint64_t ticket = ++s.collect_requested;
  s.source_changed = true;
  s.cv.notify_all();
  s.cv.wait(lock, [&] { return s.stopping || s.collect_done >= ticket; });
}

std::shared_ptr<const Snapshot> Exporter::CurrentSnapshot() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->snapshot;
}

Config Exporter::CurrentConfig() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->config;
}

namespace testing {

void SetDeclareWalksStuck(bool on) { declare_walks_stuck = on; }

void JoinAbandonedWalks() {
  std::vector<std::thread> threads;
  {
    auto& a = AbandonedWalks();
    std::lock_guard<std::mutex> lock(a.mu);
    threads.swap(a.threads);
  }
  for (auto& t : threads) t.join();
}

}  // namespace testing
}  // namespace stemedb::exporter
