#include "stemedb/rulegen/rules.h"

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

#include "stemedb/metric_names.h"
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

// Runbook headings (disk-full.md) the alerts link to, verbatim, so the
// anchor is computed the way GitHub computes it.
constexpr std::string_view kSectionQuickDiagnosis = "Quick Diagnosis";
constexpr std::string_view kSectionEmergency =
    "§1. Emergency Cleanup (Disk >98%)";
constexpr std::string_view kSectionWal = "§2. WAL Cleanup (Planned)";
constexpr std::string_view kSectionInodes = "§4. Inode Exhaustion";
constexpr std::string_view kSectionCapacity = "Capacity Planning";
constexpr std::string_view kSectionConfigChanges = "Configuration Changes";
constexpr std::string_view kSectionMonitoring = "Monitoring";

// Alert names (the runbook's three keep the runbook's names).
constexpr const char* kDiskWarning = "StemeDBDiskSpaceWarning";
constexpr const char* kDiskCritical = "StemeDBDiskSpaceCritical";
constexpr const char* kDiskEmergency = "StemeDBDiskSpaceEmergency";
constexpr const char* kInodeWarning = "StemeDBInodeExhaustion";
constexpr const char* kInodeCritical = "StemeDBInodeExhaustionCritical";
constexpr const char* kWillFill = "StemeDBDiskWillFillSoon";
constexpr const char* kWalRetention = "StemeDBWALRetentionExceeded";
constexpr const char* kWalSegments = "StemeDBWALTooManySegments";
constexpr const char* kWalShare = "StemeDBWALFillingFilesystem";
constexpr const char* kBackupTooOld = "StemeDBBackupTooOld";
constexpr const char* kBackupsMissing = "StemeDBBackupsMissing";
constexpr const char* kBackupsBeyond = "StemeDBBackupsBeyondRetention";
constexpr const char* kTmp = "StemeDBTmpFilesAccumulating";
constexpr const char* kExporterDown = "StemeDBDiskExporterDown";
constexpr const char* kExporterAbsent = "StemeDBDiskExporterAbsent";
constexpr const char* kScanFailing = "StemeDBDiskScanFailing";
constexpr const char* kScanStale = "StemeDBDiskScanStale";

std::string Str(std::string_view s) { return std::string(s); }

std::string Matcher(std::string_view name, std::string_view value) {
  return Str(name) + "=" + PromQuote(value);
}

// metric{m1,m2}: empty matcher strings are skipped.
std::string Sel(std::string_view metric, std::vector<std::string> matchers) {
  std::string inner;
  for (const std::string& matcher : matchers) {
    if (matcher.empty()) continue;
    if (!inner.empty()) inner += ",";
    inner += matcher;
  }
  if (inner.empty()) return Str(metric);
  return Str(metric) + "{" + inner + "}";
}

// Builds the alerts and records from one config; small helpers keep each
// alert's definition readable in one place.
class Builder {
 public:
  explicit Builder(const Config& config)
      : c_(config),
        t_(config.thresholds),
        fs_(FilesystemMetricsFor(config)),
        job_(Matcher("job", config.alerting.job)) {}

  RuleGroup Records() const {
    const std::string avail = Sel(m::kFilesystemAvailBytes, {job_});
    const std::string size = Sel(m::kFilesystemSizeBytes, {job_});
    RuleGroup g;
    g.name = c_.alerting.group_name + ".rules";
    g.records.push_back(
        {Str(m::kRecordFilesystemAvailRatio), avail + "\n  / " + size});
    g.records.push_back(
        {Str(m::kRecordFilesystemUsedRatio), "1 - " + avail + "\n  / " + size});
    g.records.push_back({Str(m::kRecordFilesystemInodesFreeRatio),
                         Sel(m::kFilesystemFilesFree, {job_}) + "\n  / (" +
                             Sel(m::kFilesystemFiles, {job_}) + " > 0)"});
    g.records.push_back(
        {Str(m::kRecordComponentGrowthRate),
         "deriv(" + Sel(m::kComponentAllocatedBytes, {job_}) + "[1h])"});
    return g;
  }

