#include "stemedb/engine/exporter.h"

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "shared.h"
#include "stemedb/base/log.h"

namespace stemedb::exporter {

// Where walk threads left behind go by default: never joined, never
// destroyed (a joinable std::thread must not be destroyed). One per stuck
// walk: RunOnce() runs once, and the loops leave at most one behind at
// Stop().
std::shared_ptr<AbandonedWalks> ProcessAbandonedWalks() {
  static auto* abandoned =  // outlives static destruction
      new std::shared_ptr<AbandonedWalks>(std::make_shared<AbandonedWalks>());
  return *abandoned;
}

void AbandonedWalks::Add(std::thread t) {
  std::lock_guard<std::mutex> lock(mu_);
  threads_.push_back(std::move(t));
}

void AbandonedWalks::JoinAll() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

Exporter::Exporter(Config config, ConfigLoader loader, ExporterOptions options)
    : shared_(std::make_shared<Shared>(std::move(config), std::move(loader),
                                       std::move(options))) {
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
  // No source is made after `stopping`.
  std::shared_ptr<ComponentSource> source;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    source = s.source;
  }
  if (source) source->Stop();
  if (s.walk_thread.joinable()) {
    std::unique_lock<std::mutex> lock(s.mu);
    bool done = s.cv.wait_for(lock, std::chrono::seconds(5),
                              [&] { return !s.walk_in_progress; });
    lock.unlock();
    if (done) {
      s.walk_thread.join();
    } else {
      log::Warn("a walk is stuck in the kernel; leaving it behind");
      s.options.abandoned_walks->Add(std::move(s.walk_thread));
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
  const auto give_up = s->DeclaredStuck()
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
    s->options.abandoned_walks->Add(std::move(walker));  // holds `s`
  }
  s->Capacity();
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
  std::shared_ptr<ComponentSource> source;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    source = s.source;
  }
  if (source) source->Sync();
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

diagnose::GrowthReport Exporter::Growth() const {
  std::lock_guard<std::mutex> lock(shared_->growth_mu);
  return shared_->growth.Report();
}

}  // namespace stemedb::exporter
