#include "stemedb/collector/collector.h"

#include <string_view>
#include <utility>

#include "prometheus/text_serializer.h"
#include "stemedb/base/valid_utf8.h"
#include "stemedb/config/metric_names.h"

namespace stemedb::exporter {
namespace {

namespace m = stemedb::metrics;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr std::string_view kCached =
    " Cached: value as of the last complete background scan, see "
    "stemedb_disk_last_scan_success_timestamp_seconds.";
constexpr std::string_view kCachedFs =
    " Cached: value as of the last statfs, refreshed in the background.";

MetricFamily Family(std::string_view name, std::string_view help,
                    std::string_view suffix, MetricType type) {
  MetricFamily f;
  f.name = std::string(name);
  f.help = std::string(help) + std::string(suffix);
  f.type = type;
  return f;
}

void Add(MetricFamily* f, std::vector<ClientMetric::Label> labels,
         double value) {
  ClientMetric cm;
  cm.label = std::move(labels);
  if (f->type == MetricType::Counter) {
    cm.counter.value = value;
  } else {
    cm.gauge.value = value;
  }
  f->metric.push_back(std::move(cm));
}

std::vector<ClientMetric::Label> ComponentLabel(const ComponentState& c) {
  return {{std::string(m::kComponent), c.name}};
}

std::vector<ClientMetric::Label> FsLabels(const measure::Mount& mount) {
  return {{std::string(m::kDevice), mount.device},
          {std::string(m::kFstype), mount.fstype},
          {std::string(m::kMountpoint), mount.mountpoint}};
}

// Appends the family only when it has series: an empty family would print a
// HELP/TYPE pair with nothing under it.
void Push(std::vector<MetricFamily>* out, MetricFamily f) {
  if (!f.metric.empty()) out->push_back(std::move(f));
}

// A gauge whose value is one counter of a struct: the byte and count
// metrics differ only in name, help and field, so they are data.
template <typename T>
struct FieldGauge {
  std::string_view name;
  std::string_view help;
  uint64_t T::*field;
};

constexpr FieldGauge<measure::ComponentStats> kComponentGauges[] = {
    {m::kComponentAllocatedBytes,
     "Bytes allocated on disk by the component's tree (st_blocks*512, hard "
     "links once; what du reports).",
     &measure::ComponentStats::allocated_bytes},
    {m::kComponentApparentBytes,
     "Apparent size in bytes of the component's tree (st_size; what du -b "
     "reports).",
     &measure::ComponentStats::apparent_bytes},
    {m::kComponentFiles, "Non-directory entries in the component's tree.",
     &measure::ComponentStats::files},
    {m::kComponentDirectories,
     "Directories in the component's tree, itself included.",
     &measure::ComponentStats::directories},
};

constexpr FieldGauge<measure::SegmentStats> kSegmentGauges[] = {
    {m::kSegments,
     "Entries directly in the component directory matching its segment "
     "pattern (WAL segments, backup sets).",
     &measure::SegmentStats::count},
    {m::kSegmentAllocatedBytes, "Bytes allocated by the component's segments.",
     &measure::SegmentStats::allocated_bytes},
};

constexpr FieldGauge<measure::Capacity> kCapacityGauges[] = {
    {m::kFilesystemSizeBytes, "Filesystem size in bytes.",
     &measure::Capacity::size_bytes},
    {m::kFilesystemFreeBytes,
     "Filesystem free space in bytes, including the space reserved for root.",
     &measure::Capacity::free_bytes},
    {m::kFilesystemAvailBytes,
     "Filesystem space available to non-root users in bytes (what alerts "
     "use).",
     &measure::Capacity::avail_bytes},
    {m::kFilesystemFiles,
     "Filesystem total inodes; 0 where the filesystem has no fixed inode "
     "table.",
     &measure::Capacity::files},
    {m::kFilesystemFilesFree, "Filesystem free inodes.",
     &measure::Capacity::files_free},
};

void AddComponentFamilies(const Snapshot& s, std::vector<MetricFamily>* out) {
  auto present = Family(m::kComponentPresent,
                        "1 if the component directory exists, 0 if not.",
                        kCached, MetricType::Gauge);
  for (const auto& c : s.components) {
    if (c.have_stats) Add(&present, ComponentLabel(c), c.stats.present ? 1 : 0);
  }
  Push(out, std::move(present));
  for (const auto& g : kComponentGauges) {
    auto f = Family(g.name, g.help, kCached, MetricType::Gauge);
    for (const auto& c : s.components) {
      if (!c.have_stats) continue;
      Add(&f, ComponentLabel(c), static_cast<double>(c.stats.*g.field));
    }
    Push(out, std::move(f));
  }
  for (const auto& g : kSegmentGauges) {
    auto f = Family(g.name, g.help, kCached, MetricType::Gauge);
    for (const auto& c : s.components) {
      if (!c.have_stats || !c.has_segments) continue;
      Add(&f, ComponentLabel(c),
          static_cast<double>(c.stats.segments.*g.field));
    }
    Push(out, std::move(f));
  }
  auto oldest = Family(m::kOldestSegmentTimestamp,
                       "Modification time of the oldest segment, unix "
                       "seconds; absent while there is no segment.",
                       kCached, MetricType::Gauge);
  auto newest = Family(m::kNewestSegmentTimestamp,
                       "Modification time of the newest segment, unix "
                       "seconds; absent while there is no segment.",
                       kCached, MetricType::Gauge);
  for (const auto& c : s.components) {
    if (!c.have_stats || !c.has_segments || c.stats.segments.count == 0) {
      continue;
    }
    Add(&oldest, ComponentLabel(c), c.stats.segments.oldest_mtime);
    Add(&newest, ComponentLabel(c), c.stats.segments.newest_mtime);
  }
  Push(out, std::move(oldest));
  Push(out, std::move(newest));
}

void AddFilesystemFamilies(const Snapshot& s, std::vector<MetricFamily>* out) {
  for (const auto& g : kCapacityGauges) {
    auto f = Family(g.name, g.help, kCachedFs, MetricType::Gauge);
    for (const auto& fs : s.filesystems) {
      if (!fs.have_capacity) continue;
      Add(&f, FsLabels(fs.mount), static_cast<double>(fs.capacity.*g.field));
    }
    Push(out, std::move(f));
  }
  auto ro = Family(m::kFilesystemReadonly,
                   "1 if the filesystem itself is read-only (not merely the "
                   "exporter's view of it).",
                   kCachedFs, MetricType::Gauge);
  auto ok = Family(m::kFilesystemStatSuccess,
                   "1 if the last statfs of the filesystem answered within "
                   "the timeout; 0 if it failed or hung (values are older).",
                   "", MetricType::Gauge);
  for (const auto& fs : s.filesystems) {
    auto l = FsLabels(fs.mount);
    Add(&ok, l, fs.stat_success ? 1 : 0);
    // The filesystem's own flag: the exporter often sees a writable disk
    // through a read-only mount, and that disk must still alert.
    if (fs.have_capacity) Add(&ro, l, fs.mount.readonly ? 1 : 0);
  }
  Push(out, std::move(ro));
  Push(out, std::move(ok));
  auto info = Family(m::kComponentFilesystemInfo,
                     "Joins a component to the filesystem holding it; "
                     "always 1.",
                     "", MetricType::Gauge);
  for (const auto& link : s.links) {
    Add(&info,
        {{std::string(m::kComponent), link.component},
         {std::string(m::kDevice), link.device},
         {std::string(m::kMountpoint), link.mountpoint}},
        1);
  }
  Push(out, std::move(info));
}

void AddWatchFamilies(const Snapshot& s, std::vector<MetricFamily>* out) {
  auto mode = Family(m::kScanMode,
                     "1 for how the component's numbers are kept now: watch "
                     "(inotify, fresh within seconds) or walk (a full walk "
                     "every scan.interval); 0 for the other.",
                     "", MetricType::Gauge);
  auto reconciles = Family(m::kWatchReconcilesTotal,
                           "Reconcile walks in watch mode whose totals were "
                           "compared with the watched ones.",
                           "", MetricType::Counter);
  auto diff_bytes = Family(m::kWatchReconcileDifferenceBytes,
                           "Absolute difference in allocated bytes found by "
                           "the last reconcile walk (0 before one).",
                           "", MetricType::Gauge);
  auto diff_entries = Family(m::kWatchReconcileDifferenceEntries,
                             "Absolute difference in files plus directories "
                             "found by the last reconcile walk.",
                             "", MetricType::Gauge);
  auto rewalks = Family(m::kWatchRewalksTotal,
                        "Full walks in watch mode forced by a kernel queue "
                        "overflow, the inotify watch limit (the component "
                        "then falls back to walks), a reconcile "
                        "difference (error) or the component path naming "
                        "another directory (replaced).",
                        "", MetricType::Counter);
  auto reads = Family(m::kWatchDirectoryReadsTotal,
                      "Directories read again in watch mode after events: "
                      "whole (every entry stat'ed) or named (only the "
                      "entries the events named).",
                      "", MetricType::Counter);
  for (const auto& c : s.components) {
    if (!c.attempted) continue;  // like every component series
    for (const bool watch : {true, false}) {
      Add(&mode,
          {{std::string(m::kComponent), c.name},
           {std::string(m::kMode), watch ? "watch" : "walk"}},
          c.watched == watch ? 1 : 0);
    }
    const auto label = ComponentLabel(c);
    Add(&reconciles, label, static_cast<double>(c.watch.reconciles));
    for (const bool whole : {true, false}) {
      Add(&reads,
          {{std::string(m::kComponent), c.name},
           {std::string(m::kKind), whole ? "whole" : "named"}},
          static_cast<double>(whole ? c.watch.whole_reads
                                    : c.watch.named_reads));
    }
    Add(&diff_bytes, label,
        static_cast<double>(c.watch.reconcile_difference_bytes));
    Add(&diff_entries, label,
        static_cast<double>(c.watch.reconcile_difference_entries));
    for (int r = 0; r < measure::kRewalkReasonCount; ++r) {
      Add(&rewalks,
          {{std::string(m::kComponent), c.name},
           {std::string(m::kReason),
            std::string(measure::RewalkReasonName(
                static_cast<measure::RewalkReason>(r)))}},
          static_cast<double>(c.watch.rewalks[r]));
    }
  }
  for (auto* f :
       {&mode, &reconciles, &diff_bytes, &diff_entries, &rewalks, &reads}) {
    Push(out, std::move(*f));
  }
  auto events =
      Family(m::kWatchEventsTotal, "inotify events read in watch mode.", "",
             MetricType::Counter);
  Add(&events, {}, static_cast<double>(s.watch_events_total));
  out->push_back(std::move(events));
  auto dirs = Family(m::kWatchDirectories,
                     "Directories watched (inotify watches held).", "",
                     MetricType::Gauge);
  Add(&dirs, {}, static_cast<double>(s.watch_directories));
  out->push_back(std::move(dirs));
}

// What each cleanup rule would free; rules whose trees have not been walked
// completely yet emit nothing but their info.
void AddCleanupFamilies(const Snapshot& s, std::vector<MetricFamily>* out) {
  auto bytes = Family(m::kReclaimableBytes,
                      "Bytes allocated (as du counts, hard links once) by the "
                      "entries the cleanup rule would delete now.",
                      kCached, MetricType::Gauge);
  auto entries = Family(m::kReclaimableEntries,
                        "Entries (as find lists them) the cleanup rule would "
                        "delete now.",
                        kCached, MetricType::Gauge);
  auto oldest = Family(m::kReclaimableOldestTimestampSeconds,
                       "Modification time of the oldest entry the cleanup "
                       "rule would delete, unix seconds; absent while none.",
                       kCached, MetricType::Gauge);
  auto info = Family(m::kCleanupRuleInfo,
                     "A cleanup rule: its runbook section, directory and the "
                     "filesystem holding it; always 1.",
                     "", MetricType::Gauge);
  for (const CleanupRuleState& r : s.cleanup_rules) {
    const std::vector<ClientMetric::Label> rule = {
        {std::string(m::kRule), r.name}};
    Add(&info,
        {{std::string(m::kDevice), r.device},
         {std::string(m::kMountpoint), r.mountpoint},
         {std::string(m::kPath), r.path},
         {std::string(m::kRule), r.name},
         {std::string(m::kSection), std::to_string(r.section)}},
        1);
    if (!r.have_reading) continue;
    Add(&bytes, rule, static_cast<double>(r.reading.bytes));
    Add(&entries, rule, static_cast<double>(r.reading.entries));
    if (r.reading.oldest_mtime) Add(&oldest, rule, *r.reading.oldest_mtime);
  }
  for (auto* f : {&bytes, &entries, &oldest, &info}) Push(out, std::move(*f));
}

void AddSelfFamilies(const Snapshot& s, std::vector<MetricFamily>* out) {
  auto success = Family(m::kScanSuccess,
                        "1 if the last walk of the component completed "
                        "(directory readable, within the timeout).",
                        "", MetricType::Gauge);
  auto duration = Family(m::kScanDurationSeconds,
                         "Wall time of the last walk of the component.", "",
                         MetricType::Gauge);
  auto last_ok = Family(m::kLastScanSuccessTimestamp,
                        "Unix time the last successful walk of the component "
                        "ended.",
                        "", MetricType::Gauge);
  auto errors = Family(m::kScanErrorsTotal,
                       "Entries that could not be accounted for during "
                       "walks, by reason; the walk goes on past them.",
                       "", MetricType::Counter);
  for (const auto& c : s.components) {
    if (!c.attempted) continue;
    Add(&success, ComponentLabel(c), c.last_success ? 1 : 0);
    Add(&duration, ComponentLabel(c), c.last_duration_seconds);
    if (c.last_success_timestamp > 0) {
      Add(&last_ok, ComponentLabel(c), c.last_success_timestamp);
    }
    for (int r = 0; r < measure::kErrorReasonCount; ++r) {
      Add(&errors,
          {{std::string(m::kComponent), c.name},
           {std::string(m::kReason),
            std::string(
                measure::ReasonName(static_cast<measure::ErrorReason>(r)))}},
          static_cast<double>(c.errors_total[r]));
    }
  }
  for (auto* f : {&success, &duration, &last_ok, &errors}) {
    Push(out, std::move(*f));
  }
  AddWatchFamilies(s, out);
  auto reload_ok = Family(m::kConfigReloadSuccess,
                          "1 if the last configuration reload (the config "
                          "and the web config) succeeded.",
                          "", MetricType::Gauge);
  Add(&reload_ok, {}, s.config_reload_success ? 1 : 0);
  out->push_back(std::move(reload_ok));
  auto reload_fail = Family(m::kConfigReloadFailuresTotal,
                            "Configuration reloads (SIGHUP) that failed and "
                            "kept the previous config or web config.",
                            "", MetricType::Counter);
  Add(&reload_fail, {}, static_cast<double>(s.config_reload_failures));
  out->push_back(std::move(reload_fail));
  auto build = Family(m::kBuildInfo,
                      "A metric with a constant 1 value labeled by the "
                      "exporter's version and revision.",
                      "", MetricType::Gauge);
  Add(&build,
      {{std::string(m::kRevision), s.revision},
       {std::string(m::kVersion), s.version}},
      1);
  out->push_back(std::move(build));
}

}  // namespace

std::vector<MetricFamily> BuildMetricFamilies(const Snapshot& s) {
  std::vector<MetricFamily> out;
  AddComponentFamilies(s, &out);
  AddFilesystemFamilies(s, &out);
  AddCleanupFamilies(s, &out);
  AddSelfFamilies(s, &out);
  // The one place label values leave the exporter: one byte of a non-UTF-8
  // mountpoint would make Prometheus refuse the whole scrape.
  for (MetricFamily& f : out) {
    for (ClientMetric& cm : f.metric) {
      for (ClientMetric::Label& l : cm.label) l.value = ValidUtf8(l.value);
    }
  }
  auto invalid = Family(m::kInvalidUtf8Total,
                        "Label values and log fields whose bytes were not "
                        "valid UTF-8 (a mountpoint, device or path name); "
                        "each invalid byte was written as a visible hex "
                        "escape.",
                        "", MetricType::Counter);
  Add(&invalid, {}, static_cast<double>(InvalidUtf8Total()));
  out.push_back(std::move(invalid));
  return out;
}

std::string RenderText(const Snapshot& snapshot) {
  return prometheus::TextSerializer().Serialize(BuildMetricFamilies(snapshot));
}

}  // namespace stemedb::exporter
