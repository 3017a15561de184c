// Config -> Prometheus rule groups: the runbook's alerts and the recording
// rules the dashboard reads, as a model, and that model as a rule file.
//
// Every metric name comes from stemedb/metric_names.h (exporter) or from
// FilesystemMetrics below (node_exporter); no expression spells one twice.
//
// Thread safety: all functions are pure.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stemedb/config/config.h"

namespace stemedb::rulegen {

struct AlertRule;
struct Scenario;
class TestFixture;

// An alert's promtool test scenario (rulegen/scenario.h): input series and
// the alerts expected, built from the alert's own limits, never from Config.
using ScenarioFn = Scenario (*)(const TestFixture& fixture,
                                const AlertRule& alert);

// One colour step of a Grafana threshold scale.
struct PanelStep {
  std::string color;
  double value = 0;
};

struct PanelTarget {
  std::string expr;  // PromQL with the dashboard's $job/$instance selector
  std::string legend;
};

// A dashboard panel declared with the alert it illustrates; its threshold
// steps are the alert's limits. Laid out by RenderDashboard, in alert order.
struct Panel {
  std::string type = "timeseries";  // timeseries or stat
  std::string title;
  std::string description;
  std::string unit = "short";
  std::string base_color = "green";
  std::vector<PanelStep> steps;
  std::vector<PanelTarget> targets;
  std::string threshold_style = "line";  // timeseries: off, line, line+area
  int width = 8;                         // of 24 columns
  bool stacked = false;                  // timeseries: stack the series
  // Per-target thresholds (refId "B", ...) where one target has its own.
  std::map<std::string, std::vector<PanelStep>> target_steps;
};

// One alert, declared whole in alerts.cc: expression, thresholds (limits),
// annotations, its test scenario and its dashboard panel.
struct AlertRule {
  std::string name;
  std::string expr;  // PromQL, may span lines
  Duration for_duration;
  // The numbers expr compares against, by name (e.g. "ratio",
  // "max_count", "retention_seconds"): the tests and the dashboard read
  // them here.
  std::map<std::string, double> limits;
  std::string component;  // for component alerts, else empty
  // severity first, then alerting.labels; std::map keeps output stable.
  std::string severity;
  std::map<std::string, std::string> extra_labels;
  std::string summary;      // static, capitalised, ends with '.'
  std::string description;  // Go template, see RenderAlertTemplate
  // Appended to description in the rule file: template text with `query`
  // actions (what the cleanup rules would free), which RenderAlertTemplate
  // cannot evaluate; the test scenario predicts it (Expected::queried).
  std::string description_query;
  std::string runbook_url;  // base + '#' + GitHub anchor of the section
  // Alerts this one makes redundant while it fires on the same `equal`
  // labels; the Alertmanager inhibit rules are generated from these.
  std::vector<std::string> inhibits;
  std::vector<std::string> inhibit_equal;
  ScenarioFn scenario = nullptr;
  std::vector<Panel> panels;
  // The colour step this alert adds to a scale the overview panels share:
  // "used" (filesystem used share) or "inodes_used".
  std::string scale;
  PanelStep scale_step;

  double Limit(const std::string& key) const { return limits.at(key); }
};

struct RecordingRule {
  std::string record;
  std::string expr;
};

struct RuleGroup {
  std::string name;
  std::vector<RecordingRule> records;
  std::vector<AlertRule> alerts;
};

// The filesystem metrics the disk, inode and prediction alerts use: the
// exporter's own, or node_exporter's with the configured selector.
struct FilesystemMetrics {
  std::string avail;
  std::string size;
  std::string files;
  std::string files_free;
  std::string readonly;
  // Matchers inside every selector of these metrics, e.g. job="stemedb_disk"
  // or the node_exporter selector; may be empty.
  std::string matchers;
};
FilesystemMetrics FilesystemMetricsFor(const Config& config);

// The scrape-health metric Prometheus itself writes.
inline constexpr const char* kUpMetric = "up";

struct RuleSet {
  std::vector<RuleGroup> groups;  // recording group first, then alerts

  const AlertRule* FindAlert(const std::string& name) const;
  std::vector<const AlertRule*> Alerts() const;
};

// The alerts, one entry each, in rule-file order (alerts.cc).
std::vector<AlertRule> BuildAlerts(const Config& config);

// The recording rules the dashboard reads.
RuleGroup BuildRecordingRules(const Config& config);

// Builds the rule model. Every check of the config is the loader's; this
// cannot fail on a loaded config, and returns an error value only to keep
// the artifact pipeline uniform.
Status BuildRuleSet(const Config& config, RuleSet* out);

// Shared by the alert catalog and the recording rules.
std::string Selector(std::string_view metric,
                     const std::vector<std::string>& matchers);
std::string LabelMatch(std::string_view name, std::string_view value);

// The groups as YAML lines ("- name: ...") indented by `indent` spaces; shared
// by the rule file and the PrometheusRule object so the two cannot differ.
std::string RenderGroupsYaml(const RuleSet& rules, int indent);

// The Prometheus rule file: header comment, then "groups:".
std::string RenderRuleFile(const RuleSet& rules, const std::string& header);

}  // namespace stemedb::rulegen
