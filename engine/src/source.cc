#include "source.h"

#include <sys/stat.h>

#include <map>
#include <mutex>

#include "exporter_testing.h"
#include "stemedb/base/log.h"
#include "stemedb/base/paths.h"
#include "stemedb/measure/filesystems.h"
#include "stemedb/measure/watcher.h"

namespace stemedb::exporter {

WalkPlan PlanWalk(const Config& config) {
  WalkPlan plan;
  for (const auto& c : config.components) {
    plan.specs.push_back({c.name, c.resolved_path, c.segment_pattern});
  }
  plan.options.threads = config.scan.threads;
  plan.options.one_filesystem = config.scan.one_filesystem;
  plan.options.max_depth = config.scan.max_depth;
  plan.mode = config.scan.mode;
  plan.interval = config.scan.interval.value;
  plan.timeout = config.scan.timeout.value;
  plan.reconcile_interval = config.scan.reconcile_interval.value;
  // For diagnose's top-20 lists; the engine reduces the records to them as
  // soon as a walk is applied (TopDirectoriesOf).
  plan.options.record_directories = true;
  return plan;
}

bool SameWalkInputs(const Config& a, const Config& b) {
  if (a.components.size() != b.components.size()) return false;
  for (size_t i = 0; i < a.components.size(); ++i) {
    const Component& x = a.components[i];
    const Component& y = b.components[i];
    if (x.name != y.name || x.resolved_path != y.resolved_path ||
        x.segment_pattern != y.segment_pattern) {
      return false;
    }
  }
  // The cleanup rules add walk roots and tally every entry.
  if (a.cleanup.rules.size() != b.cleanup.rules.size()) return false;
  for (size_t i = 0; i < a.cleanup.rules.size(); ++i) {
    const CleanupRule& x = a.cleanup.rules[i];
    const CleanupRule& y = b.cleanup.rules[i];
    if (x.name != y.name || x.section != y.section ||
        x.resolved_path != y.resolved_path || x.match != y.match ||
        x.type != y.type || x.older_than.value != y.older_than.value ||
        x.resolved_command != y.resolved_command) {
      return false;
    }
  }
  return a.scan.threads == b.scan.threads &&
         a.scan.one_filesystem == b.scan.one_filesystem &&
         a.scan.max_depth == b.scan.max_depth && a.scan.mode == b.scan.mode &&
         a.scan.reconcile_interval.value == b.scan.reconcile_interval.value;
}

bool NotificationsMissChanges(std::string_view fstype) {
  static constexpr std::string_view kRemote[] = {
      "nfs",  "nfs4", "cifs",      "smb3",   "smbfs",   "9p",
      "ceph", "afs",  "glusterfs", "lustre", "gpfs",    "ocfs2",
      "gfs2", "fuse", "sshfs",     "davfs",  "virtiofs"};
  if (fstype.starts_with("fuse.") || fstype.starts_with("fuseblk")) {
    return true;
  }
  for (std::string_view t : kRemote) {
    if (fstype == t) return true;
  }
  return false;
}

namespace testing {
namespace {
std::mutex seams_mu;
WatchSeams seams;  // guarded by seams_mu
}  // namespace
void SetWatchSeams(WatchSeams s) {
  std::lock_guard lock(seams_mu);
  seams = std::move(s);
}
WatchSeams GetWatchSeams() {
  std::lock_guard lock(seams_mu);
  return seams;
}
}  // namespace testing

namespace {

using Clock = std::chrono::steady_clock;

// True when a watcher started for `b` serves `a`: the same settings and
// `b`'s specs a prefix of `a`'s (specs appended later, such as a cleanup
// rule's extra roots, are walked at the interval instead: restarting would
// count the old instance's watches against the limit until the kernel has
// freed them).
bool SamePlan(const WalkPlan& a, const WalkPlan& b) {
  if (a.specs.size() < b.specs.size()) return false;
  for (size_t i = 0; i < b.specs.size(); ++i) {
    if (a.specs[i].name != b.specs[i].name ||
        a.specs[i].path != b.specs[i].path ||
        a.specs[i].segment_pattern != b.specs[i].segment_pattern) {
      return false;
    }
  }
  return a.mode == b.mode && a.reconcile_interval == b.reconcile_interval &&
         a.options.threads == b.options.threads &&
         a.options.one_filesystem == b.options.one_filesystem &&
         a.options.max_depth == b.options.max_depth &&
         a.options.record_directories == b.options.record_directories;
}

// The filesystem type holding `path` (the test seam first).
std::string FilesystemType(const std::vector<measure::Mount>& table,
                           const testing::WatchSeams& seams,
                           const std::string& path) {
  for (const auto& [prefix, type] : seams.fs_types) {
    if (IsAtOrBelow(path, NormalizePath(prefix))) return type;
  }
  struct stat st {};
  const dev_t dev = stat(path.c_str(), &st) == 0 ? st.st_dev : 0;
  auto mount = measure::FindMount(table, path, dev);
  return mount ? mount->fstype : "";
}

class ModalSource : public ComponentSource {
 public:
  ~ModalSource() override { Stop(); }

