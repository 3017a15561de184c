#include "stemedb/rulegen/rule_tests.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "stemedb/metric_names.h"
#include "stemedb/rulegen/format.h"

namespace stemedb::rulegen {
namespace {

namespace m = ::stemedb::metrics;
using Labels = std::map<std::string, std::string>;

constexpr int kLeadIn = 5;  // healthy samples (minutes) before the crossing
constexpr int kTail = 6;    // samples after the last evaluation
constexpr double kFsSize = 1099511627776.0;  // 1 TiB
constexpr double kFsFiles = 1000000.0;
constexpr const char* kRw = "db-1:9101";        // writable: fires
constexpr const char* kRo = "db-2:9101";        // read-only: silent
constexpr const char* kNoInodes = "db-3:9101";  // files = 0: silent
constexpr const char* kDecoy = "decoy";         // a component no alert selects

// One run of promtool's expanding notation: start, start+step, ... (count
// values). Values are summed the way promtool expands them.
struct Phase {
  double start;
  double step;
  int count;
};

struct Series {
  std::string metric;
  Labels labels;
  std::vector<Phase> phases;

  std::string Notation() const {
    std::string out;
    for (const Phase& p : phases) {
      if (p.count <= 0) continue;
      if (!out.empty()) out += " ";
      out += FormatNumber(p.start);
      if (p.count == 1) continue;
      if (p.step > 0) out += "+" + FormatNumber(p.step);
      if (p.step < 0) out += "-" + FormatNumber(-p.step);
      out += "x" + std::to_string(p.count - 1);
    }
    return out;
  }

  double At(int index) const {
    for (const Phase& p : phases) {
      if (index < p.count) {
        double v = p.start;
        for (int i = 0; i < index; ++i) v += p.step;
        return v;
      }
      index -= p.count;
    }
    return std::nan("");
  }
};

struct Expected {
  Labels labels;  // the series labels the alert's expression yields
  double value;
};

struct Scenario {
  std::string title;
  int start = kLeadIn;  // first evaluation index where the condition holds
  std::vector<Series> series;
  // The firing alerts at evaluation index k >= start.
  std::function<std::vector<Expected>(int k)> expect;
};

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

Series Steady(const std::string& metric, const Labels& labels, double healthy,
              double crossing, int start, int total) {
  return {metric, labels, {{healthy, 0, start}, {crossing, 0, total - start}}};
}

Series Constant(const std::string& metric, const Labels& labels, double v,
                int total) {
  return {metric, labels, {{v, 0, total}}};
}

// A timestamp that is "now" (age 0) until `start`, then the constant `then`.
Series Timestamp(const std::string& metric, const Labels& labels, double then,
                 int start, int total) {
  return {metric, labels, {{0, 60, start}, {then, 0, total - start}}};
}

double Time(int k) { return k * 60.0; }

Labels With(Labels labels, const std::string& k, const std::string& v) {
  labels[k] = v;
  return labels;
}

class Generator {
 public:
  Generator(const Config& config, const RuleSet& rules)
      : c_(config), rules_(rules), fs_(FilesystemMetricsFor(config)) {}

  std::optional<ConfigError> Render(const std::string& rule_file,
                                    const std::string& header,
                                    std::string* out) {
    if (auto err = BuildFilesystemLabels()) return err;
    std::string text = header;
    text +=
        "# Unit tests for the rules: promtool test rules <this file>\n"
        "rule_files:\n  - " +
        YamlDoubleQuoted(rule_file) + "\nevaluation_interval: 1m\ntests:\n";
    text += RecordingTest();
    for (const AlertRule* alert : rules_.Alerts()) {
      std::optional<Scenario> scenario = ScenarioFor(*alert);
      if (!scenario) {
        return Error("alert " + alert->name + " has no test scenario");
      }
      if (auto err = AppendAlertTest(*alert, *scenario, &text)) return err;
    }
    *out = std::move(text);
    return std::nullopt;
  }

 private:
  ConfigError Error(const std::string& message) const {
    return ConfigError{c_.source, 0, 0, "", message};
  }

