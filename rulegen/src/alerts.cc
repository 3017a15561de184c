// The alert catalog: one entry per alert, each declaring everything about
// it in one place: expression, limits (thresholds), severity, annotations,
// runbook section, inhibitions, its promtool test scenario and its
// dashboard panel. To add an alert, write one entry and list it in
// Entries() (docs/rulegen.md, "Adding an alert").
#include <string>
#include <string_view>
#include <vector>

#include "stemedb/config/metric_names.h"
#include "stemedb/rulegen/format.h"
#include "stemedb/rulegen/rules.h"
#include "stemedb/rulegen/scenario.h"

namespace stemedb::rulegen {
namespace {

namespace m = ::stemedb::metrics;

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
constexpr std::string_view kSectionCommonCauses = "Common Causes";

// Alert names (the runbook's three keep the runbook's names).
constexpr const char* kDiskWarning = "StemeDBDiskSpaceWarning";
constexpr const char* kDiskCritical = "StemeDBDiskSpaceCritical";
constexpr const char* kDiskEmergency = "StemeDBDiskSpaceEmergency";
constexpr const char* kInodeWarning = "StemeDBInodeExhaustion";
constexpr const char* kInodeCritical = "StemeDBInodeExhaustionCritical";
constexpr const char* kWillFill = "StemeDBDiskWillFillSoon";
constexpr const char* kScanFailing = "StemeDBDiskScanFailing";
constexpr const char* kScanStale = "StemeDBDiskScanStale";
constexpr const char* kScanIncomplete = "StemeDBDiskScanIncomplete";
constexpr const char* kWillFillVerySoon = "StemeDBDiskWillFillVerySoon";

// The dashboard's selector, so a test can substitute the variables.
std::string Dash(std::string_view metric, std::string_view extra = "") {
  std::string inner = R"(job=~"$job",instance=~"$instance")";
  if (!extra.empty()) inner += "," + std::string(extra);
  return std::string(metric) + "{" + inner + "}";
}

constexpr const char* kInstanceComponentLegend = "{{instance}} {{component}}";

// Seconds until `metric` reaches 0 at the rate of the last `lookback`:
// only where it is falling, and only on a series at least `lookback` old
// (a new node's first minutes of noise predict nothing).
std::string TimeUntilZero(std::string_view metric, const Duration& lookback,
                          const std::vector<std::string>& matchers) {
  const std::string sel = Selector(metric, matchers);
  return "(\n  " + sel + "\n    / (-deriv(" + sel + "[" + lookback.text +
         "]) > 0)\n  and " + sel + " offset " + lookback.text + "\n)";
}

// The same at the net rate: what `metric` lost from `lookback` ago to now,
// so a trend held down by a dip that has since recovered (a burst that was
// deleted) predicts nothing: "and" this below the horizon.
std::string NetLossUntilZero(std::string_view metric, const Duration& lookback,
                             const std::vector<std::string>& matchers) {
  const std::string sel = Selector(metric, matchers);
  return "(\n  " + sel + "\n    / ((" + sel + " offset " + lookback.text +
         " - " + sel + ") / " + FormatSeconds(lookback.value.count()) +
         " > 0)\n)";
}

class Catalog {
 public:
  explicit Catalog(const Config& config)
      : c_(config),
        t_(config.thresholds),
        fs_(FilesystemMetricsFor(config)),
        job_(LabelMatch("job", config.alerting.job)) {}

  // The alerts of the enabled families in rule-file order, one line each.
  std::vector<AlertRule> Entries() const {
    const AlertFamilies& on = c_.alerts;
    std::vector<AlertRule> out;
    auto family = [&out](bool enabled, std::vector<AlertRule> alerts) {
      if (!enabled) return;
      for (AlertRule& a : alerts) out.push_back(std::move(a));
    };
    family(on.disk_space, {
                              DiskSpaceWarning(),    // Quick Diagnosis: df -h
                              DiskSpaceCritical(),   // Quick Diagnosis: df -h
                              DiskSpaceEmergency(),  // §1: disk above 98%
                          });
    family(on.inodes, {
                          InodeWarning(),   // §4: df -i
                          InodeCritical(),  // §4: df -i
                      });
    family(on.fill_prediction, {
                                   WillFillSoon(),        // Capacity Planning
                                   WillFillVerySoon(),    // §1 or §5, now
                                   InodesWillFillSoon(),  // §4
                               });
    family(on.filesystem_health, {
                                     FilesystemReadOnly(),     // no writes
                                     FilesystemStatFailing(),  // hung mount
                                 });
    family(on.wal, {
                       WalRetention(),          // §2
                       WalTooManySegments(),    // §2
                       WalFillingFilesystem(),  // §2: "WAL using most space?"
                   });
    family(on.backups, {
                           BackupTooOld(),    // §1 step 2 needs a backup
                           BackupsMissing(),  // §1 step 2
                           BackupsBeyondRetention(),     // Prevention 3
                           BackupsOlderThanRetention(),  // Prevention 3
                       });
    family(on.tmp, {TmpAccumulating()});        // §4
    family(on.cleanup, {CleanupNotRunning()});  // Common Cause 1
    family(on.exporter, {
                            ExporterDown(),        // Monitoring
                            ExporterAbsent(),      // Monitoring
                            ConfigReloadFailed(),  // Monitoring
                        });
    family(on.scan, {
                        ScanFailing(),     // Monitoring
                        ScanStale(),       // Monitoring
                        ScanIncomplete(),  // Monitoring
                    });
    return out;
  }