  RuleGroup Alerts() const {
    RuleGroup g;
    g.name = c_.alerting.group_name;
    const auto& ds = t_.disk_space;
    const auto& in = t_.inodes;
    const std::vector<std::string> fs_equal = {"job", "instance", "mountpoint",
                                               "device"};

    g.alerts.push_back(
        DiskAvail(kDiskWarning, ds.warning, "warning", {}, fs_equal));
    g.alerts.push_back(DiskAvail(kDiskCritical, ds.critical, "critical",
                                 {kDiskWarning, kWillFill}, fs_equal));
    {
      AlertRule a =
          Base(kDiskEmergency, AlertKind::kDiskUsedAbove,
               ds.emergency_used.for_duration, "critical", kSectionEmergency);
      a.threshold = ds.emergency_used.ratio;
      a.expr = "(\n  1 - " + Ratio(fs_.avail, fs_.size) + "\n) > " +
               FormatNumber(a.threshold) + "\nand " + Writable();
      a.summary =
          "Filesystem is more than " + FormatPercent(a.threshold) + "% full.";
      a.description = FsWhere() +
                      " is {{ $value | humanizePercentage }} full; writes are "
                      "about to fail.";
      a.inhibits = {kDiskCritical, kDiskWarning, kWillFill};
      a.inhibit_equal = fs_equal;
      g.alerts.push_back(a);
    }
    g.alerts.push_back(
        Inodes(kInodeWarning, in.warning, "warning", {}, fs_equal));
    g.alerts.push_back(Inodes(kInodeCritical, in.critical, "critical",
                              {kInodeWarning}, fs_equal));
    {
      const auto& fp = t_.fill_prediction;
      AlertRule a = Base(kWillFill, AlertKind::kFillPrediction, fp.for_duration,
                         "warning", kSectionCapacity);
      a.threshold = fp.avail_ratio_below;
      a.expr = "(\n  " + Ratio(fs_.avail, fs_.size) + "\n) < " +
               FormatNumber(a.threshold) + "\nand predict_linear(" +
               Sel(fs_.avail, {fs_.matchers}) + "[" + fp.lookback.text + "], " +
               FormatSeconds(fp.horizon.value.count()) + ") < 0\nand " +
               Writable();
      a.summary =
          "Filesystem is predicted to fill within " + fp.horizon.text + ".";
      a.description = FsWhere() +
                      " has {{ $value | humanizePercentage }} space available "
                      "and, at the rate of the last " +
                      fp.lookback.text + ", will be full within " +
                      fp.horizon.text + ".";
      g.alerts.push_back(a);
    }

    const auto& wal = t_.wal;
    {
      AlertRule a = Base(kWalRetention, AlertKind::kOldestSegmentAge,
                         wal.for_duration, "warning", kSectionWal);
      a.component = wal.component;
      a.threshold = wal.retention.seconds();
      a.expr = "time() - " +
               Sel(m::kOldestSegmentTimestamp, {job_, Comp(wal.component)}) +
               "\n  > " + FormatSeconds(wal.retention.value.count());
      a.summary = "WAL segments are kept beyond their " + wal.retention.text +
                  " retention.";
      a.description = "The oldest segment in " + CompWhere() +
                      " is {{ $value | humanizeDuration }} old, beyond the "
                      "retention of " +
                      wal.retention.text + ".";
      g.alerts.push_back(a);
    }
    {
      AlertRule a = Base(kWalSegments, AlertKind::kSegmentCount,
                         wal.for_duration, "warning", kSectionWal);
      a.component = wal.component;
      a.threshold = static_cast<double>(wal.max_segments);
      a.expr = Sel(m::kSegments, {job_, Comp(wal.component)}) + " > " +
               std::to_string(wal.max_segments);
      a.summary = "WAL holds more than " + std::to_string(wal.max_segments) +
                  " segments.";
      a.description = CompWhere() +
                      " holds {{ $value | printf \"%.0f\" }} segments, more "
                      "than " +
                      std::to_string(wal.max_segments) + ".";
      g.alerts.push_back(a);
    }
    {
      AlertRule a = Base(kWalShare, AlertKind::kFilesystemShare,
                         wal.for_duration, "warning", kSectionWal);
      a.component = wal.component;
      a.threshold = wal.max_filesystem_share;
      const std::string comp = Comp(wal.component);
      a.expr =
          "(\n  " + Sel(m::kComponentAllocatedBytes, {job_, comp}) +
          "\n    * on (job, instance, component) group_left (mountpoint, "
          "device)\n      " +
          Sel(m::kComponentFilesystemInfo, {job_, comp}) +
          "\n)\n  / on (job, instance, mountpoint, device) group_left\n    " +
          Sel(m::kFilesystemSizeBytes, {job_}) + "\n  > " +
          FormatNumber(a.threshold);
      a.summary = "WAL takes more than " + FormatPercent(a.threshold) +
                  "% of its filesystem.";
      a.description = CompWhere() +
                      " takes {{ $value | humanizePercentage }} of filesystem "
                      "{{ $labels.mountpoint }}, more than " +
                      FormatPercent(a.threshold) + "%.";
      g.alerts.push_back(a);
    }

    const auto& bk = t_.backups;
    const std::string bcomp = Comp(bk.component);
    {
      AlertRule a = Base(kBackupTooOld, AlertKind::kNewestSegmentAge,
                         bk.for_duration, "warning", kSectionEmergency);
      a.component = bk.component;
      a.threshold = bk.max_age.seconds();
      a.expr = "time() - " + Sel(m::kNewestSegmentTimestamp, {job_, bcomp}) +
               "\n  > " + FormatSeconds(bk.max_age.value.count());
      a.summary = "The newest backup is older than " + bk.max_age.text + ".";
      a.description = "The newest backup in " + CompWhere() +
                      " is {{ $value | humanizeDuration }} old; emergency "
                      "cleanup needs a recent backup.";
      g.alerts.push_back(a);
    }
    {
      AlertRule a = Base(kBackupsMissing, AlertKind::kNoSegments,
                         bk.for_duration, "warning", kSectionEmergency);
      a.component = bk.component;
      a.expr = Sel(m::kSegments, {job_, bcomp}) + " == 0";
      a.summary = "No backup exists.";
      a.description = CompWhere() + " holds no backup.";
      g.alerts.push_back(a);
    }
    {
      AlertRule a = Base(kBackupsBeyond, AlertKind::kBeyondRetention,
                         bk.for_duration, "info", kSectionConfigChanges);
      a.component = bk.component;
      a.threshold = static_cast<double>(bk.max_count);
      const std::string segments = Sel(m::kSegments, {job_, bcomp});
      // The `and` keeps the count as the value whichever limit is exceeded,
      // so one description fits both.
      a.expr = segments + " > " + std::to_string(bk.max_count) + "\nor (\n  " +
               segments + "\n  and time() - " +
               Sel(m::kOldestSegmentTimestamp, {job_, bcomp}) + "\n    > " +
               FormatSeconds(bk.retention.value.count()) + "\n)";
      a.summary = "Backups are kept beyond their retention.";
      a.description = CompWhere() +
                      " holds {{ $value | printf \"%.0f\" }} backups; "
                      "retention is " +
                      std::to_string(bk.max_count) + " backups and " +
                      bk.retention.text + ".";
      g.alerts.push_back(a);
    }

    const auto& tmp = t_.tmp;
    {
      AlertRule a = Base(kTmp, AlertKind::kTmpAccumulating, tmp.for_duration,
                         "info", kSectionInodes);
      a.component = tmp.component;
      a.threshold = static_cast<double>(tmp.max_bytes);
      const std::string comp = Comp(tmp.component);
      const std::string bytes = Sel(m::kComponentAllocatedBytes, {job_, comp});
      a.expr = bytes + " > " + std::to_string(tmp.max_bytes) + "\nor (\n  " +
               bytes + "\n  and " + Sel(m::kComponentFiles, {job_, comp}) +
               " > " + std::to_string(tmp.max_files) + "\n)";
      const std::string limits =
          Humanize1024(static_cast<double>(tmp.max_bytes)) + "B or " +
          std::to_string(tmp.max_files) + " files";
      a.summary = "Temporary files are accumulating.";
      a.description = CompWhere() +
                      " holds {{ $value | humanize1024 }}B of temporary files "
                      "(limits: " +
                      limits + "); failed operations leave them behind.";
      g.alerts.push_back(a);
    }

    const auto& ex = t_.exporter;
    {
      AlertRule a = Base(kExporterDown, AlertKind::kExporterDown,
                         ex.for_duration, "warning", kSectionMonitoring);
      a.expr = Sel(kUpMetric, {job_}) + " == 0";
      a.summary = "The StemeDB disk exporter is down.";
      a.description =
          "Prometheus cannot scrape the disk exporter {{ $labels.instance }} "
          "of job {{ $labels.job }}; disk alerts cannot fire.";
      a.inhibits = {kScanFailing, kScanStale};
      a.inhibit_equal = {"job", "instance"};
      g.alerts.push_back(a);
    }
    {
      // A job with no target at all (a typo in prometheus.yml, a lost
      // service discovery) has no up series to be 0.
      AlertRule a = Base(kExporterAbsent, AlertKind::kExporterAbsent,
                         ex.for_duration, "warning", kSectionMonitoring);
      a.expr = "absent(" + Sel(kUpMetric, {job_}) + ")";
      a.summary = "The StemeDB disk exporter is not scraped.";
      a.description =
          "Prometheus has no target in job {{ $labels.job }}; disk alerts "
          "cannot fire.";
      g.alerts.push_back(a);
    }
    {
      AlertRule a = Base(kScanFailing, AlertKind::kScanFailing, ex.for_duration,
                         "warning", kSectionMonitoring);
      a.expr = Sel(m::kScanSuccess, {job_}) + " == 0";
      a.summary = "A component scan is failing.";
      a.description = "The exporter cannot complete a scan of " + CompWhere() +
                      "; its sizes are stale.";
      g.alerts.push_back(a);
    }
    {
      AlertRule a = Base(kScanStale, AlertKind::kScanStale, ex.for_duration,
                         "warning", kSectionMonitoring);
      a.threshold = ex.scan_stale_after.seconds();
      a.expr = "time() - " + Sel(m::kLastScanSuccessTimestamp, {job_}) +
               "\n  > " + FormatSeconds(ex.scan_stale_after.value.count());
      a.summary = "Disk usage numbers are stale.";
      a.description = "The last successful scan of " + CompWhere() +
                      " was {{ $value | humanizeDuration }} ago, more than " +
                      ex.scan_stale_after.text + ".";
      g.alerts.push_back(a);
    }
    return g;
  }

