#include "stemedb/rulegen/dashboard.h"

#include <algorithm>
#include <cmath>
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

// A row (expanded, so its panels follow it in the top-level list). Never
// repeated: a row repeated over a node variable set to All renders every
// panel once per node.
Json Row(int id, const std::string& title, int y) {
  return Json{{"collapsed", false},
              {"gridPos", Json{{"h", 1}, {"w", 24}, {"x", 0}, {"y", y}}},
              {"id", id},
              {"panels", Json::array()},
              {"title", title},
              {"type", "row"}};
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

// `multi` allows several values and All (".+"); a single-select variable
// names exactly one value.
Json QueryVariable(const char* name, const std::string& query, bool multi) {
  Json v{{"current", Json::object()},
         {"datasource", Datasource()},
         {"definition", query},
         {"hide", 0},
         {"includeAll", multi},
         {"label", name},
         {"multi", multi},
         {"name", name},
         {"options", Json::array()},
         {"query", Json{{"query", query}, {"refId", "StandardVariableQuery"}}},
         {"refresh", 2},
         {"regex", ""},
         {"sort", 1},
         {"type", "query"}};
  if (multi) v["allValue"] = ".+";
  return v;
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
                           {"id", "stat"},
                           {"name", "Stat"},
                           {"version", ""}},
                      Json{{"type", "panel"},
                           {"id", "table"},
                           {"name", "Table"},
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
                "job", "label_values(" + std::string(m::kBuildInfo) + ", job)",
                /*multi=*/true),
            // One node per view: the node panels never multiply
            // with the fleet.
            QueryVariable("instance", instance_query,
                          /*multi=*/false)})}};
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
// Places panels left to right from column `left`, `height` high, wrapping
// at 24 columns.
class Flow {
 public:
  explicit Flow(int y, int left = 0) : left_(left), x_(left), y_(y) {}
  Grid Next(int width, int height = 8) {
    if (x_ + width > 24) {
      x_ = left_;
      y_ += last_height_;
    }
    const Grid g{x_, y_, width, height};
    x_ += width;
    last_height_ = height;
    return g;
  }

 private:
  int left_;
  int x_;
  int y_;
  int last_height_ = 8;
};

constexpr char kFsLegend[] = "{{mountpoint}}";
constexpr char kCompLegend[] = "{{component}}";

// Fleet queries rank every node of the selected jobs; they carry no
// instance matcher on purpose (see dashboards/.lint).
constexpr const char* kFleetSelector = R"(job=~"$job")";

std::string FleetSel(std::string_view metric, std::string_view extra = "") {
  std::string inner = kFleetSelector;
  if (!extra.empty()) inner += "," + std::string(extra);
  return std::string(metric) + "{" + inner + "}";
}

// How many rows a fleet table shows: enough to act on, bounded for 1,000
// nodes.
constexpr int kFleetRows = 20;

// A table of instant values, one row per series, sorted by value; a click on
// a row opens this dashboard's node view for that instance.
Json FleetTable(int id, const std::string& title,
                const std::string& description, Grid g, const char* unit,
                Json thresholds, const std::string& expr, bool descending,
                const std::string& uid, const char* no_value) {
  std::vector<Target> targets = {{expr, ""}};
  Json p = BasePanel(id, "table", title, description, g, unit,
                     std::move(thresholds), targets);
  p["targets"][0]["format"] = "table";
  p["targets"][0]["instant"] = true;
  p["fieldConfig"]["defaults"]["noValue"] = no_value;
  p["fieldConfig"]["defaults"]["links"] = Json::array(
      {Json{{"title", "Open the node view"},
            {"url", "/d/" + uid +
                        "?var-job=${__data.fields.job}&var-instance=${__data."
                        "fields.instance}&${datasource:queryparam}"}}});
  p["options"] = Json{
      {"showHeader", true},
      {"sortBy",
       Json::array({Json{{"desc", descending}, {"displayName", "Value"}}})}};
  p["transformations"] = Json::array(
      {Json{{"id", "organize"},
            {"options",
             Json{{"excludeByName", Json{{"Time", true}, {"__name__", true}}},
                  {"indexByName", Json::object()},
                  {"renameByName", Json::object()}}}}});
  return p;
}