 private:
  // --- The entries. ---

  AlertRule DiskSpaceWarning() const {
    return DiskAvail(
        {kDiskWarning, "warning", t_.disk_space.warning, {}, "yellow"});
  }

  AlertRule DiskSpaceCritical() const {
    return DiskAvail({kDiskCritical,
                      "critical",
                      t_.disk_space.critical,
                      {kDiskWarning, kWillFill},
                      "orange"});
  }

  AlertRule DiskSpaceEmergency() const {
    const RatioThreshold& e = t_.disk_space.emergency_used;
    AlertRule a = Base(kDiskEmergency, "critical", kSectionEmergency,
                       e.for_duration, {{"ratio", e.ratio}});
    a.expr = "(\n  1 - " + Ratio(fs_.avail, fs_.size) + "\n) > " +
             FormatNumber(e.ratio) + "\nand " + Writable();
    a.summary = "Filesystem is more than " + FormatPercent(e.ratio) + "% full.";
    a.description = FsWhere() +
                    " is {{ $value | humanizePercentage }} full; writes are "
                    "about to fail.";
    a.description_query = ReclaimQuery(m::kReclaimableBytes);
    a.inhibits = {kDiskCritical, kDiskWarning, kWillFill};
    a.inhibit_equal = FsEqual();
    a.scenario = scenarios::DiskUsedAbove;
    a.scale = "used";
    a.scale_step = {"red", e.ratio};
    return a;
  }

  AlertRule InodeWarning() const {
    return Inodes({kInodeWarning, "warning", t_.inodes.warning, {}, "orange"});
  }

  AlertRule InodeCritical() const {
    return Inodes({kInodeCritical,
                   "critical",
                   t_.inodes.critical,
                   {kInodeWarning},
                   "red"});
  }

  AlertRule WillFillSoon() const {
    const FillPrediction& fp = t_.fill_prediction;
    AlertRule a = Base(kWillFill, "warning", kSectionCapacity, fp.for_duration,
                       {{"ratio", fp.avail_ratio_below},
                        {"horizon_seconds", fp.horizon.seconds()},
                        {"lookback_seconds", fp.lookback.seconds()}});
    // The record's expression inline: rule groups evaluate independently,
    // so an alert reading the record would lag it by an evaluation.
    a.expr = Predicted(fs_.avail, fp.lookback, fp.horizon) + "\nand (\n  " +
             Ratio(fs_.avail, fs_.size) + "\n) < " +
             FormatNumber(fp.avail_ratio_below) + "\nand " + Writable();
    a.summary =
        "Filesystem is predicted to fill within " + fp.horizon.text + ".";
    a.description = FsWhere() +
                    " will be full in {{ $value | humanizeDuration }} at the "
                    "rate of the last " +
                    fp.lookback.text + " (warning horizon " + fp.horizon.text +
                    "; below " + FormatPercent(fp.avail_ratio_below) +
                    "% available).";
    a.scenario = scenarios::TimeUntilFull;
    const std::string avail = Dash(m::kFilesystemAvailBytes);
    Panel p;
    p.type = "stat";
    p.title = "Estimated time until full";
    p.description =
        "Available bytes divided by the rate they fell over the last " +
        fp.lookback.text +
        " (the alert's lookback); no value when not falling or with less "
        "history than that. Red below the prediction horizon of " +
        fp.horizon.text + ".";
    p.unit = "s";
    p.base_color = "red";
    p.steps = {{"green", fp.horizon.seconds()}};
    p.targets = {{Dash(m::kRecordFilesystemTimeUntilFull),
                  "{{instance}} {{mountpoint}}"}};
    a.panels.push_back(p);
    return a;
  }

  // The page for a disk that fills fast: its own short window, so a burst
  // is seen within minutes, and a guard against what recurs daily (a
  // nightly backup written then shipped off-host): avail must be below its
  // lowest within an hour of this time the day before, by a margin.
  AlertRule WillFillVerySoon() const {
    const FillPrediction::Critical& fc = t_.fill_prediction.critical;
    AlertRule a =
        Base(kWillFillVerySoon, "critical", kSectionEmergency, fc.for_duration,
             {{"ratio", fc.avail_ratio_below},
              {"horizon_seconds", fc.horizon.seconds()},
              {"lookback_seconds", fc.lookback.seconds()},
              {"daily_low_margin", fc.daily_low_margin}});
    a.expr = Predicted(fs_.avail, fc.lookback, fc.horizon) + "\nand (\n  " +
             Ratio(fs_.avail, fs_.size) + "\n) < " +
             FormatNumber(fc.avail_ratio_below) + "\nand " + BelowDailyLow(fc) +
             "\nand " + Writable();
    a.summary = "Filesystem will be full within " + fc.horizon.text + ".";
    a.description = FsWhere() +
                    " will be full in {{ $value | humanizeDuration }} at the "
                    "rate of the last " +
                    fc.lookback.text + " (critical horizon " + fc.horizon.text +
                    "; below " + FormatPercent(fc.avail_ratio_below) +
                    "% available and lower than at this time yesterday, so "
                    "not a daily job's dip); free space now (§1) or expand "
                    "(§5).";
    a.inhibits = {kWillFill};
    a.inhibit_equal = FsEqual();
    a.scenario = scenarios::TimeUntilFullBelowDailyLow;
    return a;
  }

