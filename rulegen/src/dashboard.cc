#include "stemedb/rulegen/dashboard.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "stemedb/metric_names.h"
#include "stemedb/rulegen/format.h"
#include "stemedb/rulegen/rules.h"

namespace stemedb::rulegen {
namespace {

namespace m = ::stemedb::metrics;
using Json = nlohmann::ordered_json;

// Grafana 10.4.0 introduced schemaVersion 39; an older Grafana would refuse
// or mis-migrate the model, so __requires names the version that reads it.
constexpr int kSchemaVersion = 39;
constexpr const char* kMinGrafanaVersion = "10.4.0";
// The import input: UI import substitutes the chosen data source for
// "${DS_PROMETHEUS}" wherever it appears.
constexpr const char* kDatasourceInput = "DS_PROMETHEUS";
constexpr const char* kSelector = R"(job=~"$job",instance=~"$instance")";

Json Datasource() {
  return Json{{"type", "prometheus"}, {"uid", "${datasource}"}};
}

std::string Sel(std::string_view metric, std::string_view extra = "") {
  std::string inner = kSelector;
  if (!extra.empty()) inner += "," + std::string(extra);
  return std::string(metric) + "{" + inner + "}";
}

std::string Component(const std::string& name) {
  return std::string(m::kComponent) + "=" + PromQuote(name);
}

// A recording rule's series, or, where the rule file is not loaded (a
// Prometheus that only scrapes, a fleet's central server without
// rulegen's recording group), the same ratio computed from the raw
// series. The two carry the same labels, so `or` never doubles a series.
std::string RecordedOr(std::string_view record, const std::string& raw) {
  return Sel(record) + " or (" + raw + ")";
}

constexpr const char* kFallbackNote =
    " Reads the recording rule from stemedb_rulegen's rule file when it is "
    "loaded, and computes the same from the raw series otherwise.";

// A row (expanded, so its panels follow it in the top-level list); with
// `repeat`, Grafana repeats it and its panels for each value of that
// variable.
Json Row(int id, const std::string& title, int y, const std::string& repeat) {
  Json row{{"collapsed", false},
           {"gridPos", Json{{"h", 1}, {"w", 24}, {"x", 0}, {"y", y}}},
           {"id", id},
           {"panels", Json::array()},
           {"title", title},
           {"type", "row"}};
  if (!repeat.empty()) row["repeat"] = repeat;
  return row;
}

struct Target {
  std::string expr;
  std::string legend;
};

struct Step {
  const char* color;
  double value;
};

// Integral values as JSON integers ("604800", not "604800.0").
Json Number(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v))) {
    return static_cast<int64_t>(v);
  }
  return v;
}

// Grafana thresholds: a base colour (value null) and ascending steps.
Json ThresholdSteps(const char* base, const std::vector<Step>& steps) {
  Json list = Json::array();
  list.push_back(Json{{"color", base}, {"value", nullptr}});
  for (const Step& s : steps) {
    list.push_back(Json{{"color", s.color}, {"value", Number(s.value)}});
  }
  return Json{{"mode", "absolute"}, {"steps", list}};
}

Json Targets(const std::vector<Target>& targets) {
  Json out = Json::array();
  char ref = 'A';
  for (const Target& t : targets) {
    out.push_back(Json{{"datasource", Datasource()},
                       {"expr", t.expr},
                       {"legendFormat", t.legend},
                       {"refId", std::string(1, ref++)}});
  }
  return out;
}

struct Grid {
  int x, y, w, h;
};

Json Panel(int id, const char* type, const std::string& title,
           const std::string& description, Grid g, const char* unit,
           Json thresholds, const std::vector<Target>& targets) {
  Json defaults{{"unit", unit}, {"thresholds", std::move(thresholds)}};
  return Json{{"datasource", Datasource()},
              {"description", description},
              {"fieldConfig",
               Json{{"defaults", defaults}, {"overrides", Json::array()}}},
              {"gridPos", Json{{"h", g.h}, {"w", g.w}, {"x", g.x}, {"y", g.y}}},
              {"id", id},
              {"options", Json::object()},
              {"targets", Targets(targets)},
              {"title", title},
              {"type", type}};
}

// A time series panel; `threshold_style` draws the thresholds ("line",
// "line+area") so the limit is visible next to the data.
Json TimeSeries(int id, const std::string& title,
                const std::string& description, Grid g, const char* unit,
                Json thresholds, const std::vector<Target>& targets,
                const char* threshold_style = "off", bool stacked = false) {
  Json p = Panel(id, "timeseries", title, description, g, unit,
                 std::move(thresholds), targets);
  p["fieldConfig"]["defaults"]["custom"] = Json{
      {"fillOpacity", stacked ? 30 : 0},
      {"stacking", Json{{"group", "A"}, {"mode", stacked ? "normal" : "none"}}},
      {"thresholdsStyle", Json{{"mode", threshold_style}}}};
  p["options"] = Json{{"legend", Json{{"displayMode", "table"},
                                      {"placement", "bottom"},
                                      {"showLegend", true}}},
                      {"tooltip", Json{{"mode", "multi"}, {"sort", "desc"}}}};
  return p;
}

