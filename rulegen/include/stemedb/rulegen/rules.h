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
#include <vector>

#include "stemedb/config.h"

namespace stemedb::rulegen {

// What an alert watches; the unit-test generator builds its input series
// from this, so every kind has exactly one scenario there.
enum class AlertKind {
  kDiskAvailBelow,    // avail/size < threshold
  kDiskUsedAbove,     // 1 - avail/size > threshold
  kInodesFreeBelow,   // files_free/files < threshold, files > 0
  kFillPrediction,    // avail/size < threshold and predict_linear < 0
  kOldestSegmentAge,  // time() - oldest segment > threshold (seconds)
  kSegmentCount,      // segments > threshold
  kFilesystemShare,   // component bytes / its filesystem size > threshold
  kNewestSegmentAge,  // time() - newest segment > threshold (seconds)
  kNoSegments,        // segments == 0
  kBeyondRetention,   // segments > threshold, or oldest older than retention
  kTmpAccumulating,   // bytes > threshold, or files > max_files
  kExporterDown,      // up == 0
  kExporterAbsent,    // absent(up): the job has no target at all
  kScanFailing,       // scan_success == 0
  kScanStale,         // time() - last success > threshold (seconds)
};

struct AlertRule {
  std::string name;
  AlertKind kind;
  std::string expr;  // PromQL, may span lines
  Duration for_duration;
  double threshold = 0;   // the number expr compares against (see kind)
  std::string component;  // for component alerts, else empty
  // severity first, then alerting.labels; std::map keeps output stable.
  std::string severity;
  std::map<std::string, std::string> extra_labels;
  std::string summary;      // static, capitalised, ends with '.'
  std::string description;  // Go template, see RenderAlertTemplate
  std::string runbook_url;  // base + '#' + GitHub anchor of the section
  // Alerts this one makes redundant while it fires on the same `equal`
  // labels; the Alertmanager inhibit rules are generated from these.
  std::vector<std::string> inhibits;
  std::vector<std::string> inhibit_equal;
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

// Builds the rule model. Fails (a ConfigError without position) only on a
// config the loader accepts but rules cannot express, e.g. an extra label
// named "severity".
std::optional<ConfigError> BuildRuleSet(const Config& config, RuleSet* out);

// The groups as YAML lines ("- name: ...") indented by `indent` spaces; shared
// by the rule file and the PrometheusRule object so the two cannot differ.
std::string RenderGroupsYaml(const RuleSet& rules, int indent);

// The Prometheus rule file: header comment, then "groups:".
std::string RenderRuleFile(const RuleSet& rules, const std::string& header);

}  // namespace stemedb::rulegen