 private:
  AlertRule Base(const char* name, AlertKind kind, const Duration& for_duration,
                 const char* severity, std::string_view section) const {
    AlertRule a;
    a.name = name;
    a.kind = kind;
    a.for_duration = for_duration;
    a.severity = severity;
    a.extra_labels = c_.alerting.labels;
    a.runbook_url = c_.alerting.runbook_url + "#" + GitHubAnchor(section);
    return a;
  }

  AlertRule DiskAvail(const char* name, const RatioThreshold& t,
                      const char* severity, std::vector<std::string> inhibits,
                      const std::vector<std::string>& equal) const {
    return FsRatioBelow(name, AlertKind::kDiskAvailBelow,
                        kSectionQuickDiagnosis, Ratio(fs_.avail, fs_.size),
                        "space available", "space available", t, severity,
                        std::move(inhibits), equal);
  }

  AlertRule Inodes(const char* name, const RatioThreshold& t,
                   const char* severity, std::vector<std::string> inhibits,
                   const std::vector<std::string>& equal) const {
    // files > 0 first: filesystems without an inode table report files=0,
    // which is not "0% free".
    return FsRatioBelow(name, AlertKind::kInodesFreeBelow, kSectionInodes,
                        Sel(fs_.files_free, {fs_.matchers}) + "\n    / (" +
                            Sel(fs_.files, {fs_.matchers}) + " > 0)",
                        "inodes available", "of its inodes free", t, severity,
                        std::move(inhibits), equal);
  }

