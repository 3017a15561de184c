#include "host_settings.h"

#include <chrono>
#include <optional>
#include <string_view>

#include "resolve.h"
#include "stemedb/config/stemedb_config.h"
#include "stemedb/config/thresholds_in_force.h"

namespace stemedb::detail {
namespace {

Duration Days(int64_t days) {
  return {std::chrono::hours(24 * days), std::to_string(days) + "d"};
}

// Sets a threshold from config.toml unless the YAML set it.
template <typename T>
void Follow(std::string_view key, const std::optional<T>& from_toml, T* slot,
            Config* config) {
  if (!from_toml) return;
  auto [it, added] =
      config->threshold_sources.emplace(key, ThresholdSource::kStemedb);
  if (!added) return;  // set explicitly: the YAML wins
  *slot = *from_toml;
}

Status LoadStemedb(const std::string& base_dir, Config* config) {
  StemedbConfig& stemedb = config->stemedb;
  stemedb.settings = {};
  if (stemedb.path.empty()) {
    stemedb.resolved_path.clear();
    stemedb.state = StemedbConfig::State::kDisabled;
    return std::nullopt;
  }
  stemedb.resolved_path = ResolvePath(base_dir, stemedb.path);
  bool found = false;
  if (Status err =
          LoadStemedbToml(stemedb.resolved_path, &stemedb.settings, &found)) {
    return err;
  }
  stemedb.state =
      found ? StemedbConfig::State::kLoaded : StemedbConfig::State::kAbsent;
  return std::nullopt;
}

Status LoadJournald(const std::string& base_dir, Config* config) {
  PreventionOptions& p = config->prevention;
  p.journald_read = false;
  p.journald_system_max_use.clear();
  p.journald_system_max_use_where.clear();
  if (p.journald_config.empty()) return std::nullopt;
  if (Status err = ReadJournaldSystemMaxUse(
          ResolvePath(base_dir, p.journald_config), &p.journald_system_max_use,
          &p.journald_system_max_use_where)) {
    return err;
  }
  p.journald_read = true;
  return std::nullopt;
}

}  // namespace

Status ApplyHostSettings(const YamlReader& reader, const std::string& base_dir,
                         Config* config) {
  if (Status err = LoadStemedb(base_dir, config)) return err;
  if (Status err = LoadJournald(base_dir, config)) return err;
  config->threshold_sources.clear();
  for (const std::string_view key : ThresholdKeys()) {
    if (reader.MarkOf("thresholds." + std::string(key))) {
      config->threshold_sources.emplace(key, ThresholdSource::kConfig);
    }
  }
  const StemedbSettings& s = config->stemedb.settings;
  Thresholds& t = config->thresholds;
  auto days = [](const std::optional<int64_t>& d) {
    return d ? std::optional<Duration>(Days(*d)) : std::nullopt;
  };
  Follow("wal.retention", days(s.wal_retention_days), &t.wal.retention, config);
  Follow("wal.max_segments", s.wal_max_segments, &t.wal.max_segments, config);
  Follow("backups.retention", days(s.backup_retention_days),
         &t.backups.retention, config);
  return std::nullopt;
}

}  // namespace stemedb::detail
