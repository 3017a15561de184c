#include "stemedb/measure/watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "stemedb/base/paths.h"
#include "watch_tree.h"

namespace stemedb::measure {

std::string_view RewalkReasonName(RewalkReason reason) {
  switch (reason) {
    case RewalkReason::kOverflow:
      return "overflow";
    case RewalkReason::kWatchLimit:
      return "watch_limit";
    case RewalkReason::kError:
      return "error";
    case RewalkReason::kReplaced:
      return "replaced";
  }
  return "error";
}

namespace {

using detail::Clock;

// A component's path is resolved afresh this often: a missing directory
// is looked for, and one replaced behind the watches (its parent moved
// away, a symlink on its path changed: no event reaches a watch below) is
// noticed by its device and inode.
constexpr std::chrono::milliseconds kRootCheck{1000};

}  // namespace

Watcher::Watcher(std::vector<ComponentSpec> specs, WalkOptions walk,
                 WatchOptions options, std::vector<bool> watch)
    : specs_(std::move(specs)),
      walk_(std::move(walk)),
      options_(options),
      tree_(std::make_unique<detail::WatchTree>(detail::WatchContext{
          specs_, walk_, options_, stop_, events_, watches_})) {
  for (size_t i = 0; i < specs_.size(); ++i) {
    detail::WatchedComponent& c = tree_->components[i];
    c.watched = i < watch.size() && watch[i];
    c.root = NormalizePath(specs_[i].path);
    c.segments = SegmentGlob(specs_[i]);
  }
  published_.resize(specs_.size());
  info_.resize(specs_.size());
  new_errors_.resize(specs_.size());
}

Watcher::~Watcher() { Stop(); }

void Watcher::Start(std::function<void()> changed) {
  changed_ = std::move(changed);
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  detail::WatchTree& t = *tree_;
  t.inotify_fd = inotify_fd_;
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (inotify_fd_ < 0 || wake_fd_ < 0) t.components[i].watched = false;
    t.info[i].watched = t.components[i].watched;
  }
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (t.components[i].watched) t.Build(static_cast<int>(i), std::nullopt);
  }
  t.next_reconcile = detail::SaturatingAddNow(options_.reconcile_interval);
  Publish();
  if (inotify_fd_ >= 0 && wake_fd_ >= 0)
    thread_ = std::thread([this] { Run(); });
}

void Watcher::Stop() {
  stop_ = true;
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mu_);
    sync_done_ = sync_requested_;  // nobody waits for a stopped watcher
  }
  cv_.notify_all();
  if (inotify_fd_ >= 0) close(inotify_fd_);  // drops every watch
  if (wake_fd_ >= 0) close(wake_fd_);
  inotify_fd_ = wake_fd_ = -1;
}

void Watcher::Publish() {
  detail::WatchTree& t = *tree_;
  std::vector<ComponentStats> stats;
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (t.components[i].watched) {
      stats.push_back(t.Totals(static_cast<int>(i), walk_.record_directories));
    } else {
      stats.emplace_back().name = specs_[i].name;
    }
  }
  {
    std::lock_guard lock(mu_);
    published_ = std::move(stats);
    info_ = t.info;
    for (size_t i = 0; i < specs_.size(); ++i) {
      for (int k = 0; k < kErrorReasonCount; ++k) {
        new_errors_[i][k] += t.errors[i][k];
      }
      t.errors[i] = {};
    }
  }
  t.changed = false;
}

void Watcher::WaitForWork(bool any_watched) {
  const detail::WatchTree& t = *tree_;
  const auto now = Clock::now();
  auto wake = t.next_reconcile;
  if (!t.dirty.empty())
    wake = std::min(wake, t.first_dirty + options_.coalesce);
  for (const auto& [path, l] : t.quiet) wake = std::min(wake, l.at);
  for (const auto& [path, l] : t.settling) wake = std::min(wake, l.at);
  if (any_watched) wake = std::min(wake, t.next_root_check);
  int timeout_ms = -1;
  if (wake != Clock::time_point::max()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(wake - now);
    timeout_ms = static_cast<int>(std::clamp<int64_t>(
        left.count() + 1, 0, std::numeric_limits<int>::max()));
  }
  struct pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  poll(fds, 2, timeout_ms);
}

void Watcher::Step(bool syncing, bool any_watched) {
  detail::WatchTree& t = *tree_;
  if (!t.ReadEvents()) WalkAfterOverflow();
  const auto now = Clock::now();
  // Before the dirty directories are read: those of a replaced component
  // would be read in vain. Sync checks too, so a test can wait on it.
  if (any_watched &&
      (syncing || t.check_roots_now || now >= t.next_root_check)) {
    t.check_roots_now = false;
    t.CheckRoots();
    t.next_root_check = Clock::now() + kRootCheck;
  }
  t.TakeDue(now, syncing);
  if (!t.dirty.empty() &&
      (syncing || now >= t.first_dirty + options_.coalesce)) {
    t.Drain();
  }
  if (now >= t.next_reconcile && !t.quiet.empty()) {
    t.next_reconcile = now + options_.quiet;  // after the re-reads due
  } else if (now >= t.next_reconcile) {
    t.Drain();
    if (!t.Reconcile()) WalkAfterOverflow();
    t.Drain();
    t.next_reconcile = detail::SaturatingAddNow(options_.reconcile_interval);
  }
}

void Watcher::WalkAfterOverflow() {
  detail::WatchTree& t = *tree_;
  t.dirty.clear();
  t.quiet.clear();
  for (size_t i = 0; i < t.components.size(); ++i) {
    if (t.components[i].watched) {
      t.Build(static_cast<int>(i), RewalkReason::kOverflow);
    }
  }
}

void Watcher::Run() {
  detail::WatchTree& t = *tree_;
  while (!stop_) {
    bool any_watched = false;
    for (const auto& c : t.components) any_watched |= c.watched;
    WaitForWork(any_watched);
    if (stop_) break;
    uint64_t drained;
    (void)!read(wake_fd_, &drained, sizeof drained);

    uint64_t ticket;
    bool syncing;
    {
      std::lock_guard lock(mu_);
      ticket = sync_requested_;
      syncing = ticket > sync_done_;
    }
    Step(syncing, any_watched);
    if (t.changed) {
      Publish();
      if (changed_) changed_();
    }
    if (syncing && t.dirty.empty()) {
      {
        std::lock_guard lock(mu_);
        sync_done_ = ticket;
      }
      cv_.notify_all();
    }
  }
}

std::vector<ComponentStats> Watcher::TakeStats(bool with_directories) {
  std::lock_guard lock(mu_);
  std::vector<ComponentStats> out = published_;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].errors = new_errors_[i];
    new_errors_[i] = {};
    if (!with_directories) out[i].directory_list = nullptr;
  }
  return out;
}

std::vector<WatchInfo> Watcher::Info() const {
  std::lock_guard lock(mu_);
  return info_;
}

uint64_t Watcher::Events() const {
  return events_.load(std::memory_order_relaxed);
}

uint64_t Watcher::Directories() const {
  return watches_.load(std::memory_order_relaxed);
}

void Watcher::Sync() {
  std::unique_lock lock(mu_);
  if (!thread_.joinable()) return;
  const uint64_t ticket = ++sync_requested_;
  lock.unlock();
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  lock.lock();
  cv_.wait(lock, [&] { return sync_done_ >= ticket || stop_; });
}

}  // namespace stemedb::measure