// A count over the fleet that reads 0, not "No data", when none match.
Json FleetCount(int id, const std::string& title,
                const std::string& description, Grid g,
                const std::string& expr) {
  return Stat(id, title, description, g, "short",
              ThresholdSteps("green", {{"red", 1}}),
              {{"count(" + expr + ") or vector(0)", ""}});
}

// The fleet section ends above this row: tables 1-9 and 9-21, counts 9-21.
constexpr int kNodeTop = 21;

// Counts over the fleet of every reason a node's numbers could be wrong or
// stale, right of the firing alerts.
void AddFleetCounts(int* next_id, Json* panels) {
  int& id = *next_id;
  Flow flow(9, 12);
  panels->push_back(FleetCount(
      id++, "Read-only filesystems",
      "Filesystems mounted read-only: the database cannot write there.",
      flow.Next(6, 4), FleetSel(m::kFilesystemReadonly) + " == 1"));
  panels->push_back(FleetCount(
      id++, "Hung filesystems",
      "Filesystems whose last statfs failed or timed out: their numbers are "
      "stale.",
      flow.Next(6, 4), FleetSel(m::kFilesystemStatSuccess) + " == 0"));
  panels->push_back(FleetCount(
      id++, "Incomplete measurements",
      "Components whose numbers miss entries the exporter could not read "
      "(usually permissions): sizes there are too small.",
      flow.Next(6, 4),
      "sum by (instance, job, component) (" +
          FleetSel(m::kScanUnaccountedEntries) + ") > 0"));
  panels->push_back(FleetCount(
      id++, "Failed config reloads",
      "Exporters whose last configuration reload failed: they still serve "
      "the previous configuration.",
      flow.Next(6, 4), FleetSel(m::kConfigReloadSuccess) + " == 0"));
  panels->push_back(FleetCount(
      id++, "Exporters down",
      "Scrape targets of the selected jobs that did not answer the last "
      "scrape.",
      flow.Next(6, 4), "up{" + std::string(kFleetSelector) + "} == 0"));
  panels->push_back(
      FleetCount(id++, "Scans failing", "Components whose last scan failed.",
                 flow.Next(6, 4), FleetSel(m::kScanSuccess) + " == 0"));
}

// The fleet overview: which nodes need attention first, in tables and
// counts whose size does not grow with the fleet.
void AddFleetPanels(const RuleSet& rules, const std::string& uid, int* next_id,
                    Json* panels) {
  int& id = *next_id;
  panels->push_back(Row(id++, "Fleet", 0));
  const std::string used = RecordedOr(m::kRecordFilesystemUsedRatio,
                                      "1 - " + Sel(m::kFilesystemAvailBytes) +
                                          " / " + Sel(m::kFilesystemSizeBytes));
  const std::string fleet_used = FleetSel(m::kRecordFilesystemUsedRatio) +
                                 " or (1 - " +
                                 FleetSel(m::kFilesystemAvailBytes) + " / " +
                                 FleetSel(m::kFilesystemSizeBytes) + ")";
  const std::string top = "topk(" + std::to_string(kFleetRows) + ", ";
  const std::string bottom = "bottomk(" + std::to_string(kFleetRows) + ", ";
  panels->push_back(FleetTable(
      id++, "Soonest to fill",
      "Filesystems predicted to fill, soonest first: the recording rule "
      "stemedb_disk:filesystem_time_until_full:seconds, present only where a "
      "filesystem has enough history and is filling. Empty when nothing is "
      "filling.",
      {0, 1, 8, 8}, "s", ThresholdSteps("red", {{"orange", 86400}}),
      bottom + FleetSel(m::kRecordFilesystemTimeUntilFull) + ")", false, uid,
      "nothing filling"));
  {
    Json p = FleetTable(id++, "Fullest filesystems",
                        "Used space per filesystem now (1 - avail/size), "
                        "fullest first; steps are the alerts' thresholds." +
                            std::string(kFallbackNote),
                        {8, 1, 8, 8}, "percentunit", ScaleSteps(rules, "used"),
                        top + fleet_used + ")", true, uid, "no filesystems");
    p["fieldConfig"]["defaults"]["custom"] =
        Json{{"cellOptions", Json{{"type", "color-background"}}}};
    panels->push_back(p);
  }
  panels->push_back(FleetTable(
      id++, "Inodes soonest to run out",
      "Filesystems predicted to run out of inodes, soonest first: the "
      "recording rule stemedb_disk:filesystem_inodes_time_until_full:seconds. "
      "Empty when no inode table is filling.",
      {16, 1, 8, 8}, "s", ThresholdSteps("red", {{"orange", 86400}}),
      bottom + FleetSel(m::kRecordFilesystemInodesTimeUntilFull) + ")", false,
      uid, "nothing filling"));
  panels->push_back(FleetTable(
      id++, "Firing alerts",
      "Alerts firing now on the selected jobs, one row per alert and node "
      "(the value is how many series fire). Empty when none fire, or when "
      "this Prometheus does not evaluate stemedb_rulegen's rules.",
      {0, 9, 12, 12}, "short", ThresholdSteps("red", {}),
      "count by (alertname, severity, instance, job) "
      "(ALERTS{alertstate=\"firing\"," +
          std::string(kFleetSelector) + "})",
      true, uid, "none firing"));
  AddFleetCounts(&id, panels);
}