Json Stat(int id, const std::string& title, const std::string& description,
          Grid g, const char* unit, Json thresholds,
          const std::vector<Target>& targets) {
  Json p = Panel(id, "stat", title, description, g, unit, std::move(thresholds),
                 targets);
  p["options"] =
      Json{{"colorMode", "background"},
           {"graphMode", "none"},
           {"reduceOptions", Json{{"calcs", Json::array({"lastNotNull"})},
                                  {"fields", ""},
                                  {"values", false}}},
           {"textMode", "value_and_name"}};
  return p;
}

// The data source variable's initial value is the import input: UI import
// replaces it with the chosen data source, so the import binds. Panels keep
// referring to "${datasource}", never to the input, so file provisioning
// (which substitutes no inputs) still works: Grafana then falls back to the
// default Prometheus data source, as the value names none it knows.
Json DatasourceVariableCurrent() {
  const std::string input = std::string("${") + kDatasourceInput + "}";
  return Json{{"selected", false}, {"text", input}, {"value", input}};
}

Json QueryVariable(const char* name, const char* label,
                   const std::string& query) {
  return Json{
      {"allValue", ".+"},
      {"current", Json::object()},
      {"datasource", Datasource()},
      {"definition", query},
      {"hide", 0},
      {"includeAll", true},
      {"label", label},
      {"multi", true},
      {"name", name},
      {"options", Json::array()},
      {"query", Json{{"query", query}, {"refId", "StandardVariableQuery"}}},
      {"refresh", 2},
      {"regex", ""},
      {"sort", 1},
      {"type", "query"}};
}

}  // namespace