  // Full within `horizon` at the trend of the last `lookback` (the alert's
  // value) and at what was really lost over it.
  std::string Predicted(std::string_view metric, const Duration& lookback,
                        const Duration& horizon) const {
    const std::string h = FormatSeconds(horizon.value.count());
    return TimeUntilZero(metric, lookback, {fs_.matchers}) + " < " + h +
           "\nand " + NetLossUntilZero(metric, lookback, {fs_.matchers}) +
           " < " + h;
  }

  // Avail below its lowest from 25 h to 23 h ago by `daily_low_margin` of
  // the size; no result without a day of history.
  std::string BelowDailyLow(const FillPrediction::Critical& fc) const {
    const std::string avail = Selector(fs_.avail, {fs_.matchers});
    return "(\n  " + avail + "\n    < min_over_time(" + avail +
           "[2h] offset 23h)\n      - " + FormatNumber(fc.daily_low_margin) +
           " * " + Selector(fs_.size, {fs_.matchers}) + "\n)";
  }

  AlertRule InodesWillFillSoon() const {
    const FillPrediction& fp = t_.fill_prediction;
    AlertRule a = Base("StemeDBInodesWillFillSoon", "warning", kSectionInodes,
                       fp.for_duration,
                       {{"ratio", fp.avail_ratio_below},
                        {"horizon_seconds", fp.horizon.seconds()},
                        {"lookback_seconds", fp.lookback.seconds()}});
    a.expr = Predicted(fs_.files_free, fp.lookback, fp.horizon) +
             "\nand (\n  " + Selector(fs_.files_free, {fs_.matchers}) +
             "\n    / (" + Selector(fs_.files, {fs_.matchers}) + " > 0)\n) < " +
             FormatNumber(fp.avail_ratio_below) + "\nand " + Writable();
    a.summary = "Filesystem is predicted to run out of inodes within " +
                fp.horizon.text + ".";
    a.description = FsWhere() +
                    " will run out of inodes in {{ $value | humanizeDuration "
                    "}} at the rate of the last " +
                    fp.lookback.text + " (horizon " + fp.horizon.text +
                    "; below " + FormatPercent(fp.avail_ratio_below) +
                    "% of inodes free).";
    a.scenario = scenarios::InodesTimeUntilFull;
    return a;
  }

  // Every other disk alert skips a read-only filesystem (it is not filling
  // up), so this one must page: the database cannot write there.
  AlertRule FilesystemReadOnly() const {
    const FilesystemHealthThresholds& h = t_.filesystem_health;
    AlertRule a = Base("StemeDBFilesystemReadOnly", "critical",
                       kSectionQuickDiagnosis, h.readonly_for, {});
    a.expr = Selector(fs_.readonly, {fs_.matchers}) + " == 1";
    a.summary = "Filesystem is mounted read-only.";
    a.description = FsWhere() +
                    " is read-only (a remount after errors, such as ext4 "
                    "errors=remount-ro after a full disk): StemeDB cannot "
                    "write, and the space alerts skip it.";
    a.scenario = scenarios::FilesystemFlag;
    return a;
  }

  AlertRule FilesystemStatFailing() const {
    const FilesystemHealthThresholds& h = t_.filesystem_health;
    AlertRule a = Base("StemeDBFilesystemStatFailing", "warning",
                       kSectionMonitoring, h.stat_failing_for, {});
    a.expr = Selector(m::kFilesystemStatSuccess, {job_}) + " == 0";
    a.summary = "Filesystem does not answer statfs.";
    a.description = FsWhere() +
                    " did not answer statfs within the exporter's timeout "
                    "(a hung mount?); its space and inode numbers are "
                    "stale.";
    a.scenario = scenarios::FilesystemFlag;
    return a;
  }

  AlertRule WalRetention() const {
    const WalThresholds& wal = t_.wal;
    AlertRule a =
        Base("StemeDBWALRetentionExceeded", "warning", kSectionWal,
             wal.for_duration, {{"seconds", wal.retention.seconds()}});
    a.component = wal.component;
    a.expr = "time() - " +
             Selector(m::kOldestSegmentTimestamp, {job_, Comp(wal.component)}) +
             "\n  > " + FormatSeconds(wal.retention.value.count());
    a.summary = "WAL segments are kept beyond their " + wal.retention.text +
                " retention.";
    a.description = "The oldest segment in " + CompWhere() +
                    " is {{ $value | humanizeDuration }} old, beyond the "
                    "retention of " +
                    wal.retention.text + ".";
    a.scenario = scenarios::OldestSegmentAge;
    a.panels.push_back(LinePanel(
        "Oldest WAL segment age",
        "Age of the oldest WAL segment against the retention of " +
            wal.retention.text + ".",
        "s", wal.retention.seconds(),
        "time() - " + Dash(m::kOldestSegmentTimestamp, Comp(wal.component))));
    return a;
  }

