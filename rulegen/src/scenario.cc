#include "stemedb/rulegen/scenario.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "stemedb/config/metric_names.h"
#include "stemedb/rulegen/format.h"

namespace stemedb::rulegen {

namespace m = ::stemedb::metrics;

std::string Series::Notation() const {
  std::string out;
  for (const Phase& p : phases) {
    if (p.count <= 0) continue;
    if (!out.empty()) out += " ";
    if (p.missing) {  // promtool: "_xN" is N missing samples
      out += p.count == 1 ? "_" : "_x" + std::to_string(p.count);
      continue;
    }
    out += FormatNumber(p.start);
    if (p.count == 1) continue;
    if (p.step > 0) out += "+" + FormatNumber(p.step);
    if (p.step < 0) out += "-" + FormatNumber(-p.step);
    out += "x" + std::to_string(p.count - 1);
  }
  return out;
}

// Values are summed the way promtool expands them.
double Series::At(int index) const {
  for (const Phase& p : phases) {
    if (index < p.count) {
      if (p.missing) return std::nan("");
      double v = p.start;
      for (int i = 0; i < index; ++i) v += p.step;
      return v;
    }
    index -= p.count;
  }
  return std::nan("");
}

TestFixture::TestFixture(const Config& config)
    : fs_(FilesystemMetricsFor(config)), job_(config.alerting.job) {
  // The loader refused selectors no series can satisfy.
  fs_labels_ = {
      {"device", "/dev/vdb"}, {"fstype", "ext4"}, {"mountpoint", "/data"}};
  if (config.alerting.source == MetricsSource::kExporter) {
    fs_labels_["job"] = job_;
    return;
  }
  fs_labels_["job"] = "node";
  for (const LabelMatcher& mt : config.alerting.node_exporter_matchers) {
    if (mt.op == "=") {
      fs_labels_[mt.name] = mt.value;
    } else if (mt.op == "=~") {
      fs_labels_[mt.name] = mt.value.substr(0, mt.value.find('|'));
    }
  }
}

Labels TestFixture::Fs(const char* instance) const {
  return With(fs_labels_, "instance", instance);
}

Labels TestFixture::ExporterFs(const char* instance) const {
  return With(Fs(instance), "job", job_);
}

Labels TestFixture::Comp(const std::string& component,
                         const char* instance) const {
  return {{"component", component}, {"instance", instance}, {"job", job_}};
}

int TestFixture::ForSteps(const Duration& d) {
  const int64_t ms = d.value.count();
  return static_cast<int>((ms + 59999) / 60000);
}

Series Steady(const std::string& metric, const Labels& labels, double healthy,
              double crossing, int start, int total) {
  return {metric, labels, {{healthy, 0, start}, {crossing, 0, total - start}}};
}

Series Constant(const std::string& metric, const Labels& labels, double v,
                int total) {
  return {metric, labels, {{v, 0, total}}};
}

Series Timestamp(const std::string& metric, const Labels& labels, double then,
                 int start, int total) {
  return {metric, labels, {{0, 60, start}, {then, 0, total - start}}};
}

double Time(int k) { return k * 60.0; }

Labels With(Labels labels, const std::string& k, const std::string& v) {
  labels[k] = v;
  return labels;
}

namespace {

struct RuleCase {
  const char* rule;
  const char* section;
  double bytes;
  double entries;
  bool elsewhere;  // on another filesystem of the instance
};

// Distinct values, so sort_desc has one order.
constexpr RuleCase kRuleCases[] = {
    {"wal_beyond_retention", "1", 38.0 * (1ull << 30), 120, false},
    {"backups_older_than_30d", "1", 3.0 * (1ull << 30), 3, false},
    {"tmp_files", "4", 1 << 20, 10000, false},
    {"empty_files", "4", 0, 2500, false},
    {"journal_older_than_7d", "1", 5.0 * (1ull << 30), 40, true},
};

std::string Whole(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

}  // namespace

std::string AddReclaimable(const TestFixture& f, std::string_view metric,
                           const char* instance, int total,
                           std::vector<Series>* series) {
  const bool bytes = metric == m::kReclaimableBytes;
  const Labels fs = f.ExporterFs(instance);
  std::map<std::string, double> section_sum;
  std::map<std::string, std::vector<std::pair<double, std::string>>> rules;
  for (const RuleCase& c : kRuleCases) {
    const Labels rule = {
        {"instance", instance}, {"job", f.job()}, {"rule", c.rule}};
    Labels info = rule;
    info["section"] = c.section;
    info["path"] = "/srv/" + std::string(c.rule);
    info["mountpoint"] = c.elsewhere ? "/" : fs.at("mountpoint");
    info["device"] = c.elsewhere ? "/dev/vda1" : fs.at("device");
    const double v = bytes ? c.bytes : c.entries;
    series->push_back(Constant(std::string(metric), rule, v, total));
    series->push_back(
        Constant(std::string(m::kCleanupRuleInfo), info, 1, total));
    if (c.elsewhere || v <= 0) continue;
    section_sum[c.section] += v;
    rules[c.section].push_back({v, c.rule});
  }
  std::vector<std::pair<double, std::string>> sections;
  for (const auto& [section, sum] : section_sum) {
    sections.push_back({sum, section});
  }
  auto desc = [](const auto& x, const auto& y) { return x.first > y.first; };
  std::sort(sections.begin(), sections.end(), desc);
  auto text = [bytes](double v) {
    return bytes ? Humanize1024(v) + "B" : Whole(v);
  };
  std::string out;
  for (const auto& [sum, section] : sections) {
    out += " §" + section + " would free " + text(sum) +
           (bytes ? "" : " inodes") + ":";
    std::vector<std::pair<double, std::string>>& list = rules[section];
    std::sort(list.begin(), list.end(), desc);
    for (size_t i = 0; i < list.size(); ++i) {
      out += (i ? ", " : " ") + list[i].second + " " + text(list[i].first);
    }
    out += ".";
  }
  return out;
}

namespace scenarios {
namespace {

Scenario Begin(const AlertRule& a, std::string title, int* total) {
  Scenario s;
  s.title = std::move(title);
  *total = s.start + TestFixture::SamplesAfter(a);
  return s;
}

// The disk-space shape: avail falls from halfway above the threshold to
// halfway below it; the read-only twin does the same and stays silent.
Scenario DiskRatio(const TestFixture& f, const AlertRule& a, bool used) {
  int total = 0;
  Scenario s =
      Begin(a, "fires after its for; silent on a read-only filesystem", &total);
  const double avail_ratio =
      used ? DecimalComplement(a.Limit("ratio")) : a.Limit("ratio");
  const double healthy = std::floor(kFsSize * (1 + avail_ratio) / 2);
  const double crossing = std::floor(kFsSize * avail_ratio / 2);
  const FilesystemMetrics& fs = f.fs();
  for (const char* inst : {kRw, kRo}) {
    s.series.push_back(Constant(fs.size, f.Fs(inst), kFsSize, total));
    s.series.push_back(
        Steady(fs.avail, f.Fs(inst), healthy, crossing, s.start, total));
    s.series.push_back(
        Constant(fs.readonly, f.Fs(inst), inst == kRo ? 1 : 0, total));
  }
  const double ratio = crossing / kFsSize;
  const double value = used ? 1 - ratio : ratio;
  const Labels rw = f.Fs(kRw);
  if (a.description_query.empty()) {
    s.expect = [rw, value](int) {
      return std::vector<Expected>{{rw, value, ""}};
    };
    return s;
  }
  // What the cleanup rules would free, in the description; a filesystem
  // whose exporter reports no reclaimable series gets the plain text.
  s.title += "; says what the cleanup rules would free, when known";
  s.series.push_back(Constant(fs.size, f.Fs(kBare), kFsSize, total));
  s.series.push_back(
      Steady(fs.avail, f.Fs(kBare), healthy, crossing, s.start, total));
  s.series.push_back(Constant(fs.readonly, f.Fs(kBare), 0, total));
  const std::string queried =
      AddReclaimable(f, m::kReclaimableBytes, kRw, total, &s.series);
  const Labels bare = f.Fs(kBare);
  s.expect = [rw, bare, value, queried](int) {
    return std::vector<Expected>{{rw, value, queried}, {bare, value, ""}};
  };
  return s;
}

Scenario SegmentAge(const TestFixture& f, const AlertRule& a,
                    const std::string& metric) {
  int total = 0;
  Scenario s =
      Begin(a, "fires after its for; ignores other components", &total);
  const double then = Time(s.start) - a.Limit("seconds") - 3600;
  s.series.push_back(
      Timestamp(metric, f.Comp(a.component), then, s.start, total));
  s.series.push_back(Constant(metric, f.Comp(kDecoy), then, total));
  const Labels comp = f.Comp(a.component);
  s.expect = [comp, then](int k) {
    return std::vector<Expected>{{comp, Time(k) - then, ""}};
  };
  return s;
}

// Minutes in a limit given in seconds.
int LimitSteps(const AlertRule& a, const char* name) {
  return TestFixture::ForSteps(
      {std::chrono::milliseconds(static_cast<int64_t>(a.Limit(name) * 1000)),
       ""});
}

// With a "shrinking_ratio" (the WAL): db-1 has grown past the limit since
// its lookback; db-2 (kRo) is as far past it but draining, enough fewer
// than a lookback ago, and stays silent.
Scenario SegmentCount(const TestFixture& f, const AlertRule& a, bool none) {
  int total = 0;
  Scenario s =
      Begin(a, "fires after its for; ignores other components", &total);
  const double limit = none ? 0 : a.Limit("count");
  const double healthy = none ? 3 : limit;
  const double crossing = none ? 0 : limit + 1;
  const std::string metric(m::kSegments);
  const bool draining = !none && a.limits.contains("shrinking_ratio") &&
                        a.Limit("shrinking_ratio") < 1;
  if (draining) {
    s.title += "; silent while draining a backlog";
    s.start = LimitSteps(a, "shrinking_lookback_seconds") + kLeadIn;
    total = s.start + TestFixture::SamplesAfter(a);
    // Twice what the ratio needs: clear of float rounding at 2^53.
    const double before =
        std::ceil(2 * crossing / (1 - a.Limit("shrinking_ratio")));
    s.series.push_back(
        {metric,
         f.Comp(a.component, kRo),
         {{before, 0, s.start}, {crossing, 0, total - s.start}}});
  }
  s.series.push_back(
      Steady(metric, f.Comp(a.component), healthy, crossing, s.start, total));
  s.series.push_back(
      Constant(metric, f.Comp(kDecoy), none ? 0 : limit * 10, total));
  const Labels comp = f.Comp(a.component);
  s.expect = [comp, crossing](int) {
    return std::vector<Expected>{{comp, crossing, ""}};
  };
  return s;
}

}  // namespace

Scenario DiskAvailBelow(const TestFixture& f, const AlertRule& a) {
  return DiskRatio(f, a, false);
}

Scenario DiskUsedAbove(const TestFixture& f, const AlertRule& a) {
  return DiskRatio(f, a, true);
}

Scenario InodesFreeBelow(const TestFixture& f, const AlertRule& a) {
  int total = 0;
  Scenario s = Begin(a,
                     "fires after its for; silent on a read-only filesystem "
                     "and where files = 0",
                     &total);
  const double healthy = std::floor(kFsFiles * (1 + a.Limit("ratio")) / 2);
  const double crossing = std::floor(kFsFiles * a.Limit("ratio") / 2);
  const FilesystemMetrics& fs = f.fs();
  for (const char* inst : {kRw, kRo, kNoInodes}) {
    const bool none = inst == kNoInodes;
    s.series.push_back(
        Constant(fs.files, f.Fs(inst), none ? 0 : kFsFiles, total));
    s.series.push_back(none ? Constant(fs.files_free, f.Fs(inst), 0, total)
                            : Steady(fs.files_free, f.Fs(inst), healthy,
                                     crossing, s.start, total));
    s.series.push_back(
        Constant(fs.readonly, f.Fs(inst), inst == kRo ? 1 : 0, total));
  }
  const double value = crossing / kFsFiles;
  const Labels rw = f.Fs(kRw);
  std::string queried;
  if (!a.description_query.empty()) {
    s.title += "; says what the cleanup rules would free";
    queried = AddReclaimable(f, m::kReclaimableEntries, kRw, total, &s.series);
  }
  s.expect = [rw, value, queried](int) {
    return std::vector<Expected>{{rw, value, queried}};
  };
  return s;
}

namespace {

// Samples from 25 h to 23 h before an evaluation: what the daily-low
// guard reads.
constexpr int kDay = 25 * 60;
// Fell yesterday as low as the filling filesystem is now: silent.
constexpr const char* kRecurring = "db-5:9101";
// Writable from the scenario's start (so pending from there), it fell as
// fast since a lookback before, then got back at the last evaluation what
// it had lost over the lookback (a burst deleted): the trend still predicts
// full, the net loss does not, so it is silent.
constexpr const char* kFreed = "db-6:9101";

// kFreed's series: `yesterday` for `history` samples, then `level` until
// the lookback and the `for` before the alert would fire, falling one unit
// a second until then, and back at its value of a lookback before.
Series FreedAtFire(const TestFixture& f, const std::string& metric, int start,
                   int history, int lookback, double yesterday, double level,
                   int total, const AlertRule& a) {
  const int fire = start + TestFixture::ForSteps(a.for_duration);
  const int from = fire - TestFixture::ForSteps(a.for_duration) - lookback;
  std::vector<Phase> phases;
  if (history > 0) phases.push_back({yesterday, 0, history});
  phases.push_back({level, 0, from - history});
  phases.push_back({level, -60, fire - from});
  phases.push_back({level - 60.0 * (fire - lookback - from), 0, total - fire});
  return {metric, f.Fs(kFreed), phases};
}

// Falls one unit a second on a filesystem of `size` units, so the time
// until full in seconds is the value itself; crosses the ratio guard at
// index `start`, with half the horizon left, after a lookback of history.
// With `history` (kDay) it holds its level that long before falling, and
// falls far enough for the limit "daily_low_margin" before `start`; a twin
// that was as low the day before stays silent.
// Values sit half a unit off whole seconds: humanizeDuration truncates.
Scenario Filling(const TestFixture& f, const AlertRule& a, bool inodes,
                 int history) {
  const FilesystemMetrics& fs = f.fs();
  const std::string& total_metric = inodes ? fs.files : fs.size;
  const std::string& left_metric = inodes ? fs.files_free : fs.avail;
  const double horizon = a.Limit("horizon_seconds");
  const int lookback =
      TestFixture::ForSteps({std::chrono::milliseconds(static_cast<int64_t>(
                                 a.Limit("lookback_seconds") * 1000)),
                             ""});
  const double guard = std::floor(horizon / 2);  // left at `start`
  const double size = std::ceil(guard / a.Limit("ratio"));
  const double margin = history > 0 ? a.Limit("daily_low_margin") * size : 0;
  Scenario s;
  s.title =
      "fires after its for; silent on a read-only filesystem, while not "
      "falling, on a node younger than the lookback, and once what the "
      "lookback lost is freed";
  if (history > 0) s.title += "; silent on a dip as low the day before";
  s.start = history + std::max(lookback + kLeadIn,
                               static_cast<int>(std::ceil(margin / 60)) + 2);
  const int total = s.start + TestFixture::SamplesAfter(a);
  const double at_start = guard - 0.5;
  // The value at index i once falling.
  auto at = [&](int i) { return at_start + 60.0 * (s.start - i); };
  const std::vector<Phase> fall = {{at(history), 0, history},
                                   {at(history), -60, total - history}};
  std::vector<const char*> instances = {kRw, kRo, kNoInodes, kBare, kFreed};
  if (history > 0) instances.push_back(kRecurring);
  for (const char* inst : instances) {
    s.series.push_back(Constant(total_metric, f.Fs(inst), size, total));
    // kFreed is writable from `start` on, so it is pending from there.
    s.series.push_back(
        inst == kFreed
            ? Series{fs.readonly,
                     f.Fs(inst),
                     {{1, 0, s.start}, {0, 0, total - s.start}}}
            : Constant(fs.readonly, f.Fs(inst), inst == kRo ? 1 : 0, total));
  }
  const Series falling{left_metric, f.Fs(kRw), fall};
  s.series.push_back(falling);
  s.series.push_back({left_metric, f.Fs(kRo), fall});
  // Low but flat: the guard holds, the prediction does not.
  s.series.push_back(
      Constant(left_metric, f.Fs(kNoInodes), std::floor(guard / 2), total));
  // New: first scraped less than a lookback before the alert would fire.
  const int born =
      s.start + TestFixture::ForSteps(a.for_duration) - lookback + 1;
  s.series.push_back({left_metric,
                      f.Fs(kBare),
                      {{0, 0, born, true}, {at(born), -60, total - born}}});
  if (history > 0) {
    // Yesterday at its lowest of today, then the same fall.
    s.series.push_back(
        {left_metric,
         f.Fs(kRecurring),
         {{at(total - 1), 0, history}, {at(history), -60, total - history}}});
  }
  s.series.push_back(FreedAtFire(f, left_metric, s.start, history, lookback,
                                 at(history), at_start, total, a));
  const Labels rw = f.Fs(kRw);
  s.expect = [rw, falling](int k) {
    return std::vector<Expected>{{rw, falling.At(k), ""}};
  };
  return s;
}

}  // namespace

Scenario TimeUntilFull(const TestFixture& f, const AlertRule& a) {
  return Filling(f, a, false, 0);
}

Scenario TimeUntilFullBelowDailyLow(const TestFixture& f, const AlertRule& a) {
  return Filling(f, a, false, kDay);
}

Scenario InodesTimeUntilFull(const TestFixture& f, const AlertRule& a) {
  return Filling(f, a, true, 0);
}

// The expression says which way the flag goes: "== 1" raises it.
Scenario FilesystemFlag(const TestFixture& f, const AlertRule& a) {
  int total = 0;
  Scenario s = Begin(a, "fires after its for; only on that filesystem", &total);
  const bool exporter_metric =
      a.expr.starts_with(std::string(m::kFilesystemStatSuccess));
  const std::string metric = exporter_metric
                                 ? std::string(m::kFilesystemStatSuccess)
                                 : f.fs().readonly;
  const bool raise = a.expr.find("== 1") != std::string::npos;
  const double healthy = raise ? 0 : 1;
  const double bad = raise ? 1 : 0;
  const Labels rw = exporter_metric ? f.ExporterFs(kRw) : f.Fs(kRw);
  const Labels other = exporter_metric ? f.ExporterFs(kRo) : f.Fs(kRo);
  s.series.push_back(Steady(metric, rw, healthy, bad, s.start, total));
  s.series.push_back(Constant(metric, other, healthy, total));
  s.expect = [rw, bad](int) { return std::vector<Expected>{{rw, bad, ""}}; };
  return s;
}

Scenario OldestSegmentAge(const TestFixture& f, const AlertRule& a) {
  return SegmentAge(f, a, std::string(m::kOldestSegmentTimestamp));
}

Scenario NewestSegmentAge(const TestFixture& f, const AlertRule& a) {
  return SegmentAge(f, a, std::string(m::kNewestSegmentTimestamp));
}

Scenario SegmentCountAbove(const TestFixture& f, const AlertRule& a) {
  return SegmentCount(f, a, false);
}

// db-1 held backups until `gone`, then none for "seconds" (a range
// includes its left end here); db-2 was first scraped less than that
// before the alert would fire; db-3 ships its backups off-host, one a
// day: each is seen, so it stays silent.
Scenario NoSegmentsOnOldNode(const TestFixture& f, const AlertRule& a) {
  const int age =
      TestFixture::ForSteps({std::chrono::milliseconds(static_cast<int64_t>(
                                 a.Limit("seconds") * 1000)),
                             ""});
  Scenario s;
  s.title =
      "fires once no backup was seen for its age limit on a node watched "
      "that long; silent on a new node and where backups are shipped "
      "off-host";
  const int gone = kLeadIn + 60;
  s.start = gone + age;
  const int total = s.start + TestFixture::SamplesAfter(a);
  const int fire = s.start + TestFixture::ForSteps(a.for_duration);
  const std::string segments(m::kSegments);
  s.series.push_back({segments,
                      f.Comp(a.component, kRw),
                      {{3, 0, gone}, {0, 0, total - gone}}});
  const int born = fire - age + 1;
  s.series.push_back({segments,
                      f.Comp(a.component, kRo),
                      {{0, 0, born, true}, {0, 0, total - born}}});
  const int shipped = s.start - age / 2;
  s.series.push_back(
      {segments,
       f.Comp(a.component, kNoInodes),
       {{0, 0, shipped}, {1, 0, 1}, {0, 0, total - shipped - 1}}});
  // Another component with no segments is not the backups.
  s.series.push_back(Constant(segments, f.Comp(kDecoy), 0, total));
  const Labels comp = f.Comp(a.component, kRw);
  s.expect = [comp](int) { return std::vector<Expected>{{comp, 0, ""}}; };
  return s;
}

Scenario FilesystemShareAbove(const TestFixture& f, const AlertRule& a) {
  int total = 0;
  Scenario s = Begin(a,
                     "fires after its for where it shares the filesystem; "
                     "ignores other components and a volume of its own",
                     &total);
  const double healthy = std::floor(kFsSize * a.Limit("ratio") / 2);
  const double crossing = std::floor(kFsSize * (1 + a.Limit("ratio")) / 2);
  const Labels fs = f.ExporterFs(kRw);
  s.series.push_back(
      Constant(std::string(m::kFilesystemSizeBytes), fs, kFsSize, total));
  for (const std::string& comp : {a.component, std::string(kDecoy)}) {
    Labels info = f.Comp(comp);
    info["mountpoint"] = fs.at("mountpoint");
    info["device"] = fs.at("device");
    s.series.push_back(
        Constant(std::string(m::kComponentFilesystemInfo), info, 1, total));
  }
  s.series.push_back(Steady(std::string(m::kComponentAllocatedBytes),
                            f.Comp(a.component), healthy, crossing, s.start,
                            total));
  s.series.push_back(Constant(std::string(m::kComponentAllocatedBytes),
                              f.Comp(kDecoy), kFsSize, total));
  // A volume of its own (db-2): the WAL alone on it, as full as on db-1.
  const Labels own = f.ExporterFs(kRo);
  s.series.push_back(
      Constant(std::string(m::kFilesystemSizeBytes), own, kFsSize, total));
  Labels own_info = f.Comp(a.component, kRo);
  own_info["mountpoint"] = own.at("mountpoint");
  own_info["device"] = own.at("device");
  s.series.push_back(
      Constant(std::string(m::kComponentFilesystemInfo), own_info, 1, total));
  s.series.push_back(Constant(std::string(m::kComponentAllocatedBytes),
                              f.Comp(a.component, kRo), crossing, total));
  Labels out = f.Comp(a.component);
  out["mountpoint"] = fs.at("mountpoint");
  out["device"] = fs.at("device");
  s.expect = [out, crossing](int) {
    return std::vector<Expected>{{out, crossing / kFsSize, ""}};
  };
  return s;
}

Scenario TmpAccumulating(const TestFixture& f, const AlertRule& a) {
  int total = 0;
  Scenario s = Begin(a,
                     "fires on too many bytes (db-1) and on too many files "
                     "(db-2), not within both limits (db-3)",
                     &total);
  const double max_bytes = a.Limit("max_bytes");
  const double max_files = a.Limit("max_files");
  const std::string bytes(m::kComponentAllocatedBytes);
  const std::string files(m::kComponentFiles);
  const double small = 4096;
  const int st = s.start;
  s.series.push_back(Steady(bytes, f.Comp(a.component, kRw),
                            std::floor(max_bytes / 2), max_bytes * 2, st,
                            total));
  s.series.push_back(Constant(files, f.Comp(a.component, kRw), 1, total));
  s.series.push_back(Constant(bytes, f.Comp(a.component, kRo), small, total));
  s.series.push_back(Steady(files, f.Comp(a.component, kRo), max_files,
                            max_files + 1, st, total));
  s.series.push_back(
      Constant(bytes, f.Comp(a.component, kNoInodes), max_bytes, total));
  s.series.push_back(
      Constant(files, f.Comp(a.component, kNoInodes), max_files, total));
  // Each alert names the limit crossed and its value is the share of it.
  const Labels rw =
      With(f.Comp(a.component, kRw), "limit", Humanize1024(max_bytes) + "B");
  const Labels ro = With(f.Comp(a.component, kRo), "limit",
                         FormatNumber(max_files) + " files");
  const double bytes_share = max_bytes * 2 / max_bytes;
  const double files_share = (max_files + 1) / max_files;
  s.expect = [rw, ro, bytes_share, files_share](int) {
    return std::vector<Expected>{{rw, bytes_share, ""}, {ro, files_share, ""}};
  };
  return s;
}

Scenario ExporterDown(const TestFixture& f, const AlertRule& a) {
  int total = 0;
  Scenario s =
      Begin(a, "fires after its for; not for a target that is up", &total);
  const Labels up = {{"instance", kRw}, {"job", f.job()}};
  s.series.push_back(Steady(kUpMetric, up, 1, 0, s.start, total));
  s.series.push_back(Constant(kUpMetric, With(up, "instance", kRo), 1, total));
  s.expect = [up](int) { return std::vector<Expected>{{up, 0, ""}}; };
  return s;
}

Scenario ReloadFailed(const TestFixture& f, const AlertRule& a) {
  int total = 0;
  Scenario s =
      Begin(a, "fires after its for; not for an exporter whose reload worked",
            &total);
  const Labels bad = {{"instance", kRw}, {"job", f.job()}};
  const std::string metric(m::kConfigReloadSuccess);
  s.series.push_back(Steady(metric, bad, 1, 0, s.start, total));
  s.series.push_back(Constant(metric, With(bad, "instance", kRo), 1, total));
  s.expect = [bad](int) { return std::vector<Expected>{{bad, 0, ""}}; };
  return s;
}

Scenario Unaccounted(const TestFixture& f, const AlertRule& a) {
  int total = 0;
  Scenario s = Begin(
      a, "fires after its for; only for the incomplete component", &total);
  const std::string metric(m::kScanUnaccountedEntries);
  const Labels db = With(f.Comp("db"), "reason", "permission");
  s.series.push_back(Steady(metric, db, 0, 17, s.start, total));
  s.series.push_back(
      Constant(metric, With(f.Comp("wal"), "reason", "permission"), 0, total));
  s.expect = [db](int) { return std::vector<Expected>{{db, 17, ""}}; };
  return s;
}

// No target in the job from the first evaluation on; another job's target
// does not count.
Scenario ExporterAbsent(const TestFixture& f, const AlertRule& a) {
  Scenario s;
  s.title = "fires after its for when the job has no target";
  s.start = 0;
  s.series.push_back(Constant(kUpMetric,
                              {{"instance", kRw}, {"job", f.job() + "_other"}},
                              1, TestFixture::SamplesAfter(a)));
  const Labels job = {{"job", f.job()}};
  s.expect = [job](int) { return std::vector<Expected>{{job, 1, ""}}; };
  return s;
}

Scenario ScanFailing(const TestFixture& f, const AlertRule& a) {
  int total = 0;
  Scenario s =
      Begin(a, "fires after its for; only for the failing component", &total);
  const std::string metric(m::kScanSuccess);
  s.series.push_back(Steady(metric, f.Comp("db"), 1, 0, s.start, total));
  s.series.push_back(Constant(metric, f.Comp("wal"), 1, total));
  const Labels db = f.Comp("db");
  s.expect = [db](int) { return std::vector<Expected>{{db, 0, ""}}; };
  return s;
}

Scenario ScanStale(const TestFixture& f, const AlertRule& a) {
  int total = 0;
  Scenario s =
      Begin(a, "fires after its for; only for the stale component", &total);
  const std::string metric(m::kLastScanSuccessTimestamp);
  const double then = Time(s.start) - a.Limit("seconds") - 60;
  s.series.push_back(Timestamp(metric, f.Comp("db"), then, s.start, total));
  s.series.push_back({metric, f.Comp("wal"), {{0, 60, total}}});
  const Labels db = f.Comp("db");
  s.expect = [db, then](int k) {
    return std::vector<Expected>{{db, Time(k) - then, ""}};
  };
  return s;
}

Scenario ReclaimablePiling(const TestFixture& f, const AlertRule& a) {
  int total = 0;
  Scenario s = Begin(a,
                     "fires on the filesystem where cleanup rules pile up "
                     "beyond the share (db-1), not below it (db-2)",
                     &total);
  const double share = a.Limit("ratio");
  const double set = 1u << 30;  // one backup set, constant
  const double healthy = std::floor(kFsSize * share / 2);
  const double crossing = std::floor(kFsSize * (1 + share) / 2) - set;
  const std::string size(m::kFilesystemSizeBytes);
  const std::string bytes(m::kReclaimableBytes);
  const std::string info(m::kCleanupRuleInfo);
  for (const char* inst : {kRw, kRo}) {
    const Labels fs = f.ExporterFs(inst);
    s.series.push_back(Constant(size, fs, kFsSize, total));
    auto rule = [&](const char* name, const char* section, bool here) {
      Labels l = {{"instance", inst}, {"job", f.job()}, {"rule", name}};
      Labels i = l;
      i["section"] = section;
      i["path"] = "/srv/" + std::string(name);
      i["mountpoint"] = here ? fs.at("mountpoint") : "/";
      i["device"] = here ? fs.at("device") : "/dev/vda1";
      s.series.push_back(Constant(info, i, 1, total));
      return l;
    };
    const Labels wal = rule("wal_beyond_retention", "1", true);
    s.series.push_back(
        inst == kRw ? Steady(bytes, wal, healthy, crossing, s.start, total)
                    : Constant(bytes, wal, healthy, total));
    s.series.push_back(
        Constant(bytes, rule("backups_older_than_30d", "1", true), set, total));
    // On a filesystem without a size series: no share to compare.
    s.series.push_back(Constant(
        bytes, rule("journal_older_than_7d", "1", false), kFsSize * 4, total));
  }
  const Labels fs = f.ExporterFs(kRw);
  const Labels out = {{"device", fs.at("device")},
                      {"instance", kRw},
                      {"job", f.job()},
                      {"mountpoint", fs.at("mountpoint")}};
  const double value = (crossing + set) / kFsSize;
  const std::string queried =
      a.description_query.empty()
          ? ""
          : " §1 would free " + Humanize1024(crossing + set) +
                "B: wal_beyond_retention " + Humanize1024(crossing) +
                "B, backups_older_than_30d " + Humanize1024(set) + "B.";
  s.expect = [out, value, queried](int) {
    return std::vector<Expected>{{out, value, queried}};
  };
  return s;
}

}  // namespace scenarios
}  // namespace stemedb::rulegen
