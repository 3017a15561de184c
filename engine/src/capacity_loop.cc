// The capacity loop: which filesystems hold the components and the
// cleanup rules' directories, and their capacity, through the capacity
// source.
#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "shared.h"

namespace stemedb::exporter {

void Exporter::Shared::Capacity() {
  const CapacityWants wants = CapacityWantsNow();
  const CapacityAnswers answers = capacity_source->Probe(wants);
  // Bounded by its options (processes, descriptors, wall time).
  auto deleted = std::make_shared<const measure::OpenDeletedScan>(
      measure::ScanOpenDeleted(options.open_deleted));
  for (const auto& [dev, mount] : answers.components.by_device) {
    conditions.Statfs(mount.mountpoint, answers.capacity.at(dev).has_value());
  }
  std::lock_guard<std::mutex> lock(mu);
  filesystems = NextFilesystems(answers, filesystems);
  open_deleted = std::move(deleted);
  LinkComponentsLocked(answers);
  LinkRulesLocked(answers);
  CheckStuckLocked();
  RenderLocked();
  cv.notify_all();
}

CapacityWants Exporter::Shared::CapacityWantsNow() const {
  CapacityWants wants;
  std::lock_guard<std::mutex> lock(mu);
  for (size_t i = 0; i < config.components.size(); ++i) {
    const auto& st = components[i];
    wants.components.push_back({config.components[i].name,
                                config.components[i].resolved_path,
                                st.have_stats ? st.stats.device : 0,
                                st.have_stats && !st.stats.present});
  }
  const Schedule schedule = ScheduleOf(config);
  wants.statfs_timeout = schedule.statfs_timeout;
  wants.one_filesystem = schedule.one_filesystem;
  for (const std::string& path : cleanup.RulePaths()) {
    wants.rules.push_back({path, path, 0, false});
  }
  return wants;
}

void Exporter::Shared::LinkComponentsLocked(const CapacityAnswers& answers) {
  links.clear();
  for (const auto& [component, dev] : answers.components.component_devices) {
    // A reload during this pass may have removed the component.
    if (config.FindComponent(component) == nullptr) continue;
    const auto& mount = answers.components.by_device.at(dev);
    links.push_back({component, mount.mountpoint, mount.device});
  }
}

void Exporter::Shared::LinkRulesLocked(const CapacityAnswers& answers) {
  const auto& by_device = answers.components.by_device;
  // Rule i's want is named by its path; a reload since may have changed
  // the rules, so match by path.
  const std::vector<std::string> rule_paths = cleanup.RulePaths();
  for (const auto& [path, dev] : answers.rules.component_devices) {
    const auto ours = by_device.find(dev);
    const auto& mount = ours != by_device.end()
                            ? ours->second
                            : answers.rules.by_device.at(dev);
    for (size_t k = 0; k < rule_paths.size(); ++k) {
      if (rule_paths[k] == path) {
        cleanup.SetFilesystem(k, mount.mountpoint, mount.device);
      }
    }
  }
}

void Exporter::Shared::CapacityLoop() {
  for (;;) {
    Capacity();
    std::unique_lock<std::mutex> lock(mu);
    auto period = std::min<std::chrono::milliseconds>(
        ScheduleOf(config).interval, kMaxCapacityPeriod);
    // Wake early at a walk's stuck point so scan_success drops on time.
    auto wake = Clock::now() + period;
    if (walk_in_progress && !stuck_reported) {
      wake = std::min(wake, SaturatingAdd(walk_deadline, kStuckGrace));
    }
    cv.wait_until(lock, wake, [&] { return stopping; });
    if (stopping) return;
  }
}

}  // namespace stemedb::exporter