  std::vector<measure::ComponentStats> Collect(const WalkPlan& plan) override {
    if (plan.mode == ScanMode::kWalk) {
      StopWatcher();
      return measure::ScanComponents(plan.specs, plan.options);
    }
    // Its own reference: Stop() on another thread may take watcher_ away
    // while this walk goes on.
    std::shared_ptr<measure::Watcher> watcher = CurrentWatcher();
    if (!watcher || !SamePlan(plan, plan_)) watcher = StartWatcher(plan);
    if (!watcher) {  // stopped
      return std::vector<measure::ComponentStats>(plan.specs.size());
    }
    std::vector<measure::ComponentStats> out =
        watcher->TakeStats(plan.options.record_directories);
    std::vector<measure::WatchInfo> info = watcher->Info();
    out.resize(plan.specs.size());
    info.resize(plan.specs.size());  // appended specs: not watched
    last_.resize(plan.specs.size());
    walked_.resize(plan.specs.size(), false);
    // Components not watched (their filesystem, or the watch limit) are
    // walked on the engine's schedule of walks; between walks their last
    // numbers stand. One that has just fallen back is walked at once, and
    // that walk does not move the schedule: numbers stay within one
    // scan.interval (plus a walk) of the disk, as in walk mode.
    std::vector<measure::ComponentSpec> due;
    std::vector<size_t> due_index;
    for (size_t i = 0; i < out.size(); ++i) {
      if (info[i].watched) continue;
      if (walked_[i] && !plan.walks_due) {
        out[i] = last_[i];
        out[i].errors = {};  // counted when walked
        continue;
      }
      due.push_back(plan.specs[i]);
      due_index.push_back(i);
    }
    if (!due.empty()) {
      std::vector<measure::ComponentStats> walked =
          measure::ScanComponents(due, plan.options);
      for (size_t k = 0; k < due.size(); ++k) {
        const size_t i = due_index[k];
        out[i] = walked[k];
        last_[i] = walked[k];
        walked_[i] = walked[k].complete;
      }
    }
    return out;
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    StopWatcher();
  }

  WatchState Watching() const override {
    WatchState state;
    std::lock_guard lock(mu_);
    if (!watcher_) {
      state.watched.assign(plan_.specs.size(), false);
      return state;
    }
    state.info = watcher_->Info();
    for (const auto& i : state.info) state.watched.push_back(i.watched);
    state.events = watcher_->Events();
    state.directories = watcher_->Directories();
    return state;
  }

  void Sync() override {
    if (std::shared_ptr<measure::Watcher> w = CurrentWatcher()) w->Sync();
  }

 private:
  std::shared_ptr<measure::Watcher> CurrentWatcher() const {
    std::lock_guard lock(mu_);
    return watcher_;
  }

  // The new watcher; null once the source is stopped (a walk that was in
  // progress then must not leave a watcher running behind Stop()).
  std::shared_ptr<measure::Watcher> StartWatcher(const WalkPlan& plan) {
    StopWatcher();
    const testing::WatchSeams seams = testing::GetWatchSeams();
    const auto table = measure::ReadMountTable();
    std::vector<bool> watch;
    for (const auto& spec : plan.specs) {
      const std::string type = FilesystemType(table, seams, spec.path);
      const bool ok = !NotificationsMissChanges(type);
      if (!ok) {
        log::Info("filesystem type misses change notifications; walking",
                  {{"component", spec.name}, {"fstype", type}});
      }
      watch.push_back(ok);
    }
    measure::WatchOptions options;
    options.reconcile_interval = plan.reconcile_interval;
    options.walk_timeout = plan.timeout;
    options.overflow_after = seams.overflow_after;
    options.max_watches = seams.max_watches;
    if (seams.per_name_min_entries) {
      options.per_name_min_entries = *seams.per_name_min_entries;
    }
    measure::WalkOptions walk = plan.options;
    walk.deadline = Clock::time_point::max();
    walk.cancel = nullptr;
    auto watcher =
        std::make_shared<measure::Watcher>(plan.specs, walk, options, watch);
    watcher->Start([this] { NotifyChanged(); });
    const auto info = watcher->Info();
    for (size_t i = 0; i < info.size(); ++i) {
      if (watch[i] && !info[i].watched) {
        log::Warn(
            "cannot watch the component (inotify refused, or its watch "
            "limit fs.inotify.max_user_watches reached); walking it",
            {{"component", plan.specs[i].name}});
      }
    }
    {
      std::lock_guard lock(mu_);
      if (!stopped_) {
        watcher_ = watcher;
        plan_ = plan;
        last_.assign(plan.specs.size(), {});
        walked_.assign(plan.specs.size(), false);
        return watcher;
      }
    }
    watcher->Stop();  // outside mu_: its thread may be calling back
    return nullptr;
  }

  void StopWatcher() {
    std::shared_ptr<measure::Watcher> w;
    {
      std::lock_guard lock(mu_);
      w = std::move(watcher_);
    }
    if (w) w->Stop();
  }

  // Guards watcher_, stopped_ and plan_ against Watching() and Stop() on
  // other threads (plan_ is written on the walk thread only).
  mutable std::mutex mu_;
  std::shared_ptr<measure::Watcher> watcher_;
  bool stopped_ = false;
  WalkPlan plan_;
  // Walked components (not watched): the last walk, and whether it was
  // complete.
  std::vector<measure::ComponentStats> last_;
  std::vector<bool> walked_;
};

}  // namespace

std::unique_ptr<ComponentSource> MakeSource() {
  return std::make_unique<ModalSource>();
}

}  // namespace stemedb::exporter
