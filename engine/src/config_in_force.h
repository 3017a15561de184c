// What the snapshot shows of the config in force: its thresholds with their
// sources, whether StemeDB's config.toml was read, the Prevention checks.
#pragma once

#include <vector>

#include "stemedb/config/config.h"
#include "stemedb/engine/snapshot.h"

namespace stemedb::exporter {

// Fills snapshot->thresholds, stemedb_config_loaded and prevention; the
// WAL segment count comes from the WAL component's last complete walk.
void AddConfigInForce(const Config& config,
                      const std::vector<ComponentState>& components,
                      Snapshot* snapshot);

}  // namespace stemedb::exporter