  // A per-filesystem "ratio below threshold" alert on writable filesystems:
  // the shape shared by the disk-space and inode alerts.
  AlertRule FsRatioBelow(const char* name, AlertKind kind,
                         std::string_view section, const std::string& ratio,
                         const std::string& summary,
                         const std::string& described, const RatioThreshold& t,
                         const char* severity,
                         std::vector<std::string> inhibits,
                         const std::vector<std::string>& equal) const {
    AlertRule a = Base(name, kind, t.for_duration, severity, section);
    a.threshold = t.ratio;
    a.expr = "(\n  " + ratio + "\n) < " + FormatNumber(t.ratio) + "\nand " +
             Writable();
    a.summary = "Filesystem has less than " + FormatPercent(t.ratio) + "% " +
                summary + ".";
    a.description = FsWhere() + " has {{ $value | humanizePercentage }} " +
                    described + ", below the " + Str(severity) +
                    " threshold of " + FormatPercent(t.ratio) + "%.";
    a.inhibits = std::move(inhibits);
    if (!a.inhibits.empty()) a.inhibit_equal = equal;
    return a;
  }

  std::string Ratio(std::string_view num, std::string_view den) const {
    return Sel(num, {fs_.matchers}) + "\n    / " + Sel(den, {fs_.matchers});
  }

  // A read-only filesystem is not filling up: never alert on one.
  std::string Writable() const {
    return Sel(fs_.readonly, {fs_.matchers}) + " == 0";
  }

  static std::string Comp(const std::string& component) {
    return Matcher(m::kComponent, component);
  }
  static std::string FsWhere() {
    return "Filesystem {{ $labels.mountpoint }} ({{ $labels.device }}) on "
           "{{ $labels.instance }}";
  }
  static std::string CompWhere() {
    return "{{ $labels.component }} on {{ $labels.instance }}";
  }

  const Config& c_;
  const Thresholds& t_;
  FilesystemMetrics fs_;
  std::string job_;
};

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
  return {Str(m::kFilesystemAvailBytes), Str(m::kFilesystemSizeBytes),
          Str(m::kFilesystemFiles),      Str(m::kFilesystemFilesFree),
          Str(m::kFilesystemReadonly),   Matcher("job", config.alerting.job)};
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

std::optional<ConfigError> BuildRuleSet(const Config& config, RuleSet* out) {
  Builder builder(config);
  RuleSet rules;
  rules.groups.push_back(builder.Records());
  rules.groups.push_back(builder.Alerts());
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
        << a.description;
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