  // A WAL draining a backlog after cleanup resumed (fewer segments than a
  // lookback ago, by a share) is left to drain: nothing is left to clean,
  // and the retention alert says whether cleanup runs.
  AlertRule WalTooManySegments() const {
    const WalThresholds& wal = t_.wal;
    const double max = static_cast<double>(wal.max_segments);
    AlertRule a = Base(
        "StemeDBWALTooManySegments", "warning", kSectionWal, wal.for_duration,
        {{"count", max},
         {"shrinking_lookback_seconds", wal.shrinking_lookback.seconds()},
         {"shrinking_ratio", wal.shrinking_ratio}});
    a.component = wal.component;
    const std::string segments =
        Selector(m::kSegments, {job_, Comp(wal.component)});
    a.expr = segments + " > " + std::to_string(wal.max_segments) +
             "\nunless on (job, instance, component)\n  " + segments +
             "\n    < " + FormatNumber(DecimalComplement(wal.shrinking_ratio)) +
             " * " + segments + " offset " + wal.shrinking_lookback.text;
    a.summary = "WAL holds more than " + std::to_string(wal.max_segments) +
                " segments.";
    a.description = CompWhere() +
                    " holds {{ $value | printf \"%.0f\" }} segments, more "
                    "than " +
                    std::to_string(wal.max_segments) +
                    ", and is not draining (not " +
                    FormatPercent(wal.shrinking_ratio) + "% fewer than " +
                    wal.shrinking_lookback.text + " ago).";
    a.scenario = scenarios::SegmentCountAbove;
    a.panels.push_back(
        LinePanel("WAL segments",
                  "Segments in the WAL against their maximum of " +
                      std::to_string(wal.max_segments) +
                      " (StemeDBWALTooManySegments, unless the count fell "
                      "by " +
                      FormatPercent(wal.shrinking_ratio) + "% over " +
                      wal.shrinking_lookback.text + ").",
                  "short", max, Dash(m::kSegments, Comp(wal.component))));
    return a;
  }

  AlertRule WalFillingFilesystem() const {
    const WalThresholds& wal = t_.wal;
    const double share = wal.max_filesystem_share;
    AlertRule a = Base("StemeDBWALFillingFilesystem", "warning", kSectionWal,
                       wal.for_duration, {{"ratio", share}});
    a.component = wal.component;
    const std::string comp = Comp(wal.component);
    a.expr =
        "(\n  " + Selector(m::kComponentAllocatedBytes, {job_, comp}) +
        "\n    * on (job, instance, component) group_left (mountpoint, "
        "device)\n      " +
        Selector(m::kComponentFilesystemInfo, {job_, comp}) +
        "\n)\n  / on (job, instance, mountpoint, device) group_left\n    " +
        Selector(m::kFilesystemSizeBytes, {job_}) + "\n  > " +
        FormatNumber(share) + "\nand on (job, instance, mountpoint, device)\n" +
        "  count by (job, instance, mountpoint, device) (\n    " +
        Selector(m::kComponentFilesystemInfo,
                 {job_, std::string(m::kComponent) +
                            "!=" + PromQuote(wal.component)}) +
        "\n  )";
    a.summary =
        "WAL takes more than " + FormatPercent(share) + "% of its filesystem.";
    a.description = CompWhere() +
                    " takes {{ $value | humanizePercentage }} of filesystem "
                    "{{ $labels.mountpoint }}, more than " +
                    FormatPercent(share) +
                    "%, crowding the components it shares it with (a "
                    "volume of its own is left to the space alerts).";
    a.scenario = scenarios::FilesystemShareAbove;
    return a;
  }

  AlertRule BackupTooOld() const {
    const BackupThresholds& bk = t_.backups;
    AlertRule a = Base("StemeDBBackupTooOld", "warning", kSectionEmergency,
                       bk.for_duration, {{"seconds", bk.max_age.seconds()}});
    a.component = bk.component;
    const std::string comp = Comp(bk.component);
    a.expr = "time() - " + Selector(m::kNewestSegmentTimestamp, {job_, comp}) +
             "\n  > " + FormatSeconds(bk.max_age.value.count());
    a.summary = "The newest backup is older than " + bk.max_age.text + ".";
    a.description = "The newest backup in " + CompWhere() +
                    " is {{ $value | humanizeDuration }} old; emergency "
                    "cleanup needs a recent backup.";
    a.scenario = scenarios::NewestSegmentAge;
    Panel p;
    p.type = "stat";
    p.title = "Backup age";
    p.description = "Newest backup (red after " + bk.max_age.text +
                    ") and oldest backup (yellow after " + bk.retention.text +
                    ").";
    p.unit = "s";
    p.width = 4;
    p.steps = {{"red", bk.max_age.seconds()}};
    p.targets = {{"time() - " + Dash(m::kNewestSegmentTimestamp, comp),
                  "newest {{instance}}"},
                 {"time() - " + Dash(m::kOldestSegmentTimestamp, comp),
                  "oldest {{instance}}"}};
    p.target_steps["B"] = {{"yellow", bk.retention.seconds()}};
    a.panels.push_back(p);
    return a;
  }

