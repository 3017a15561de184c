#include "relations.h"

#include <string>
#include <vector>

namespace stemedb::detail {
namespace {

// The error goes to `primary` if the file set it, else to `secondary`
// (the file set that one, and the primary kept its default).
ConfigError RelationError(const YamlReader& reader, const std::string& primary,
                          std::string primary_message,
                          const std::string& secondary,
                          std::string secondary_message) {
  if (const auto mark = reader.MarkOf(primary)) {
    return reader.Error({primary, *mark}, std::move(primary_message));
  }
  if (const auto mark = reader.MarkOf(secondary)) {
    return reader.Error({secondary, *mark}, std::move(secondary_message));
  }
  return reader.Error({primary, YAML::Mark::null_mark()},
                      std::move(primary_message));
}

// A warning must fire before its critical: on a "below" ratio that means a
// larger threshold. node-mixin shipped these swapped for two years.
Status CheckWarningLooser(const YamlReader& reader, const std::string& section,
                          const std::string& ratio_key,
                          const RatioThreshold& warning,
                          const RatioThreshold& critical) {
  if (warning.ratio > critical.ratio) return std::nullopt;
  const std::string why =
      ": a warning must be looser than its critical, so that it fires first";
  return RelationError(
      reader, section + ".warning." + ratio_key,
      FormatNumber(warning.ratio) + " must be greater than critical." +
          ratio_key + " (" + FormatNumber(critical.ratio) + ")" + why,
      section + ".critical." + ratio_key,
      FormatNumber(critical.ratio) + " must be less than warning." + ratio_key +
          " (" + FormatNumber(warning.ratio) + ")" + why);
}

// A threshold section names the component it watches; the WAL and backup
// alerts count segments, so those components need a segment_pattern.
Status CheckComponentReference(const YamlReader& reader, const Config& config,
                               const std::string& path, const std::string& name,
                               bool needs_segments) {
  const Component* component = config.FindComponent(name);
  if (component == nullptr) {
    std::string known;
    for (const Component& c : config.components) {
      known += (known.empty() ? "" : ", ") + c.name;
    }
    std::string message = "\"" + name + "\" is not a component (components: " +
                          (known.empty() ? "none" : known) + ")";
    if (const auto mark = reader.MarkOf(path)) {
      return reader.Error({path, *mark}, std::move(message));
    }
    // The default name, made dangling by a components list without it.
    return reader.Error(
        {path,
         reader.KeyMarkOf("components").value_or(YAML::Mark::null_mark())},
        message +
            "; the components list replaced the default one, so "
            "add \"" +
            name + "\" or set " + path);
  }
  if (needs_segments && component->segment_pattern.empty()) {
    const std::string component_path = "components." + name;
    return reader.Error(
        {component_path,
         reader.KeyMarkOf(component_path).value_or(YAML::Mark::null_mark())},
        "has no segment_pattern, but " + path +
            " names it and its alerts count segments");
  }
  return std::nullopt;
}

}  // namespace

Status CheckRelations(const YamlReader& reader, const Config& config) {
  const Thresholds& t = config.thresholds;
  if (Status status = CheckComponentReference(
          reader, config, "thresholds.wal.component", t.wal.component, true)) {
    return status;
  }
  if (Status status = CheckComponentReference(reader, config,
                                              "thresholds.backups.component",
                                              t.backups.component, true)) {
    return status;
  }
  if (Status status = CheckComponentReference(
          reader, config, "thresholds.tmp.component", t.tmp.component, false)) {
    return status;
  }
  const std::vector<CleanupRule>& rules = config.cleanup.rules;
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].component.empty()) continue;
    // Default rules have no position of their own: their index is the
    // default list's.
    const std::string path =
        "cleanup.rules[" + std::to_string(i) + "].component";
    if (Status status = CheckComponentReference(reader, config, path,
                                                rules[i].component, false)) {
      return status;
    }
  }
  for (const auto& [name, bytes] : config.dashboard.growth_per_day) {
    if (Status status = CheckComponentReference(
            reader, config, "dashboard.growth_per_day." + name, name, false)) {
      return status;
    }
  }
  if (Status status = CheckWarningLooser(
          reader, "thresholds.disk_space", "avail_ratio_below",
          t.disk_space.warning, t.disk_space.critical)) {
    return status;
  }
  // Emergency (§1, disk above 98%) is used space and must lie beyond
  // critical's used space, 1 - critical.avail_ratio_below. The epsilon
  // treats 0.9 vs 1 - 0.1 as equal despite binary rounding.
  const double critical_used = 1 - t.disk_space.critical.ratio;
  if (t.disk_space.emergency_used.ratio <= critical_used + 1e-9) {
    const std::string why =
        ": the emergency must be tighter than critical, so it fires last";
    return RelationError(
        reader, "thresholds.disk_space.emergency.used_ratio_above",
        FormatNumber(t.disk_space.emergency_used.ratio) +
            " must be greater than " + FormatNumber(critical_used) +
            " (1 - critical.avail_ratio_below)" + why,
        "thresholds.disk_space.critical.avail_ratio_below",
        FormatNumber(t.disk_space.critical.ratio) + " must be greater than " +
            FormatNumber(1 - t.disk_space.emergency_used.ratio) +
            " (1 - emergency.used_ratio_above)" + why);
  }
  if (Status status =
          CheckWarningLooser(reader, "thresholds.inodes", "free_ratio_below",
                             t.inodes.warning, t.inodes.critical)) {
    return status;
  }
  const FillPrediction& fill = t.fill_prediction;
  if (fill.lookback.value < fill.for_duration.value) {
    const std::string why =
        ": a prediction window shorter than its for would alert on a trend "
        "it never saw whole";
    return RelationError(reader, "thresholds.fill_prediction.lookback",
                         fill.lookback.text + " is shorter than for (" +
                             fill.for_duration.text + ")" + why,
                         "thresholds.fill_prediction.for",
                         fill.for_duration.text + " is longer than lookback (" +
                             fill.lookback.text + ")" + why);
  }
  return std::nullopt;
}

}  // namespace stemedb::detail