  // Labels of one filesystem's series: those the selector demands (node
  // mode) or the exporter's job, plus an instance that tells the cases apart.
  // The config loader refused selectors no series can satisfy.
  std::optional<ConfigError> BuildFilesystemLabels() {
    fs_labels_ = {
        {"device", "/dev/vdb"}, {"fstype", "ext4"}, {"mountpoint", "/data"}};
    if (c_.alerting.source == MetricsSource::kExporter) {
      fs_labels_["job"] = c_.alerting.job;
      return std::nullopt;
    }
    fs_labels_["job"] = "node";
    for (const LabelMatcher& mt : c_.alerting.node_exporter_matchers) {
      if (mt.op == "=") {
        fs_labels_[mt.name] = mt.value;
      } else if (mt.op == "=~") {
        fs_labels_[mt.name] = mt.value.substr(0, mt.value.find('|'));
      }
    }
    return std::nullopt;
  }

  Labels Fs(const char* instance) const {
    return With(fs_labels_, "instance", instance);
  }
  Labels Comp(const std::string& component, const char* instance = kRw) const {
    return {{"component", component},
            {"instance", instance},
            {"job", c_.alerting.job}};
  }

  std::optional<Scenario> ScenarioFor(const AlertRule& a) const {
    const int total_after = kTail + ForSteps(a.for_duration);
    const Thresholds& t = c_.thresholds;
    Scenario s;
    const int st = s.start;
    const int total = st + total_after;
    switch (a.kind) {
      case AlertKind::kDiskAvailBelow:
      case AlertKind::kDiskUsedAbove: {
        const bool used = a.kind == AlertKind::kDiskUsedAbove;
        const double avail_ratio =
            used ? DecimalComplement(a.threshold) : a.threshold;
        const double healthy = std::floor(kFsSize * (1 + avail_ratio) / 2);
        const double crossing = std::floor(kFsSize * avail_ratio / 2);
        s.title = "fires after its for; silent on a read-only filesystem";
        for (const char* inst : {kRw, kRo}) {
          s.series.push_back(Constant(fs_.size, Fs(inst), kFsSize, total));
          s.series.push_back(
              Steady(fs_.avail, Fs(inst), healthy, crossing, st, total));
          s.series.push_back(
              Constant(fs_.readonly, Fs(inst), inst == kRo ? 1 : 0, total));
        }
        const double ratio = crossing / kFsSize;
        const double value = used ? 1 - ratio : ratio;
        s.expect = [this, value](int) {
          return std::vector<Expected>{{Fs(kRw), value}};
        };
        return s;
      }
      case AlertKind::kInodesFreeBelow: {
        const double healthy = std::floor(kFsFiles * (1 + a.threshold) / 2);
        const double crossing = std::floor(kFsFiles * a.threshold / 2);
        s.title =
            "fires after its for; silent on a read-only filesystem and where "
            "files = 0";
        for (const char* inst : {kRw, kRo, kNoInodes}) {
          const bool none = inst == kNoInodes;
          s.series.push_back(
              Constant(fs_.files, Fs(inst), none ? 0 : kFsFiles, total));
          s.series.push_back(none ? Constant(fs_.files_free, Fs(inst), 0, total)
                                  : Steady(fs_.files_free, Fs(inst), healthy,
                                           crossing, st, total));
          s.series.push_back(
              Constant(fs_.readonly, Fs(inst), inst == kRo ? 1 : 0, total));
        }
        const double value = crossing / kFsFiles;
        s.expect = [this, value](int) {
          return std::vector<Expected>{{Fs(kRw), value}};
        };
        return s;
      }
      case AlertKind::kFillPrediction: {
        // Falls steadily so that from the threshold the disk is full after
        // half the horizon; crosses the ratio guard at index `st`.
        const double horizon_min = t.fill_prediction.horizon.seconds() / 60;
        const double guard = std::floor(kFsSize * a.threshold);
        const double drop =
            std::ceil(guard / std::max(1.0, horizon_min / 2)) + 2;
        const double first = guard - 1 + drop * st;
        s.title =
            "fires after its for; silent while not falling and on a "
            "read-only filesystem";
        for (const char* inst : {kRw, kRo, kNoInodes}) {
          s.series.push_back(Constant(fs_.size, Fs(inst), kFsSize, total));
          s.series.push_back(
              Constant(fs_.readonly, Fs(inst), inst == kRo ? 1 : 0, total));
        }
        Series falling{fs_.avail, Fs(kRw), {{first, -drop, total}}};
        s.series.push_back(falling);
        s.series.push_back({fs_.avail, Fs(kRo), {{first, -drop, total}}});
        // Low but flat: the guard holds, the prediction does not.
        s.series.push_back(
            Constant(fs_.avail, Fs(kNoInodes), std::floor(guard / 2), total));
        s.expect = [this, falling](int k) {
          return std::vector<Expected>{{Fs(kRw), falling.At(k) / kFsSize}};
        };
        return s;
      }
      case AlertKind::kOldestSegmentAge:
      case AlertKind::kNewestSegmentAge: {
        const std::string& metric =
            a.kind == AlertKind::kOldestSegmentAge
                ? std::string(m::kOldestSegmentTimestamp)
                : std::string(m::kNewestSegmentTimestamp);
        const double then = Time(st) - a.threshold - 3600;
        s.title = "fires after its for; ignores other components";
        s.series.push_back(
            Timestamp(metric, Comp(a.component), then, st, total));
        s.series.push_back(Constant(metric, Comp(kDecoy), then, total));
        s.expect = [this, a, then](int k) {
          return std::vector<Expected>{{Comp(a.component), Time(k) - then}};
        };
        return s;
      }
      case AlertKind::kSegmentCount:
      case AlertKind::kNoSegments: {
        const bool none = a.kind == AlertKind::kNoSegments;
        const double healthy = none ? 3 : a.threshold;
        const double crossing = none ? 0 : a.threshold + 1;
        s.title = "fires after its for; ignores other components";
        s.series.push_back(Steady(std::string(m::kSegments), Comp(a.component),
                                  healthy, crossing, st, total));
        s.series.push_back(Constant(std::string(m::kSegments), Comp(kDecoy),
                                    none ? 0 : a.threshold * 10, total));
        s.expect = [this, a, crossing](int) {
          return std::vector<Expected>{{Comp(a.component), crossing}};
        };
        return s;
      }
      case AlertKind::kFilesystemShare: {
        const double healthy = std::floor(kFsSize * a.threshold / 2);
        const double crossing = std::floor(kFsSize * (1 + a.threshold) / 2);
        s.title = "fires after its for; ignores other components";
        const Labels fs = With(Fs(kRw), "job", c_.alerting.job);
        s.series.push_back(
            Constant(std::string(m::kFilesystemSizeBytes), fs, kFsSize, total));
        for (const std::string& comp : {a.component, std::string(kDecoy)}) {
          Labels info = Comp(comp);
          info["mountpoint"] = fs.at("mountpoint");
          info["device"] = fs.at("device");
          s.series.push_back(Constant(std::string(m::kComponentFilesystemInfo),
                                      info, 1, total));
        }
        s.series.push_back(Steady(std::string(m::kComponentAllocatedBytes),
                                  Comp(a.component), healthy, crossing, st,
                                  total));
        s.series.push_back(Constant(std::string(m::kComponentAllocatedBytes),
                                    Comp(kDecoy), kFsSize, total));
        Labels out = Comp(a.component);
        out["mountpoint"] = fs.at("mountpoint");
        out["device"] = fs.at("device");
        s.expect = [out, crossing](int) {
          return std::vector<Expected>{{out, crossing / kFsSize}};
        };
        return s;
      }
      case AlertKind::kBeyondRetention: {
        const auto& bk = t.backups;
        const double count = a.threshold;
        const double then = Time(st) - bk.retention.seconds() - 3600;
        const std::string segments(m::kSegments);
        const std::string oldest(m::kOldestSegmentTimestamp);
        s.title =
            "fires on too many backups (db-1) and on too old a backup (db-2), "
            "not within both limits (db-3)";
        s.series.push_back(Steady(segments, Comp(a.component, kRw), count,
                                  count + 1, st, total));
        s.series.push_back({oldest, Comp(a.component, kRw), {{0, 60, total}}});
        s.series.push_back(
            Constant(segments, Comp(a.component, kRo), count, total));
        s.series.push_back(
            Timestamp(oldest, Comp(a.component, kRo), then, st, total));
        s.series.push_back(
            Constant(segments, Comp(a.component, kNoInodes), count, total));
        s.series.push_back(
            {oldest, Comp(a.component, kNoInodes), {{0, 60, total}}});
        s.expect = [this, a, count](int) {
          return std::vector<Expected>{{Comp(a.component, kRw), count + 1},
                                       {Comp(a.component, kRo), count}};
        };
        return s;
      }
      case AlertKind::kTmpAccumulating: {
        const auto& tmp = t.tmp;
        const double max_files = static_cast<double>(tmp.max_files);
        const std::string bytes(m::kComponentAllocatedBytes);
        const std::string files(m::kComponentFiles);
        const double small = 4096;
        s.title =
            "fires on too many bytes (db-1) and on too many files (db-2), "
            "not within both limits (db-3)";
        s.series.push_back(Steady(bytes, Comp(a.component, kRw),
                                  std::floor(a.threshold / 2), a.threshold * 2,
                                  st, total));
        s.series.push_back(Constant(files, Comp(a.component, kRw), 1, total));
        s.series.push_back(
            Constant(bytes, Comp(a.component, kRo), small, total));
        s.series.push_back(Steady(files, Comp(a.component, kRo), max_files,
                                  max_files + 1, st, total));
        s.series.push_back(
            Constant(bytes, Comp(a.component, kNoInodes), a.threshold, total));
        s.series.push_back(
            Constant(files, Comp(a.component, kNoInodes), max_files, total));
        const double big = a.threshold * 2;
        s.expect = [this, a, big, small](int) {
          return std::vector<Expected>{{Comp(a.component, kRw), big},
                                       {Comp(a.component, kRo), small}};
        };
        return s;
      }
      case AlertKind::kExporterDown: {
        const Labels up = {{"instance", kRw}, {"job", c_.alerting.job}};
        s.title = "fires after its for; not for a target that is up";
        s.series.push_back(Steady(kUpMetric, up, 1, 0, st, total));
        s.series.push_back(
            Constant(kUpMetric, With(up, "instance", kRo), 1, total));
        s.expect = [up](int) { return std::vector<Expected>{{up, 0}}; };
        return s;
      }
      case AlertKind::kExporterAbsent: {
        // No target in the job from the first evaluation on; another job's
        // target does not count.
        s.title = "fires after its for when the job has no target";
        s.start = 0;
        s.series.push_back(Constant(
            kUpMetric, {{"instance", kRw}, {"job", c_.alerting.job + "_other"}},
            1, total_after));
        const Labels job = {{"job", c_.alerting.job}};
        s.expect = [job](int) { return std::vector<Expected>{{job, 1}}; };
        return s;
      }
      case AlertKind::kScanFailing: {
        const std::string metric(m::kScanSuccess);
        s.title = "fires after its for; only for the failing component";
        s.series.push_back(Steady(metric, Comp("db"), 1, 0, st, total));
        s.series.push_back(Constant(metric, Comp("wal"), 1, total));
        s.expect = [this](int) {
          return std::vector<Expected>{{Comp("db"), 0}};
        };
        return s;
      }
      case AlertKind::kScanStale: {
        const std::string metric(m::kLastScanSuccessTimestamp);
        const double then = Time(st) - a.threshold - 60;
        s.title = "fires after its for; only for the stale component";
        s.series.push_back(Timestamp(metric, Comp("db"), then, st, total));
        s.series.push_back({metric, Comp("wal"), {{0, 60, total}}});
        s.expect = [this, then](int k) {
          return std::vector<Expected>{{Comp("db"), Time(k) - then}};
        };
        return s;
      }
    }
    return std::nullopt;
  }

