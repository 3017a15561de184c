// The watch source: a Watcher keeps the components' numbers current from
// change notifications; components it cannot watch are walked on the
// engine's schedule of walks.
#include <sys/stat.h>

#include <mutex>
#include <utility>

#include "source.h"
#include "stemedb/base/log.h"
#include "stemedb/base/paths.h"
#include "stemedb/measure/filesystems.h"
#include "stemedb/measure/watcher.h"

namespace stemedb::exporter {
namespace {

using Clock = std::chrono::steady_clock;

// The filesystem type holding `path` (the test seam first).
std::string FilesystemType(const std::vector<measure::Mount>& table,
                           const WatchSeams& seams, const std::string& path) {
  for (const auto& [prefix, type] : seams.fs_types) {
    if (IsAtOrBelow(path, NormalizePath(prefix))) return type;
  }
  struct stat st {};
  const dev_t dev = stat(path.c_str(), &st) == 0 ? st.st_dev : 0;
  auto mount = measure::FindMount(table, path, dev);
  return mount ? mount->fstype : "";
}

class WatchSource : public ComponentSource {
 public:
  explicit WatchSource(WatchSeams seams) : seams_(std::move(seams)) {}
  ~WatchSource() override { Stop(); }

  std::vector<measure::ComponentStats> Collect(const WalkPlan& plan) override {
    // Its own reference: Stop() on another thread may take watcher_ away
    // while this walk goes on.
    std::shared_ptr<measure::Watcher> watcher = CurrentWatcher();
    if (!watcher || !ServesPlan(plan_, plan)) watcher = StartWatcher(plan);
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
    const WatchSeams& seams = seams_;
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

  const WatchSeams seams_;
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

std::unique_ptr<ComponentSource> MakeWatchSource(const WatchSeams& seams) {
  return std::make_unique<WatchSource>(seams);
}

}  // namespace stemedb::exporter
