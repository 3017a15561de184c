#include "stemedb/rulegen/rule_tests.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "stemedb/config/metric_names.h"
#include "stemedb/rulegen/format.h"
#include "stemedb/rulegen/scenario.h"

namespace stemedb::rulegen {
namespace {

namespace m = ::stemedb::metrics;

std::string SeriesText(const std::string& metric, const Labels& labels) {
  std::string out = metric + "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=" + PromQuote(v);
  }
  return out + "}";
}

class Generator {
 public:
  Generator(const Config& config, const RuleSet& rules)
      : c_(config), rules_(rules), fixture_(config) {}

  Status Render(const std::string& rule_file, const std::string& header,
                std::string* out) {
    std::string text = header;
    text +=
        "# Unit tests for the rules: promtool test rules <this file>\n"
        "rule_files:\n  - " +
        YamlDoubleQuoted(rule_file) + "\nevaluation_interval: 1m\ntests:\n";
    text += RecordingTest();
    for (const AlertRule* alert : rules_.Alerts()) {
      if (alert->scenario == nullptr) {
        return Error("alert " + alert->name + " has no test scenario");
      }
      const Scenario scenario = alert->scenario(fixture_, *alert);
      if (auto err = AppendAlertTest(*alert, scenario, &text)) return err;
    }
    *out = std::move(text);
    return std::nullopt;
  }

 private:
  ConfigError Error(const std::string& message) const {
    return ConfigError{c_.source, 0, 0, "", message};
  }

  Status AppendAlertTest(const AlertRule& a, const Scenario& s,
                         std::string* out) const {
    *out += "  - name: " + YamlDoubleQuoted(a.name + " " + s.title) + "\n";
    *out += "    interval: 1m\n    input_series:\n";
    for (const Series& series : s.series) {
      *out += "      - series: " +
              YamlSingleQuoted(SeriesText(series.metric, series.labels)) + "\n";
      *out += "        values: " + YamlDoubleQuoted(series.Notation()) + "\n";
    }
    *out += "    alert_rule_test:\n";
    const int fire = s.start + TestFixture::ForSteps(a.for_duration);
    if (fire - 1 >= 0) {
      *out += "      - eval_time: " + std::to_string(fire - 1) + "m\n";
      *out += "        alertname: " + a.name + "\n";
      *out += "        exp_alerts: []\n";
    }
    *out += "      - eval_time: " + std::to_string(fire) + "m\n";
    *out += "        alertname: " + a.name + "\n";
    *out += "        exp_alerts:\n";
    for (const Expected& e : s.expect(fire)) {
      // Rule labels override series labels; templates see the series'.
      Labels labels = e.labels;
      for (const auto& [k, v] : a.extra_labels) labels[k] = v;
      labels["severity"] = a.severity;
      *out += "          - exp_labels:\n";
      for (const auto& [k, v] : labels) {
        *out += "              " + k + ": " + YamlDoubleQuoted(v) + "\n";
      }
      auto description = RenderAlertTemplate(a.description, e.labels, e.value);
      auto summary = RenderAlertTemplate(a.summary, e.labels, e.value);
      if (!description || !summary) {
        return Error("alert " + a.name +
                     ": annotation uses a template the tests cannot render");
      }
      *description += e.queried;
      *out += "            exp_annotations:\n";
      *out += "              summary: " + YamlDoubleQuoted(*summary) + "\n";
      *out +=
          "              description: " + YamlDoubleQuoted(*description) + "\n";
      *out += "              runbook_url: " + YamlDoubleQuoted(a.runbook_url) +
              "\n";
    }
    return std::nullopt;
  }

  // The recording rules on one writable filesystem and one without inodes.
  std::string RecordingTest() const {
    // Records read the exporter's metrics.
    const Labels rw = fixture_.ExporterFs(kRw);
    const Labels none = fixture_.ExporterFs(kNoInodes);
    // A quarter of a power of two: avail/size and 1 - avail/size are exact
    // in binary and decimal alike, so the expected samples carry no float
    // artefacts (a decimal share of 1 TiB would: 0.2999999999992724).
    const double avail = kFsSize / 4;
    const double files_free = 123456;  // of kFsFiles: exactly 0.123456
    std::string out;
    out += "  - name: " + YamlDoubleQuoted("recording rules") + "\n";
    out += "    interval: 1m\n    input_series:\n";
    auto series = [&](std::string_view metric, const Labels& l, double v) {
      out += "      - series: " +
             YamlSingleQuoted(SeriesText(std::string(metric), l)) + "\n";
      out +=
          "        values: " + YamlDoubleQuoted(FormatNumber(v) + "x10") + "\n";
    };
    for (const Labels* l : {&rw, &none}) {
      series(m::kFilesystemSizeBytes, *l, kFsSize);
      series(m::kFilesystemAvailBytes, *l, avail);
      series(m::kFilesystemFiles, *l, l == &none ? 0 : kFsFiles);
      series(m::kFilesystemFilesFree, *l, l == &none ? 0 : files_free);
    }
    out += "    promql_expr_test:\n";
    auto expect = [&](std::string_view record,
                      std::vector<std::pair<Labels, double>> samples) {
      out += "      - expr: " + std::string(record) + "\n";
      out += "        eval_time: 5m\n";
      out += samples.empty() ? "        exp_samples: []\n"
                             : "        exp_samples:\n";
      for (const auto& [l, v] : samples) {
        out += "          - labels: " +
               YamlSingleQuoted(SeriesText(std::string(record), l)) + "\n";
        out += "            value: " + FormatNumber(v) + "\n";
      }
    };
    expect(m::kRecordFilesystemAvailRatio,
           {{rw, avail / kFsSize}, {none, avail / kFsSize}});
    expect(m::kRecordFilesystemUsedRatio,
           {{rw, 1 - avail / kFsSize}, {none, 1 - avail / kFsSize}});
    // No sample for the filesystem without inodes: files > 0 guards it.
    expect(m::kRecordFilesystemInodesFreeRatio, {{rw, files_free / kFsFiles}});
    // Not filling: no time until full (the fill alerts test the values).
    expect(m::kRecordFilesystemTimeUntilFull, {});
    expect(m::kRecordFilesystemInodesTimeUntilFull, {});
    return out;
  }

  const Config& c_;
  const RuleSet& rules_;
  TestFixture fixture_;
};

}  // namespace

Status RenderRuleTests(const Config& config, const RuleSet& rules,
                       const std::string& rule_file, const std::string& header,
                       std::string* out) {
  Generator generator(config, rules);
  return generator.Render(rule_file, header, out);
}

}  // namespace stemedb::rulegen
