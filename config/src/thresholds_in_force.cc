// The thresholds as a table of dotted keys, and the Prevention checks.

#include "stemedb/config/thresholds_in_force.h"

#include <functional>

namespace stemedb {
namespace {

struct Entry {
  std::string_view key;
  std::function<double(const Thresholds&)> value;
};

double Seconds(const Duration& d) { return d.seconds(); }

const std::vector<Entry>& Table() {
  using T = const Thresholds&;
  static const std::vector<Entry> table = {
      {"disk_space.warning.avail_ratio_below",
       [](T t) { return t.disk_space.warning.ratio; }},
      {"disk_space.warning.for",
       [](T t) { return Seconds(t.disk_space.warning.for_duration); }},
      {"disk_space.critical.avail_ratio_below",
       [](T t) { return t.disk_space.critical.ratio; }},
      {"disk_space.critical.for",
       [](T t) { return Seconds(t.disk_space.critical.for_duration); }},
      {"disk_space.emergency.used_ratio_above",
       [](T t) { return t.disk_space.emergency_used.ratio; }},
      {"disk_space.emergency.for",
       [](T t) { return Seconds(t.disk_space.emergency_used.for_duration); }},
      {"inodes.warning.free_ratio_below",
       [](T t) { return t.inodes.warning.ratio; }},
      {"inodes.warning.for",
       [](T t) { return Seconds(t.inodes.warning.for_duration); }},
      {"inodes.critical.free_ratio_below",
       [](T t) { return t.inodes.critical.ratio; }},
      {"inodes.critical.for",
       [](T t) { return Seconds(t.inodes.critical.for_duration); }},
      {"fill_prediction.horizon",
       [](T t) { return Seconds(t.fill_prediction.horizon); }},
      {"fill_prediction.lookback",
       [](T t) { return Seconds(t.fill_prediction.lookback); }},
      {"fill_prediction.for",
       [](T t) { return Seconds(t.fill_prediction.for_duration); }},
      {"fill_prediction.avail_ratio_below",
       [](T t) { return t.fill_prediction.avail_ratio_below; }},
      {"fill_prediction.critical.horizon",
       [](T t) { return Seconds(t.fill_prediction.critical.horizon); }},
      {"fill_prediction.critical.lookback",
       [](T t) { return Seconds(t.fill_prediction.critical.lookback); }},
      {"fill_prediction.critical.for",
       [](T t) { return Seconds(t.fill_prediction.critical.for_duration); }},
      {"fill_prediction.critical.avail_ratio_below",
       [](T t) { return t.fill_prediction.critical.avail_ratio_below; }},
      {"fill_prediction.critical.daily_low_margin",
       [](T t) { return t.fill_prediction.critical.daily_low_margin; }},
      {"filesystem_health.readonly_for",
       [](T t) { return Seconds(t.filesystem_health.readonly_for); }},
      {"filesystem_health.stat_failing_for",
       [](T t) { return Seconds(t.filesystem_health.stat_failing_for); }},
      {"wal.retention", [](T t) { return Seconds(t.wal.retention); }},
      {"wal.max_segments",
       [](T t) { return static_cast<double>(t.wal.max_segments); }},
      {"wal.max_filesystem_share",
       [](T t) { return t.wal.max_filesystem_share; }},
      {"wal.shrinking_lookback",
       [](T t) { return Seconds(t.wal.shrinking_lookback); }},
      {"wal.shrinking_ratio", [](T t) { return t.wal.shrinking_ratio; }},
      {"wal.for", [](T t) { return Seconds(t.wal.for_duration); }},
      {"backups.max_age", [](T t) { return Seconds(t.backups.max_age); }},
      {"backups.retention", [](T t) { return Seconds(t.backups.retention); }},
      {"backups.max_count",
       [](T t) { return static_cast<double>(t.backups.max_count); }},
      {"backups.for", [](T t) { return Seconds(t.backups.for_duration); }},
      {"tmp.max_files",
       [](T t) { return static_cast<double>(t.tmp.max_files); }},
      {"tmp.max_bytes",
       [](T t) { return static_cast<double>(t.tmp.max_bytes); }},
      {"tmp.for", [](T t) { return Seconds(t.tmp.for_duration); }},
      {"reclaimable.max_filesystem_share",
       [](T t) { return t.reclaimable.max_filesystem_share; }},
      {"reclaimable.for",
       [](T t) { return Seconds(t.reclaimable.for_duration); }},
      {"exporter.scan_stale_after",
       [](T t) { return Seconds(t.exporter.scan_stale_after); }},
      {"exporter.for", [](T t) { return Seconds(t.exporter.for_duration); }},
  };
  return table;
}

std::string Days(std::chrono::milliseconds d) {
  return std::to_string(d.count() / 86'400'000) + " days";
}

// A retention in config.toml against the runbook's advice; unset means
// StemeDB keeps everything ("default: unlimited").
PreventionCheck RetentionCheck(std::string_view name, std::string_view key,
                               std::optional<int64_t> days,
                               std::chrono::milliseconds advice,
                               std::string text) {
  const int64_t advice_days = advice.count() / 86'400'000;
  PreventionCheck check{name, !days || *days > advice_days, "", ""};
  check.detail = days ? std::string(key) + " = " + std::to_string(*days)
                      : std::string(key) + " is not set (unlimited)";
  check.advice = std::move(text) + " (" + Days(advice) + " or less)";
  return check;
}

void AddTomlChecks(const Config& config, std::optional<uint64_t> wal_segments,
                   std::vector<PreventionCheck>* out) {
  const StemedbSettings& s = config.stemedb.settings;
  const std::string& file = config.stemedb.resolved_path;
  PreventionCheck compaction{"compaction_disabled",
                             s.compaction_enabled != true, "", ""};
  compaction.detail =
      s.compaction_enabled
          ? "[storage] compaction_enabled = " +
                std::string(*s.compaction_enabled ? "true" : "false")
          : "[storage] compaction_enabled is not set";
  compaction.advice =
      "enable automatic daily compaction in " + file +
      " ([storage] compaction_enabled = true, compaction_interval_hours = 24)";
  out->push_back(std::move(compaction));
  out->push_back(RetentionCheck(
      "wal_retention_above_advice", "[wal] retention_days",
      s.wal_retention_days, config.prevention.wal_retention_advice,
      "set [wal] retention_days in " + file +
          " to 7 for pilot, 3 for production with frequent backups"));
  out->push_back(RetentionCheck(
      "backup_retention_above_advice", "[backup] retention_days",
      s.backup_retention_days, config.prevention.backup_retention_advice,
      "retain the last 7 daily backups only ([backup] retention_days in " +
          file + ")"));
  if (wal_segments && s.wal_max_segments) {
    out->push_back(
        {"segments_over_max",
         *wal_segments > static_cast<uint64_t>(*s.wal_max_segments),
         std::to_string(*wal_segments) +
             " WAL segments, [wal] max_segments = " +
             std::to_string(*s.wal_max_segments),
         "StemeDB is not enforcing its own segment cap: check that WAL "
         "cleanup runs (journalctl -u stemedb-api | grep \"WAL cleanup\")"});
  }
}

}  // namespace

std::string_view ThresholdSourceName(ThresholdSource source) {
  switch (source) {
    case ThresholdSource::kConfig:
      return "config";
    case ThresholdSource::kStemedb:
      return "stemedb";
    case ThresholdSource::kDefault:
      break;
  }
  return "default";
}

std::vector<std::string_view> ThresholdKeys() {
  std::vector<std::string_view> keys;
  for (const Entry& e : Table()) keys.push_back(e.key);
  return keys;
}

std::vector<ThresholdInForce> ThresholdsInForce(const Config& config) {
  std::vector<ThresholdInForce> out;
  for (const Entry& e : Table()) {
    const auto it = config.threshold_sources.find(std::string(e.key));
    out.push_back({e.key, e.value(config.thresholds),
                   it == config.threshold_sources.end()
                       ? ThresholdSource::kDefault
                       : it->second});
  }
  return out;
}

std::vector<PreventionCheck> PreventionChecks(
    const Config& config, std::optional<uint64_t> wal_segments) {
  std::vector<PreventionCheck> out;
  if (config.stemedb.state == StemedbConfig::State::kLoaded) {
    AddTomlChecks(config, wal_segments, &out);
  }
  const PreventionOptions& p = config.prevention;
  if (p.journald_read) {
    out.push_back({"journald_no_size_cap", p.journald_system_max_use.empty(),
                   p.journald_system_max_use.empty()
                       ? "no SystemMaxUse= in " + p.journald_config + " or " +
                             p.journald_config + ".d/*.conf"
                       : "SystemMaxUse=" + p.journald_system_max_use + " (" +
                             p.journald_system_max_use_where + ")",
                   "cap the journal: SystemMaxUse=500M in "
                   "/etc/systemd/journald.conf.d/vacuum.conf, then restart "
                   "systemd-journald"});
  }
  return out;
}

}  // namespace stemedb