// A 0/1 health value, one line per series, read as words.
Json HealthPanel(int id, const std::string& title,
                 const std::string& description, Grid g,
                 const std::string& expr, const char* legend, bool one_is_bad,
                 const char* zero_text, const char* one_text) {
  Json p = TimeSeries(id, title, description, g, "none",
                      ThresholdSteps("green", {}), {{expr, legend}});
  p["fieldConfig"]["defaults"]["min"] = 0;
  p["fieldConfig"]["defaults"]["max"] = 1;
  p["fieldConfig"]["defaults"]["mappings"] = Json::array(
      {Json{{"options", Json{{"0", Json{{"color", one_is_bad ? "green" : "red"},
                                        {"index", 0},
                                        {"text", zero_text}}},
                             {"1", Json{{"color", one_is_bad ? "red" : "green"},
                                        {"index", 1},
                                        {"text", one_text}}}}},
            {"type", "value"}}});
  return p;
}

// The health of the measurement on the selected node: panels for every
// reason its numbers could be wrong or stale.
void AddHealthPanels(int* next_id, Flow* flow, Json* panels) {
  int& id = *next_id;
  panels->push_back(HealthPanel(
      id++, "Read-only",
      "1 while the filesystem is mounted read-only (ext4 errors=remount-ro "
      "is a classic end of a full disk).",
      flow->Next(6), Sel(m::kFilesystemReadonly), kFsLegend, true, "read-write",
      "read-only"));
  panels->push_back(HealthPanel(
      id++, "statfs",
      "0 while the last statfs of the filesystem failed or timed out (a "
      "hung mount): its numbers are the last good ones.",
      flow->Next(6), Sel(m::kFilesystemStatSuccess), kFsLegend, false,
      "failing", "ok"));
  panels->push_back(HealthPanel(
      id++, "Config reload",
      "0 while the last configuration reload failed; the exporter serves "
      "the previous configuration.",
      flow->Next(6), Sel(m::kConfigReloadSuccess), "reload", false, "failed",
      "ok"));
  {
    Json p = Stat(id++, "Unaccounted entries",
                  "Entries the current numbers could not account for (for "
                  "example a directory the exporter may not read), by "
                  "component and reason. Above 0, sizes are too small.",
                  flow->Next(6), "short", ThresholdSteps("green", {{"red", 1}}),
                  {{"sum(" + Sel(m::kScanUnaccountedEntries) + ") or vector(0)",
                    "unaccounted"}});
    panels->push_back(p);
  }
  panels->push_back(TimeSeries(
      id++, "Scan errors",
      "Entries per second the walks could not read, by component and "
      "reason.",
      flow->Next(12), "short", ThresholdSteps("green", {}),
      {{"sum by (component, reason) (rate(" + Sel(m::kScanErrorsTotal) +
            "[$__rate_interval]))",
        "{{component}} {{reason}}"}}));
  panels->push_back(TimeSeries(id++, "Scan duration",
                               "Duration of the last walk per component.",
                               flow->Next(12), "s", ThresholdSteps("green", {}),
                               {{Sel(m::kScanDurationSeconds), kCompLegend}}));
}