  // Evaluations (at 1m) until an alert pending since index i fires.
  static int ForSteps(const Duration& d) {
    const int64_t ms = d.value.count();
    return static_cast<int>((ms + 59999) / 60000);
  }

  std::optional<ConfigError> AppendAlertTest(const AlertRule& a,
                                             const Scenario& s,
                                             std::string* out) const {
    *out += "  - name: " + YamlDoubleQuoted(a.name + " " + s.title) + "\n";
    *out += "    interval: 1m\n    input_series:\n";
    for (const Series& series : s.series) {
      *out += "      - series: " +
              YamlSingleQuoted(SeriesText(series.metric, series.labels)) + "\n";
      *out += "        values: " + YamlDoubleQuoted(series.Notation()) + "\n";
    }
    *out += "    alert_rule_test:\n";
    const int fire = s.start + ForSteps(a.for_duration);
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
    Labels fs = fs_labels_;
    fs["job"] = c_.alerting.job;  // records read the exporter's metrics
    const Labels rw = With(fs, "instance", kRw);
    const Labels none = With(fs, "instance", kNoInodes);
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
      out += "        exp_samples:\n";
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
    return out;
  }

  const Config& c_;
  const RuleSet& rules_;
  FilesystemMetrics fs_;
  Labels fs_labels_;
};

}  // namespace

std::optional<ConfigError> RenderRuleTests(const Config& config,
                                           const RuleSet& rules,
                                           const std::string& rule_file,
                                           const std::string& header,
                                           std::string* out) {
  Generator generator(config, rules);
  return generator.Render(rule_file, header, out);
}

}  // namespace stemedb::rulegen