  // No backup seen for the backup age limit: none held now and none in
  // Prometheus' history of that long (a backup shipped off-host and
  // removed still counts), on a component Prometheus has watched that
  // long (a new node has not had its first backup yet). Prometheus' own
  // history, so an exporter restart does not blind it.
  AlertRule BackupsMissing() const {
    const BackupThresholds& bk = t_.backups;
    AlertRule a = Base("StemeDBBackupsMissing", "warning", kSectionEmergency,
                       bk.for_duration, {{"seconds", bk.max_age.seconds()}});
    a.component = bk.component;
    const std::string segments =
        Selector(m::kSegments, {job_, Comp(bk.component)});
    a.expr = "max_over_time(" + segments + "[" + bk.max_age.text +
             "]) == 0\nand on (job, instance, component)\n  " +
             "count_over_time(" + segments + "[1h] offset " + bk.max_age.text +
             ")";
    a.summary = "No backup exists.";
    a.description = CompWhere() + " has held no backup for the last " +
                    bk.max_age.text +
                    ", not even one shipped off-host since: a daily backup "
                    "was missed.";
    a.scenario = scenarios::NoSegmentsOnOldNode;
    return a;
  }

  AlertRule BackupsBeyondRetention() const {
    const BackupThresholds& bk = t_.backups;
    const double count = static_cast<double>(bk.max_count);
    AlertRule a =
        Base("StemeDBBackupsBeyondRetention", "info", kSectionConfigChanges,
             bk.for_duration, {{"count", count}});
    a.component = bk.component;
    const std::string comp = Comp(bk.component);
    a.expr = Selector(m::kSegments, {job_, comp}) + " > " +
             std::to_string(bk.max_count);
    a.summary = "More backups are kept than the retention allows.";
    a.description = CompWhere() +
                    " holds {{ $value | printf \"%.0f\" }} backups, more "
                    "than the retention of " +
                    std::to_string(bk.max_count) + ".";
    a.scenario = scenarios::SegmentCountAbove;
    Panel p;
    p.type = "stat";
    p.title = "Backups";
    p.description =
        "Backup sets kept; red when there is none, yellow beyond the "
        "retention of " +
        std::to_string(bk.max_count) + ".";
    p.width = 4;
    p.base_color = "red";
    p.steps = {{"green", 1}, {"yellow", count + 1}};
    p.targets = {{Dash(m::kSegments, comp), "{{instance}}"}};
    a.panels.push_back(p);
    return a;
  }

  AlertRule BackupsOlderThanRetention() const {
    const BackupThresholds& bk = t_.backups;
    AlertRule a =
        Base("StemeDBBackupsOlderThanRetention", "info", kSectionConfigChanges,
             bk.for_duration, {{"seconds", bk.retention.seconds()}});
    a.component = bk.component;
    a.expr = "time() - " +
             Selector(m::kOldestSegmentTimestamp, {job_, Comp(bk.component)}) +
             "\n  > " + FormatSeconds(bk.retention.value.count());
    a.summary = "Backups are kept longer than the retention.";
    a.description = "The oldest backup in " + CompWhere() +
                    " is {{ $value | humanizeDuration }} old, beyond the "
                    "retention of " +
                    bk.retention.text + ".";
    a.scenario = scenarios::OldestSegmentAge;
    return a;
  }

  AlertRule TmpAccumulating() const {
    const TmpThresholds& tmp = t_.tmp;
    AlertRule a = Base("StemeDBTmpFilesAccumulating", "info", kSectionInodes,
                       tmp.for_duration,
                       {{"max_bytes", static_cast<double>(tmp.max_bytes)},
                        {"max_files", static_cast<double>(tmp.max_files)}});
    a.component = tmp.component;
    const std::string comp = Comp(tmp.component);
    // Each limit its own branch, labelled, so the description states the
    // one that was crossed (both: two alerts).
    const std::string bytes_limit =
        Humanize1024(static_cast<double>(tmp.max_bytes)) + "B";
    const std::string files_limit = std::to_string(tmp.max_files) + " files";
    auto branch = [&](std::string_view metric, int64_t max,
                      const std::string& limit) {
      return "label_replace(\n  " + Selector(metric, {job_, comp}) +
             "\n    / " + std::to_string(max) + " > 1,\n  \"limit\", " +
             PromQuote(limit) + ", \"\", \"\"\n)";
    };
    a.expr = branch(m::kComponentAllocatedBytes, tmp.max_bytes, bytes_limit) +
             "\nor\n" + branch(m::kComponentFiles, tmp.max_files, files_limit);
    a.summary = "Temporary files are accumulating.";
    a.description = CompWhere() +
                    " is at {{ $value | humanizePercentage }} of its limit of "
                    "{{ $labels.limit }}; failed operations leave temporary "
                    "files behind.";
    a.scenario = scenarios::TmpAccumulating;
    return a;
  }