// Per component: bytes, inodes, growth (against the planned growth where
// the config sets one) and what cleanup would free.
void AddComponentPanels(const DashboardOptions& options, int* next_id,
                        Flow* flow, Json* panels) {
  int& id = *next_id;
  panels->push_back(
      TimeSeries(id++, "Bytes per component",
                 "Allocated bytes (what df counts) per component, stacked.",
                 flow->Next(12), "bytes", ThresholdSteps("green", {}),
                 {{Sel(m::kComponentAllocatedBytes), kCompLegend}}, "off",
                 /*stacked=*/true));
  panels->push_back(TimeSeries(
      id++, "Inodes per component",
      "Files and directories per component, stacked: which component eats "
      "the inodes (runbook §4).",
      flow->Next(12), "short", ThresholdSteps("green", {}),
      {{"sum by (component) (" + Sel(m::kComponentFiles) + " + " +
            Sel(m::kComponentDirectories) + ")",
        kCompLegend}},
      "off", /*stacked=*/true));
  const std::string growth =
      RecordedOr(m::kRecordComponentGrowthRate,
                 "deriv(" + Sel(m::kComponentAllocatedBytes) + "[1h])");
  panels->push_back(
      TimeSeries(id++, "Component growth rate",
                 "Growth of allocated bytes per component over the last hour." +
                     std::string(kFallbackNote),
                 flow->Next(12), "Bps", ThresholdSteps("green", {}),
                 {{growth, kCompLegend}}));
  for (const auto& [component, per_day] : options.growth_per_day) {
    const std::string comp = "component=\"" + component + "\"";
    Json p = TimeSeries(
        id++, component + " growth against the plan",
        "Growth of " + component + " over the last hour against the planned " +
            std::to_string(per_day) +
            " bytes a day (dashboard.growth_per_day). Above the line the "
            "volume fills sooner than planned (runbook Capacity Planning).",
        flow->Next(12), "Bps",
        ThresholdSteps(
            "green",
            {{"red",
              std::round(static_cast<double>(per_day) / 86400 * 1e6) / 1e6}}),
        {{Sel(m::kRecordComponentGrowthRate, comp) + " or (deriv(" +
              Sel(m::kComponentAllocatedBytes, comp) + "[1h]))",
          kCompLegend}},
        "line");
    panels->push_back(p);
  }
  panels->push_back(
      TimeSeries(id++, "Reclaimable entries",
                 "Entries each cleanup rule would remove now, by rule.",
                 flow->Next(12), "short", ThresholdSteps("green", {}),
                 {{Sel(m::kReclaimableEntries), "{{rule}}"}}));
}

// The node view: every panel for the one instance selected.
void AddNodePanels(const RuleSet& rules, const DashboardOptions& options,
                   int* next_id, Json* panels) {
  int& id = *next_id;
  panels->push_back(Row(id++, "Node $instance", kNodeTop));
  Flow flow(kNodeTop + 1);
  {
    Json p =
        TimeSeries(id++, "Filesystem used",
                   "Used space per filesystem, with the alert thresholds." +
                       std::string(kFallbackNote),
                   flow.Next(8), "percentunit", ScaleSteps(rules, "used"),
                   {{RecordedOr(m::kRecordFilesystemUsedRatio,
                                "1 - " + Sel(m::kFilesystemAvailBytes) + " / " +
                                    Sel(m::kFilesystemSizeBytes)),
                     kFsLegend}},
                   "line+area");
    p["fieldConfig"]["defaults"]["min"] = 0;
    p["fieldConfig"]["defaults"]["max"] = 1;
    panels->push_back(p);
  }
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
  AddComponentPanels(options, &id, &flow, panels);
  AddHealthPanels(&id, &flow, panels);
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
  AddFleetPanels(rules, options.uid, &id, &panels);
  AddNodePanels(rules, options, &id, &panels);
  Json dashboard{{"__inputs", Inputs()},
                 {"__requires", Requires()},
                 {"annotations", Annotations()},
                 {"description", header},
                 {"editable", false},
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
