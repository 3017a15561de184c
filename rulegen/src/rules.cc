#include "stemedb/rulegen/rules.h"

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

#include "stemedb/config/metric_names.h"
#include "stemedb/rulegen/format.h"

namespace stemedb::rulegen {
namespace {

namespace m = ::stemedb::metrics;

// node_exporter's filesystem collector (the names its docs and the runbook
// use); written here once, as metric_names.h is the exporter's contract.
constexpr std::string_view kNodeAvail = "node_filesystem_avail_bytes";
constexpr std::string_view kNodeSize = "node_filesystem_size_bytes";
constexpr std::string_view kNodeFiles = "node_filesystem_files";
constexpr std::string_view kNodeFilesFree = "node_filesystem_files_free";
constexpr std::string_view kNodeReadonly = "node_filesystem_readonly";

std::string Str(std::string_view s) { return std::string(s); }

void AppendIndented(std::string* out, int indent, std::string_view text) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    if (nl > pos) out->append(indent, ' ');
    out->append(text.substr(pos, nl - pos));
    out->push_back('\n');
    pos = nl + 1;
  }
}

}  // namespace

FilesystemMetrics FilesystemMetricsFor(const Config& config) {
  if (config.alerting.source == MetricsSource::kNodeExporter) {
    return {Str(kNodeAvail),    Str(kNodeSize),
            Str(kNodeFiles),    Str(kNodeFilesFree),
            Str(kNodeReadonly), config.alerting.node_exporter_selector};
  }
  return {
      Str(m::kFilesystemAvailBytes), Str(m::kFilesystemSizeBytes),
      Str(m::kFilesystemFiles),      Str(m::kFilesystemFilesFree),
      Str(m::kFilesystemReadonly),   LabelMatch("job", config.alerting.job)};
}

const AlertRule* RuleSet::FindAlert(const std::string& name) const {
  for (const RuleGroup& g : groups) {
    for (const AlertRule& a : g.alerts) {
      if (a.name == name) return &a;
    }
  }
  return nullptr;
}

std::vector<const AlertRule*> RuleSet::Alerts() const {
  std::vector<const AlertRule*> out;
  for (const RuleGroup& g : groups) {
    for (const AlertRule& a : g.alerts) out.push_back(&a);
  }
  return out;
}

std::string LabelMatch(std::string_view name, std::string_view value) {
  return std::string(name) + "=" + PromQuote(value);
}

// metric{m1,m2}: empty matcher strings are skipped.
std::string Selector(std::string_view metric,
                     const std::vector<std::string>& matchers) {
  std::string inner;
  for (const std::string& matcher : matchers) {
    if (matcher.empty()) continue;
    if (!inner.empty()) inner += ",";
    inner += matcher;
  }
  if (inner.empty()) return std::string(metric);
  return std::string(metric) + "{" + inner + "}";
}

Status BuildRuleSet(const Config& config, RuleSet* out) {
  RuleSet rules;
  rules.groups.push_back(BuildRecordingRules(config));
  RuleGroup alerts;
  alerts.name = config.alerting.group_name;
  alerts.alerts = BuildAlerts(config);
  rules.groups.push_back(std::move(alerts));
  *out = std::move(rules);
  return std::nullopt;
}

std::string RenderGroupsYaml(const RuleSet& rules, int indent) {
  // Written by yaml-cpp's emitter: structure, quoting and block scalars are
  // its job, so no config text can break the document.
  YAML::Emitter e;
  e.SetIndent(2);
  e << YAML::BeginSeq;
  for (const RuleGroup& g : rules.groups) {
    e << YAML::BeginMap;
    e << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << g.name;
    e << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
    for (const RecordingRule& r : g.records) {
      e << YAML::BeginMap;
      e << YAML::Key << "record" << YAML::Value << r.record;
      e << YAML::Key << "expr" << YAML::Value << YAML::Literal << r.expr;
      e << YAML::EndMap;
    }
    for (const AlertRule& a : g.alerts) {
      e << YAML::BeginMap;
      e << YAML::Key << "alert" << YAML::Value << a.name;
      e << YAML::Key << "expr" << YAML::Value << YAML::Literal << a.expr;
      e << YAML::Key << "for" << YAML::Value << YAML::DoubleQuoted
        << a.for_duration.text;
      // Prometheus expands label values and annotations as templates: the
      // config's text goes in as a literal.
      e << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
      e << YAML::Key << "severity" << YAML::Value << a.severity;
      for (const auto& [name, value] : a.extra_labels) {
        e << YAML::Key << name << YAML::Value << YAML::DoubleQuoted
          << TemplateLiteral(value);
      }
      e << YAML::EndMap;
      e << YAML::Key << "annotations" << YAML::Value << YAML::BeginMap;
      e << YAML::Key << "summary" << YAML::Value << YAML::DoubleQuoted
        << a.summary;
      e << YAML::Key << "description" << YAML::Value << YAML::DoubleQuoted
        << a.description + a.description_query;
      e << YAML::Key << "runbook_url" << YAML::Value << YAML::DoubleQuoted
        << TemplateLiteral(a.runbook_url);
      e << YAML::EndMap;
      e << YAML::EndMap;
    }
    e << YAML::EndSeq << YAML::EndMap;
  }
  e << YAML::EndSeq;
  // Shifted right as a whole to sit under its parent key; block scalars keep
  // their relative indentation.
  std::string out;
  AppendIndented(&out, indent, e.c_str());
  return out;
}

std::string RenderRuleFile(const RuleSet& rules, const std::string& header) {
  return header +
         "# Alerts for the StemeDB disk-full runbook, and the recording rules "
         "its\n# dashboard reads. Load with rule_files in prometheus.yml.\n"
         "groups:\n" +
         RenderGroupsYaml(rules, 2);
}

}  // namespace stemedb::rulegen
