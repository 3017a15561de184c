// Every threshold in force, by its dotted key under `thresholds:`, in base
// units (seconds, bytes, counts, ratios) with where it came from; and the
// runbook's Prevention checks. The exporter exports both
// (stemedb_disk_threshold, stemedb_disk_prevention_check), diagnose prints
// the failing checks, rulegen uses the same Config.
//
// Thread safety: pure functions of their arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stemedb/config/config.h"

namespace stemedb {

struct ThresholdInForce {
  std::string_view key;  // e.g. "wal.retention"
  double value = 0;      // seconds, bytes, counts or ratios
  ThresholdSource source = ThresholdSource::kDefault;
};

// Every numeric threshold (the component names are not thresholds), in
// schema order.
std::vector<ThresholdInForce> ThresholdsInForce(const Config& config);

// The dotted keys ThresholdsInForce reports, in the same order.
std::vector<std::string_view> ThresholdKeys();

// One check of the runbook's Prevention section.
struct PreventionCheck {
  std::string_view name;  // label check=, e.g. "compaction_disabled"
  bool failing = false;   // the runbook's advice is not followed
  std::string detail;     // the setting and where it is, for humans
  std::string advice;     // the runbook's advice
};

// The checks that can be made with what is known: those on config.toml when
// it was loaded, segments_over_max when `wal_segments` is known and the TOML
// sets max_segments, journald's when its config was read. Check names:
// compaction_disabled, wal_retention_above_advice,
// backup_retention_above_advice, segments_over_max, journald_no_size_cap.
std::vector<PreventionCheck> PreventionChecks(
    const Config& config, std::optional<uint64_t> wal_segments);

}  // namespace stemedb
