#include "stemedb/rulegen/dashboard.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "stemedb/config/metric_names.h"
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

Json BasePanel(int id, const char* type, const std::string& title,
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
  Json p = BasePanel(id, "timeseries", title, description, g, unit,
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
  Json p = BasePanel(id, "stat", title, description, g, unit,
                     std::move(thresholds), targets);
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

// UI import asks for this data source.
Json Inputs() {
  return Json::array(
      {Json{{"name", kDatasourceInput},
            {"label", "Prometheus"},
            {"description", "The Prometheus scraping the exporter"},
            {"type", "datasource"},
            {"pluginId", "prometheus"},
            {"pluginName", "Prometheus"}}});
}

// What the dashboard needs: the Grafana of its schema and its panel types.
Json Requires() {
  return Json::array({Json{{"type", "grafana"},
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
                           {"version", ""}}});
}

// Data source, job and instance variables.
Json Templating() {
  const std::string instance_query = "label_values(" +
                                     std::string(m::kBuildInfo) +
                                     "{job=~\"$job\"}, instance)";
  return Json{
      {"list",
       Json::array({Json{{"current", DatasourceVariableCurrent()},
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
                    QueryVariable("job", "Job",
                                  "label_values(" + std::string(m::kBuildInfo) +
                                      ", job)"),
                    QueryVariable("instance", "Instance", instance_query)})}};
}

// The steps of a shared scale: every alert's step on it, in ascending
// value.
Json ScaleSteps(const RuleSet& rules, const std::string& scale) {
  std::vector<Step> steps;
  for (const AlertRule* a : rules.Alerts()) {
    if (a->scale == scale) {
      steps.push_back({a->scale_step.color.c_str(), a->scale_step.value});
    }
  }
  std::stable_sort(
      steps.begin(), steps.end(),
      [](const Step& x, const Step& y) { return x.value < y.value; });
  return ThresholdSteps("green", steps);
}

// An alert's declared panel as Grafana JSON.
Json AlertPanel(int id, const rulegen::Panel& spec, Grid g) {
  std::vector<Step> steps;
  for (const PanelStep& s : spec.steps)
    steps.push_back({s.color.c_str(), s.value});
  std::vector<Target> targets;
  for (const PanelTarget& t : spec.targets)
    targets.push_back({t.expr, t.legend});
  Json thresholds = ThresholdSteps(spec.base_color.c_str(), steps);
  Json p = spec.type == "stat"
               ? Stat(id, spec.title, spec.description, g, spec.unit.c_str(),
                      thresholds, targets)
               : TimeSeries(id, spec.title, spec.description, g,
                            spec.unit.c_str(), thresholds, targets,
                            spec.threshold_style.c_str(), spec.stacked);
  for (const auto& [ref, ref_steps] : spec.target_steps) {
    std::vector<Step> list;
    for (const PanelStep& s : ref_steps)
      list.push_back({s.color.c_str(), s.value});
    p["fieldConfig"]["overrides"].push_back(Json{
        {"matcher", Json{{"id", "byFrameRefID"}, {"options", ref}}},
        {"properties",
         Json::array({Json{
             {"id", "thresholds"},
             {"value", ThresholdSteps(spec.base_color.c_str(), list)}}})}});
  }
  if (spec.unit == "none") {
    // A 0/1 health value reads as words.
    p["fieldConfig"]["defaults"]["mappings"] = Json::array({Json{
        {"options",
         Json{{"0", Json{{"color", "red"}, {"index", 0}, {"text", "failing"}}},
              {"1", Json{{"color", "green"}, {"index", 1}, {"text", "ok"}}}}},
        {"type", "value"}}});
  }
  return p;
}

// Places panels left to right, 8 high, wrapping at 24 columns.
class Flow {
 public:
  explicit Flow(int y) : y_(y) {}
  Grid Next(int width) {
    if (x_ + width > 24) {
      x_ = 0;
      y_ += 8;
    }
    const Grid g{x_, y_, width, 8};
    x_ += width;
    return g;
  }

 private:
  int x_ = 0;
  int y_;
};

constexpr char kFsLegend[] = "{{instance}} {{mountpoint}}";
constexpr char kCompLegend[] = "{{instance}} {{component}}";

// The fleet overview: every selected instance side by side.
void AddFleetPanels(const RuleSet& rules, int* next_id, Json* panels) {
  int& id = *next_id;
  const Json used_steps = ScaleSteps(rules, "used");
  const std::vector<Target> used = {
      {RecordedOr(m::kRecordFilesystemUsedRatio,
                  "1 - " + Sel(m::kFilesystemAvailBytes) + " / " +
                      Sel(m::kFilesystemSizeBytes)),
       kFsLegend}};
  {
    Json p =
        BasePanel(id++, "bargauge", "Filesystem used",
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
    panels->push_back(p);
  }
  {
    Json p =
        TimeSeries(id++, "Filesystem used over time",
                   "Used space per filesystem, with the alert thresholds." +
                       std::string(kFallbackNote),
                   {8, 0, 16, 8}, "percentunit", used_steps, used, "line+area");
    p["fieldConfig"]["defaults"]["min"] = 0;
    p["fieldConfig"]["defaults"]["max"] = 1;
    panels->push_back(p);
  }
}

// One row per selected instance (Grafana repeats it): fifty nodes give
// fifty rows of their own instead of fifty lines tangled in each graph.
void AddNodePanels(const RuleSet& rules, int* next_id, Json* panels) {
  int& id = *next_id;
  panels->push_back(Row(id++, "Node $instance", 8, "instance"));
  Flow flow(9);
  panels->push_back(
      TimeSeries(id++, "Available bytes",
                 "Bytes available to unprivileged writers (statvfs f_bavail).",
                 flow.Next(8), "bytes", ThresholdSteps("green", {}),
                 {{Sel(m::kFilesystemAvailBytes), kFsLegend}}));
  {
    Json p = TimeSeries(
        id++, "Inodes used",
        "Used inodes per filesystem; filesystems without an inode table "
        "(files = 0) are not shown." +
            std::string(kFallbackNote),
        flow.Next(8), "percentunit", ScaleSteps(rules, "inodes_used"),
        {{"1 - (" +
              RecordedOr(m::kRecordFilesystemInodesFreeRatio,
                         Sel(m::kFilesystemFilesFree) + " / (" +
                             Sel(m::kFilesystemFiles) + " > 0)") +
              ")",
          kFsLegend}},
        "line+area");
    p["fieldConfig"]["defaults"]["min"] = 0;
    p["fieldConfig"]["defaults"]["max"] = 1;
    panels->push_back(p);
  }
  for (const AlertRule* a : rules.Alerts()) {
    for (const rulegen::Panel& spec : a->panels) {
      panels->push_back(AlertPanel(id++, spec, flow.Next(spec.width)));
    }
  }
  panels->push_back(
      TimeSeries(id++, "Bytes per component",
                 "Allocated bytes (what df counts) per component, stacked.",
                 flow.Next(16), "bytes", ThresholdSteps("green", {}),
                 {{Sel(m::kComponentAllocatedBytes), kCompLegend}}, "off",
                 /*stacked=*/true));
  panels->push_back(TimeSeries(
      id++, "Component growth rate",
      "Growth of allocated bytes per component over the last "
      "hour." +
          std::string(kFallbackNote),
      flow.Next(8), "Bps", ThresholdSteps("green", {}),
      {{RecordedOr(m::kRecordComponentGrowthRate,
                   "deriv(" + Sel(m::kComponentAllocatedBytes) + "[1h])"),
        kCompLegend}}));
  panels->push_back(TimeSeries(id++, "Scan duration",
                               "Duration of the last walk per component.",
                               flow.Next(8), "s", ThresholdSteps("green", {}),
                               {{Sel(m::kScanDurationSeconds), kCompLegend}}));
}

// Grafana's built-in "Annotations & Alerts".
Json Annotations() {
  return Json{
      {"list", Json::array({Json{{"builtIn", 1},
                                 {"datasource", Json{{"type", "grafana"},
                                                     {"uid", "-- Grafana --"}}},
                                 {"enable", true},
                                 {"hide", true},
                                 {"iconColor", "rgba(0, 211, 255, 1)"},
                                 {"name", "Annotations & Alerts"},
                                 {"type", "dashboard"}}})}};
}

}  // namespace

std::string RenderDashboard(const RuleSet& rules,
                            const DashboardOptions& options,
                            const std::string& runbook_url,
                            const std::string& header) {
  Json panels = Json::array();
  int id = 1;
  AddFleetPanels(rules, &id, &panels);
  AddNodePanels(rules, &id, &panels);
  Json dashboard{{"__inputs", Inputs()},
                 {"__requires", Requires()},
                 {"annotations", Annotations()},
                 {"description", header},
                 {"editable", true},
                 {"graphTooltip", 1},
                 {"id", nullptr},
                 {"links", Json::array({Json{{"icon", "doc"},
                                             {"targetBlank", true},
                                             {"title", "Disk full runbook"},
                                             {"type", "link"},
                                             {"url", runbook_url}}})},
                 {"panels", panels},
                 {"refresh", options.refresh.text},
                 {"schemaVersion", kSchemaVersion},
                 {"tags", Json::array({"stemedb", "disk"})},
                 {"templating", Templating()},
                 {"time", Json{{"from", "now-6h"}, {"to", "now"}}},
                 {"timepicker", Json::object()},
                 {"timezone", ""},
                 {"title", options.title},
                 {"uid", options.uid},
                 {"version", 1}};
  return dashboard.dump(2) + "\n";
}

}  // namespace stemedb::rulegen
