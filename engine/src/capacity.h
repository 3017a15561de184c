// The capacity seam: which filesystems hold the components and the cleanup
// rules' directories, and what statvfs says of each (with a timeout, so a
// hung mount cannot hang the loop). Private to the engine.
//
// Thread safety: a CapacitySource is thread-compatible: the capacity loop
// (or RunOnce) calls Probe, one call at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stemedb/engine/snapshot.h"
#include "stemedb/measure/filesystems.h"

namespace stemedb::exporter {

// What one capacity pass asks about.
struct CapacityWants {
  std::vector<measure::MountWant> components;  // config order
  // One per cleanup rule, named by its directory.
  std::vector<measure::MountWant> rules;
  std::chrono::milliseconds statfs_timeout{5000};
  bool one_filesystem = true;
};

// What it found.
struct CapacityAnswers {
  measure::MountChoice components;  // the filesystems reported
  // The filesystem of each rule's directory, chosen alike; not reported for
  // that alone.
  measure::MountChoice rules;
  // statvfs of each filesystem of `components`; nullopt: failed or timed
  // out.
  std::map<dev_t, std::optional<measure::Capacity>> capacity;
};

class CapacitySource {
 public:
  virtual ~CapacitySource() = default;
  virtual CapacityAnswers Probe(const CapacityWants& wants) = 0;
};

// The mount table and statvfs of this machine, through a
// measure::CapacityProber made with `prober` (ExporterOptions'
// capacity_prober: production unless a test changed it).
std::unique_ptr<CapacitySource> MakeCapacitySource(
    measure::CapacityProberOptions prober);

// The filesystem states after a pass: each answer, or the last answer
// (in `old`) of a filesystem whose statvfs failed; sorted by mountpoint.
std::vector<FilesystemState> NextFilesystems(
    const CapacityAnswers& answers, const std::vector<FilesystemState>& old);

}  // namespace stemedb::exporter
