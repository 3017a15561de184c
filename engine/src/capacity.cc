#include "capacity.h"

#include <algorithm>
#include <utility>

namespace stemedb::exporter {
namespace {

class MachineCapacity : public CapacitySource {
 public:
  explicit MachineCapacity(measure::CapacityProberOptions prober)
      : prober_(std::move(prober)) {}

  CapacityAnswers Probe(const CapacityWants& wants) override {
    CapacityAnswers out;
    const auto table = measure::ReadMountTable();
    out.components =
        measure::ChooseMounts(table, wants.components, wants.one_filesystem);
    out.rules = measure::ChooseMounts(table, wants.rules, true);
    for (const auto& [dev, mount] : out.components.by_device) {
      out.capacity[dev] = prober_.Probe(mount.mountpoint, wants.statfs_timeout);
    }
    return out;
  }

 private:
  measure::CapacityProber prober_;
};

}  // namespace

std::unique_ptr<CapacitySource> MakeCapacitySource(
    measure::CapacityProberOptions prober) {
  return std::make_unique<MachineCapacity>(std::move(prober));
}

std::vector<FilesystemState> NextFilesystems(
    const CapacityAnswers& answers, const std::vector<FilesystemState>& old) {
  std::vector<FilesystemState> next;
  for (const auto& [dev, mount] : answers.components.by_device) {
    FilesystemState fs;
    fs.mount = mount;
    const auto& answer = answers.capacity.at(dev);
    fs.stat_success = answer.has_value();
    if (answer) {
      fs.have_capacity = true;
      fs.capacity = *answer;
    } else {
      for (const auto& o : old) {
        if (o.mount.mountpoint == mount.mountpoint && o.have_capacity) {
          fs.have_capacity = true;
          fs.capacity = o.capacity;
        }
      }
    }
    next.push_back(std::move(fs));
  }
  std::sort(next.begin(), next.end(), [](const auto& a, const auto& b) {
    return a.mount.mountpoint < b.mount.mountpoint;
  });
  return next;
}

}  // namespace stemedb::exporter