  // Runbook Common Cause 1: what the cleanup steps would free has piled up
  // on a filesystem for a long time, so cleanup is not running.
  AlertRule CleanupNotRunning() const {
    const ReclaimableThresholds& r = t_.reclaimable;
    AlertRule a = Base("StemeDBCleanupNotRunning", "info", kSectionCommonCauses,
                       r.for_duration, {{"ratio", r.max_filesystem_share}});
    a.expr = ReclaimableShare(Selector(m::kReclaimableBytes, {job_}),
                              Selector(m::kCleanupRuleInfo, {job_}),
                              Selector(m::kFilesystemSizeBytes, {job_})) +
             "\n  > " + FormatNumber(r.max_filesystem_share);
    a.summary = "Cleanup is not running: reclaimable data is piling up.";
    a.description =
        "The runbook's cleanup steps would free {{ $value | "
        "humanizePercentage }} of filesystem {{ $labels.mountpoint "
        "}} on {{ $labels.instance }}, more than " +
        FormatPercent(r.max_filesystem_share) + "% for " + r.for_duration.text +
        "; WAL, backup or log cleanup is not running.";
    a.description_query = ReclaimQuery(m::kReclaimableBytes);
    a.scenario = scenarios::ReclaimablePiling;
    Panel bytes;
    bytes.title = "Reclaimable space per cleanup step";
    bytes.description =
        "What each cleanup rule (runbook step) would free now, stacked: "
        "entries matching the rule and older than its age, in allocated "
        "bytes as du counts. The legend names the rule; its runbook section "
        "is in stemedb_disk_cleanup_rule_info.";
    bytes.unit = "bytes";
    bytes.width = 16;
    bytes.stacked = true;
    bytes.threshold_style = "off";
    bytes.targets = {{Dash(m::kReclaimableBytes), "{{instance}} {{rule}}"}};
    a.panels.push_back(bytes);
    Panel share;
    share.title = "Reclaimable share of filesystem";
    share.description =
        "What the cleanup rules would free on each filesystem, as a share of "
        "it; above " +
        FormatPercent(r.max_filesystem_share) + "% for " + r.for_duration.text +
        " StemeDBCleanupNotRunning fires.";
    share.unit = "percentunit";
    share.steps = {{"red", r.max_filesystem_share}};
    share.targets = {
        {ReclaimableShare(Dash(m::kReclaimableBytes), Dash(m::kCleanupRuleInfo),
                          Dash(m::kFilesystemSizeBytes)),
         "{{instance}} {{mountpoint}}"}};
    a.panels.push_back(share);
    return a;
  }

  AlertRule ExporterDown() const {
    AlertRule a = Base("StemeDBDiskExporterDown", "warning", kSectionMonitoring,
                       t_.exporter.for_duration, {});
    a.expr = Selector(kUpMetric, {job_}) + " == 0";
    a.summary = "The StemeDB disk exporter is down.";
    a.description =
        "Prometheus cannot scrape the disk exporter {{ $labels.instance }} "
        "of job {{ $labels.job }}; disk alerts cannot fire.";
    a.inhibits = {kScanFailing, kScanStale};
    a.inhibit_equal = {"job", "instance"};
    a.scenario = scenarios::ExporterDown;
    return a;
  }

  // A job with no target at all (a typo in prometheus.yml, a lost service
  // discovery) has no up series to be 0.
  AlertRule ExporterAbsent() const {
    AlertRule a = Base("StemeDBDiskExporterAbsent", "warning",
                       kSectionMonitoring, t_.exporter.for_duration, {});
    a.expr = "absent(" + Selector(kUpMetric, {job_}) + ")";
    a.summary = "The StemeDB disk exporter is not scraped.";
    a.description =
        "Prometheus has no target in job {{ $labels.job }}; disk alerts "
        "cannot fire.";
    a.scenario = scenarios::ExporterAbsent;
    return a;
  }

  AlertRule ConfigReloadFailed() const {
    AlertRule a = Base("StemeDBDiskConfigReloadFailed", "warning",
                       kSectionMonitoring, t_.exporter.for_duration, {});
    a.expr = Selector(m::kConfigReloadSuccess, {job_}) + " == 0";
    a.summary = "The disk exporter's last configuration reload failed.";
    a.description =
        "The disk exporter {{ $labels.instance }} refused its last "
        "configuration reload and runs the previous one; its log says why.";
    a.scenario = scenarios::ReloadFailed;
    return a;
  }

  AlertRule ScanFailing() const {
    AlertRule a = Base(kScanFailing, "warning", kSectionMonitoring,
                       t_.exporter.for_duration, {});
    a.expr = Selector(m::kScanSuccess, {job_}) + " == 0";
    a.summary = "A component scan is failing.";
    a.description = "The exporter cannot complete a scan of " + CompWhere() +
                    "; its sizes are stale.";
    a.scenario = scenarios::ScanFailing;
    Panel p;
    p.type = "stat";
    p.title = "Exporter scan health";
    p.description =
        "Last scan per component, and whether Prometheus reaches the "
        "exporter (up).";
    p.unit = "none";
    p.base_color = "red";
    p.steps = {{"green", 1}};
    p.targets = {{Dash(m::kScanSuccess), kInstanceComponentLegend},
                 {Dash(kUpMetric), "up {{instance}}"}};
    a.panels.push_back(p);
    return a;
  }