std::string RenderDashboard(const Config& config, const std::string& header) {
  const stemedb::Thresholds& t = config.thresholds;
  const std::string fs_legend = "{{instance}} {{mountpoint}}";
  const std::string comp_legend = "{{instance}} {{component}}";
  const std::string wal = Component(t.wal.component);
  const std::string backups = Component(t.backups.component);

  // Used-space steps: the same numbers as the three disk alerts.
  const Json used_steps = ThresholdSteps(
      "green", {{"yellow", DecimalComplement(t.disk_space.warning.ratio)},
                {"orange", DecimalComplement(t.disk_space.critical.ratio)},
                {"red", t.disk_space.emergency_used.ratio}});
  const Json inode_steps = ThresholdSteps(
      "green", {{"orange", DecimalComplement(t.inodes.warning.ratio)},
                {"red", DecimalComplement(t.inodes.critical.ratio)}});
  const std::string avail = Sel(m::kFilesystemAvailBytes);
  const std::vector<Target> used = {
      {RecordedOr(m::kRecordFilesystemUsedRatio,
                  "1 - " + avail + " / " + Sel(m::kFilesystemSizeBytes)),
       fs_legend}};

  Json panels = Json::array();
  {
    Json p = Panel(1, "bargauge", "Filesystem used",
                   "Used space per filesystem now (1 - avail/size). Steps: "
                   "warning, critical and emergency thresholds of the alerts." +
                       std::string(kFallbackNote),
                   {0, 0, 8, 8}, "percentunit", used_steps, used);
    p["fieldConfig"]["defaults"]["min"] = 0;
    p["fieldConfig"]["defaults"]["max"] = 1;
    p["options"] =
        Json{{"displayMode", "gradient"},
             {"orientation", "horizontal"},
             {"reduceOptions", Json{{"calcs", Json::array({"lastNotNull"})},
                                    {"fields", ""},
                                    {"values", false}}},
             {"showUnfilled", true}};
    panels.push_back(p);
  }
  {
    Json p =
        TimeSeries(2, "Filesystem used over time",
                   "Used space per filesystem, with the alert thresholds." +
                       std::string(kFallbackNote),
                   {8, 0, 16, 8}, "percentunit", used_steps, used, "line+area");
    p["fieldConfig"]["defaults"]["min"] = 0;
    p["fieldConfig"]["defaults"]["max"] = 1;
    panels.push_back(p);
  }
  panels.push_back(
      TimeSeries(3, "Available bytes",
                 "Bytes available to unprivileged writers (statvfs f_bavail).",
                 {0, 8, 8, 8}, "bytes", ThresholdSteps("green", {}),
                 {{avail, fs_legend}}));
  {
    Json p = TimeSeries(
        4, "Inodes used",
        "Used inodes per filesystem; filesystems without an inode table "
        "(files = 0) are not shown." +
            std::string(kFallbackNote),
        {8, 8, 8, 8}, "percentunit", inode_steps,
        {{"1 - (" +
              RecordedOr(m::kRecordFilesystemInodesFreeRatio,
                         Sel(m::kFilesystemFilesFree) + " / (" +
                             Sel(m::kFilesystemFiles) + " > 0)") +
              ")",
          fs_legend}},
        "line+area");
    p["fieldConfig"]["defaults"]["min"] = 0;
    p["fieldConfig"]["defaults"]["max"] = 1;
    panels.push_back(p);
  }
  panels.push_back(Stat(
      5, "Estimated time until full",
      "Available bytes divided by the rate they fell over the last " +
          t.fill_prediction.lookback.text +
          " (the alert's lookback); infinite when not falling. Red below "
          "the prediction horizon of " +
          t.fill_prediction.horizon.text + ".",
      {16, 8, 8, 8}, "s",
      ThresholdSteps("red", {{"green", t.fill_prediction.horizon.seconds()}}),
      {{avail + " / clamp_min(-deriv(" + avail + "[" +
            t.fill_prediction.lookback.text + "]), 0)",
        fs_legend}}));
  panels.push_back(
      TimeSeries(6, "Bytes per component",
                 "Allocated bytes (what df counts) per component, stacked.",
                 {0, 16, 16, 8}, "bytes", ThresholdSteps("green", {}),
                 {{Sel(m::kComponentAllocatedBytes), comp_legend}}, "off",
                 /*stacked=*/true));
  panels.push_back(TimeSeries(
      7, "Component growth rate",
      "Growth of allocated bytes per component over the last "
      "hour." +
          std::string(kFallbackNote),
      {16, 16, 8, 8}, "Bps", ThresholdSteps("green", {}),
      {{RecordedOr(m::kRecordComponentGrowthRate,
                   "deriv(" + Sel(m::kComponentAllocatedBytes) + "[1h])"),
        comp_legend}}));
  panels.push_back(TimeSeries(
      8, "WAL segments",
      "Segments in the WAL against their maximum of " +
          std::to_string(t.wal.max_segments) + ".",
      {0, 24, 8, 8}, "short",
      ThresholdSteps("green",
                     {{"red", static_cast<double>(t.wal.max_segments)}}),
      {{Sel(m::kSegments, wal), comp_legend}}, "line"));
  panels.push_back(TimeSeries(
      9, "Oldest WAL segment age",
      "Age of the oldest WAL segment against the retention of " +
          t.wal.retention.text + ".",
      {8, 24, 8, 8}, "s",
      ThresholdSteps("green", {{"red", t.wal.retention.seconds()}}),
      {{"time() - " + Sel(m::kOldestSegmentTimestamp, wal), comp_legend}},
      "line"));
  panels.push_back(Stat(
      10, "Backups",
      "Backup sets kept; red when there is none, yellow beyond the "
      "retention of " +
          std::to_string(t.backups.max_count) + ".",
      {16, 24, 4, 8}, "short",
      ThresholdSteps(
          "red", {{"green", 1},
                  {"yellow", static_cast<double>(t.backups.max_count + 1)}}),
      {{Sel(m::kSegments, backups), "{{instance}}"}}));
  {
    Json p =
        Stat(11, "Backup age",
             "Newest backup (red after " + t.backups.max_age.text +
                 ") and oldest backup (yellow after " +
                 t.backups.retention.text + ").",
             {20, 24, 4, 8}, "s",
             ThresholdSteps("green", {{"red", t.backups.max_age.seconds()}}),
             {{"time() - " + Sel(m::kNewestSegmentTimestamp, backups),
               "newest {{instance}}"},
              {"time() - " + Sel(m::kOldestSegmentTimestamp, backups),
               "oldest {{instance}}"}});
    p["fieldConfig"]["overrides"].push_back(Json{
        {"matcher", Json{{"id", "byFrameRefID"}, {"options", "B"}}},
        {"properties",
         Json::array({Json{
             {"id", "thresholds"},
             {"value",
              ThresholdSteps(
                  "green", {{"yellow", t.backups.retention.seconds()}})}}})}});
    panels.push_back(p);
  }
  {
    Json p = Stat(12, "Exporter scan health",
                  "Last scan per component, and whether Prometheus reaches "
                  "the exporter (up).",
                  {0, 32, 8, 8}, "none", ThresholdSteps("red", {{"green", 1}}),
                  {{Sel(m::kScanSuccess), comp_legend},
                   {Sel(kUpMetric), "up {{instance}}"}});
    p["fieldConfig"]["defaults"]["mappings"] = Json::array({Json{
        {"options",
         Json{{"0", Json{{"color", "red"}, {"index", 0}, {"text", "failing"}}},
              {"1", Json{{"color", "green"}, {"index", 1}, {"text", "ok"}}}}},
        {"type", "value"}}});
    panels.push_back(p);
  }
  panels.push_back(TimeSeries(
      13, "Time since last successful scan",
      "Numbers older than " + t.exporter.scan_stale_after.text +
          " are stale (StemeDBDiskScanStale).",
      {8, 32, 8, 8}, "s",
      ThresholdSteps("green", {{"red", t.exporter.scan_stale_after.seconds()}}),
      {{"time() - " + Sel(m::kLastScanSuccessTimestamp), comp_legend}},
      "line"));
  panels.push_back(TimeSeries(14, "Scan duration",
                              "Duration of the last walk per component.",
                              {16, 32, 8, 8}, "s", ThresholdSteps("green", {}),
                              {{Sel(m::kScanDurationSeconds), comp_legend}}));

  // A fleet: the first two panels compare every selected instance; the rest
  // follow in a row that Grafana repeats per selected instance, so fifty
  // nodes give fifty rows of their own instead of fifty lines tangled in
  // each graph.
  Json with_rows = Json::array();
  for (auto& p : panels) {
    const int y = p["gridPos"]["y"].get<int>();
    if (y == 8 && p["gridPos"]["x"].get<int>() == 0) {
      with_rows.push_back(Row(15, "Node $instance", 8, "instance"));
    }
    if (y >= 8) p["gridPos"]["y"] = y + 1;
    with_rows.push_back(std::move(p));
  }
  panels = std::move(with_rows);

  const std::string instance_query = "label_values(" +
                                     std::string(m::kBuildInfo) +
                                     "{job=~\"$job\"}, instance)";
  Json dashboard{
      {"__inputs", Json::array({Json{
                       {"name", kDatasourceInput},
                       {"label", "Prometheus"},
                       {"description", "The Prometheus scraping the exporter"},
                       {"type", "datasource"},
                       {"pluginId", "prometheus"},
                       {"pluginName", "Prometheus"}}})},
      {"__requires", Json::array({Json{{"type", "grafana"},
                                       {"id", "grafana"},
                                       {"name", "Grafana"},
                                       {"version", kMinGrafanaVersion}},
                                  Json{{"type", "datasource"},
                                       {"id", "prometheus"},
                                       {"name", "Prometheus"},
                                       {"version", "1.0.0"}},
                                  Json{{"type", "panel"},
                                       {"id", "bargauge"},
                                       {"name", "Bar gauge"},
                                       {"version", ""}},
                                  Json{{"type", "panel"},
                                       {"id", "stat"},
                                       {"name", "Stat"},
                                       {"version", ""}},
                                  Json{{"type", "panel"},
                                       {"id", "timeseries"},
                                       {"name", "Time series"},
                                       {"version", ""}}})},
      {"annotations",
       Json{{"list",
             Json::array({Json{{"builtIn", 1},
                               {"datasource", Json{{"type", "grafana"},
                                                   {"uid", "-- Grafana --"}}},
                               {"enable", true},
                               {"hide", true},
                               {"iconColor", "rgba(0, 211, 255, 1)"},
                               {"name", "Annotations & Alerts"},
                               {"type", "dashboard"}}})}}},
      {"description", header},
      {"editable", true},
      {"graphTooltip", 1},
      {"id", nullptr},
      {"links", Json::array({Json{{"icon", "doc"},
                                  {"targetBlank", true},
                                  {"title", "Disk full runbook"},
                                  {"type", "link"},
                                  {"url", config.alerting.runbook_url}}})},
      {"panels", panels},
      {"refresh", config.dashboard.refresh.text},
      {"schemaVersion", kSchemaVersion},
      {"tags", Json::array({"stemedb", "disk"})},
      {"templating",
       Json{{"list",
             Json::array(
                 {Json{{"current", DatasourceVariableCurrent()},
                       {"hide", 0},
                       {"includeAll", false},
                       {"label", "Data source"},
                       {"multi", false},
                       {"name", "datasource"},
                       {"options", Json::array()},
                       {"query", "prometheus"},
                       {"refresh", 1},
                       {"regex", ""},
                       {"type", "datasource"}},
                  QueryVariable(
                      "job", "Job",
                      "label_values(" + std::string(m::kBuildInfo) + ", job)"),
                  QueryVariable("instance", "Instance", instance_query)})}}},
      {"time", Json{{"from", "now-6h"}, {"to", "now"}}},
      {"timepicker", Json::object()},
      {"timezone", ""},
      {"title", config.dashboard.title},
      {"uid", config.dashboard.uid},
      {"version", 1}};
  return dashboard.dump(2) + "\n";
}

}  // namespace stemedb::rulegen
