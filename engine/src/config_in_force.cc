#include "config_in_force.h"

#include <optional>

namespace stemedb::exporter {

void AddConfigInForce(const Config& config,
                      const std::vector<ComponentState>& components,
                      Snapshot* snapshot) {
  snapshot->thresholds = ThresholdsInForce(config);
  switch (config.stemedb.state) {
    case StemedbConfig::State::kLoaded:
      snapshot->stemedb_config_loaded = 1;
      break;
    case StemedbConfig::State::kAbsent:
      snapshot->stemedb_config_loaded = 0;
      break;
    case StemedbConfig::State::kDisabled:
      snapshot->stemedb_config_loaded = -1;
      break;
  }
  std::optional<uint64_t> wal_segments;
  for (const ComponentState& c : components) {
    if (c.name == config.thresholds.wal.component && c.has_segments &&
        c.have_stats) {
      wal_segments = c.stats.segments.count;
    }
  }
  snapshot->prevention = PreventionChecks(config, wal_segments);
}

}  // namespace stemedb::exporter