  AlertRule ScanStale() const {
    const ExporterThresholds& ex = t_.exporter;
    AlertRule a =
        Base(kScanStale, "warning", kSectionMonitoring, ex.for_duration,
             {{"seconds", ex.scan_stale_after.seconds()}});
    a.expr = "time() - " + Selector(m::kLastScanSuccessTimestamp, {job_}) +
             "\n  > " + FormatSeconds(ex.scan_stale_after.value.count());
    a.summary = "Disk usage numbers are stale.";
    a.description = "The last successful scan of " + CompWhere() +
                    " was {{ $value | humanizeDuration }} ago, more than " +
                    ex.scan_stale_after.text + ".";
    a.scenario = scenarios::ScanStale;
    a.panels.push_back(
        LinePanel("Time since last successful scan",
                  "Numbers older than " + ex.scan_stale_after.text +
                      " are stale (StemeDBDiskScanStale).",
                  "s", ex.scan_stale_after.seconds(),
                  "time() - " + Dash(m::kLastScanSuccessTimestamp)));
    return a;
  }

  // A walk that could not account for part of its tree (an unreadable
  // directory) still succeeds; its sizes are a lower bound.
  AlertRule ScanIncomplete() const {
    AlertRule a = Base(kScanIncomplete, "warning", kSectionMonitoring,
                       t_.exporter.for_duration, {});
    a.expr = Selector(m::kScanUnaccountedEntries, {job_}) + " > 0";
    a.summary = "A component's numbers are incomplete.";
    a.description =
        "The exporter could not account for {{ $value | printf "
        "\"%.0f\" }} entries of " +
        CompWhere() +
        " (reason {{ $labels.reason }}); its sizes are a lower "
        "bound.";
    a.scenario = scenarios::Unaccounted;
    return a;
  }

  // --- Shapes shared by several entries. ---

  AlertRule Base(const char* name, const char* severity,
                 std::string_view section, const Duration& for_duration,
                 std::map<std::string, double> limits) const {
    AlertRule a;
    a.name = name;
    a.severity = severity;
    a.for_duration = for_duration;
    a.limits = std::move(limits);
    a.extra_labels = c_.alerting.labels;
    a.runbook_url = c_.alerting.runbook_url + "#" + GitHubAnchor(section);
    return a;
  }

  // Per filesystem: a critical silences its warning on the same one.
  static std::vector<std::string> FsEqual() {
    return {"job", "instance", "mountpoint", "device"};
  }

  // What the disk-space and inode alerts share: name, severity, threshold,
  // the warning their critical twin silences, their colour on the scale.
  struct FsLevel {
    const char* name;
    const char* severity;
    const RatioThreshold& threshold;
    std::vector<std::string> inhibits;
    const char* color;
  };

  AlertRule DiskAvail(FsLevel level) const {
    AlertRule a =
        Base(level.name, level.severity, kSectionQuickDiagnosis,
             level.threshold.for_duration, {{"ratio", level.threshold.ratio}});
    FsRatioBelow(Ratio(fs_.avail, fs_.size), "space available",
                 "space available", &a);
    a.inhibits = std::move(level.inhibits);
    if (!a.inhibits.empty()) a.inhibit_equal = FsEqual();
    a.description_query = ReclaimQuery(m::kReclaimableBytes);
    a.scenario = scenarios::DiskAvailBelow;
    a.scale = "used";
    a.scale_step = {level.color, DecimalComplement(level.threshold.ratio)};
    return a;
  }

  // files > 0 first: filesystems without an inode table report files=0,
  // which is not "0% free".
  AlertRule Inodes(FsLevel level) const {
    AlertRule a =
        Base(level.name, level.severity, kSectionInodes,
             level.threshold.for_duration, {{"ratio", level.threshold.ratio}});
    FsRatioBelow(Selector(fs_.files_free, {fs_.matchers}) + "\n    / (" +
                     Selector(fs_.files, {fs_.matchers}) + " > 0)",
                 "inodes available", "of its inodes free", &a);
    a.inhibits = std::move(level.inhibits);
    if (!a.inhibits.empty()) a.inhibit_equal = FsEqual();
    a.description_query = ReclaimQuery(m::kReclaimableEntries);
    a.scenario = scenarios::InodesFreeBelow;
    a.scale = "inodes_used";
    a.scale_step = {level.color, DecimalComplement(level.threshold.ratio)};
    return a;
  }

  // A per-filesystem "ratio below the alert's limit" on writable
  // filesystems: expression, summary and description of `a`.
  void FsRatioBelow(const std::string& ratio, const std::string& summary,
                    const std::string& described, AlertRule* a) const {
    const double limit = a->Limit("ratio");
    a->expr = "(\n  " + ratio + "\n) < " + FormatNumber(limit) + "\nand " +
              Writable();
    a->summary = "Filesystem has less than " + FormatPercent(limit) + "% " +
                 summary + ".";
    a->description = FsWhere() + " has {{ $value | humanizePercentage }} " +
                     described + ", below the " + a->severity +
                     " threshold of " + FormatPercent(limit) + "%.";
  }

  // A time series of one query per component with the alert's limit drawn.
  static Panel LinePanel(std::string title, std::string description,
                         std::string unit, double limit, std::string expr) {
    Panel p;
    p.title = std::move(title);
    p.description = std::move(description);
    p.unit = std::move(unit);
    p.steps = {{"red", limit}};
    p.targets = {{std::move(expr), kInstanceComponentLegend}};
    return p;
  }

  // Reclaimable bytes summed per filesystem, over the filesystem's size.
  static std::string ReclaimableShare(const std::string& bytes,
                                      const std::string& info,
                                      const std::string& size) {
    return "sum by (job, instance, mountpoint, device) (\n  " + bytes +
           "\n    * on (job, instance, rule) group_left (mountpoint, device)\n"
           "      " +
           info + "\n)\n  / on (job, instance, mountpoint, device)\n    " +
           size;
  }

  // Template text saying what the cleanup rules would free on the alert's
  // filesystem, per runbook section, largest first: " §1 would free 41GiB:
  // wal_beyond_retention 38GiB, backups_older_than_30d 3GiB." Bytes are
  // humanized; entries (for inodes) printed whole. Nothing when the
  // exporter reports no reclaimable series (older exporter, no rules) or
  // every rule is at 0. Exporter mode only: node_exporter's series carry
  // another job and instance than the exporter's.
  std::string ReclaimQuery(std::string_view metric) const {
    if (c_.alerting.source != MetricsSource::kExporter) return "";
    const bool bytes = metric == m::kReclaimableBytes;
    const std::string value =
        bytes ? " | humanize1024 }}B" : " | printf \"%.0f\" }}";
    const std::string on_fs = std::string(m::kCleanupRuleInfo) +
                              "{job=%q,instance=%q,mountpoint=%q,device=%q";
    const std::string args =
        " $labels.job $labels.instance $labels.job $labels.instance "
        "$labels.mountpoint $labels.device";
    const std::string per_section = "sort_desc(sum by (section) (" +
                                    std::string(metric) +
                                    "{job=%q,instance=%q} * on (job, instance, "
                                    "rule) group_left (section) " +
                                    on_fs + "}) > 0)";
    const std::string per_rule = "sort_desc(" + std::string(metric) +
                                 "{job=%q,instance=%q} * on (job, instance, "
                                 "rule) " +
                                 on_fs + ",section=%q} > 0)";
    return "{{ range $s := query (printf `" + per_section + "`" + args +
           ") }} §{{ $s.Labels.section }} would free {{ $s.Value" + value +
           (bytes ? "" : " inodes") + ":{{ range $i, $r := query (printf `" +
           per_rule + "`" + args +
           " $s.Labels.section) }}{{ if $i }},{{ end }} {{ $r.Labels.rule }} "
           "{{ $r.Value" +
           value + "{{ end }}.{{ end }}";
  }

  std::string Ratio(std::string_view num, std::string_view den) const {
    return Selector(num, {fs_.matchers}) + "\n    / " +
           Selector(den, {fs_.matchers});
  }

  // A read-only filesystem is not filling up: never alert on one.
  std::string Writable() const {
    return Selector(fs_.readonly, {fs_.matchers}) + " == 0";
  }

  static std::string Comp(const std::string& component) {
    return LabelMatch(m::kComponent, component);
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

}  // namespace

std::vector<AlertRule> BuildAlerts(const Config& config) {
  return Catalog(config).Entries();
}

RuleGroup BuildRecordingRules(const Config& config) {
  const std::string job = LabelMatch("job", config.alerting.job);
  const std::string avail = Selector(m::kFilesystemAvailBytes, {job});
  const std::string size = Selector(m::kFilesystemSizeBytes, {job});
  RuleGroup g;
  g.name = config.alerting.group_name + ".rules";
  g.records.push_back(
      {std::string(m::kRecordFilesystemAvailRatio), avail + "\n  / " + size});
  g.records.push_back({std::string(m::kRecordFilesystemUsedRatio),
                       "1 - " + avail + "\n  / " + size});
  g.records.push_back({std::string(m::kRecordFilesystemInodesFreeRatio),
                       Selector(m::kFilesystemFilesFree, {job}) + "\n  / (" +
                           Selector(m::kFilesystemFiles, {job}) + " > 0)"});
  g.records.push_back(
      {std::string(m::kRecordComponentGrowthRate),
       "deriv(" + Selector(m::kComponentAllocatedBytes, {job}) + "[1h])"});
  // Time until full per filesystem, read by the fill alerts and the
  // dashboard; absent while not filling or without a lookback of history.
  const FilesystemMetrics fs = FilesystemMetricsFor(config);
  const Duration& lookback = config.thresholds.fill_prediction.lookback;
  g.records.push_back({std::string(m::kRecordFilesystemTimeUntilFull),
                       TimeUntilZero(fs.avail, lookback, {fs.matchers})});
  g.records.push_back({std::string(m::kRecordFilesystemInodesTimeUntilFull),
                       TimeUntilZero(fs.files_free, lookback, {fs.matchers}) +
                           "\nand " + Selector(fs.files, {fs.matchers}) +
                           " > 0"});
  return g;
}

}  // namespace stemedb::rulegen
