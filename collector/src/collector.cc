#include "stemedb/collector/collector.h"

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include "prometheus/text_serializer.h"
#include "stemedb/base/valid_utf8.h"
#include "stemedb/config/metric_names.h"
#include "stemedb/config/metrics.h"

namespace stemedb::exporter {
namespace {

namespace m = stemedb::metrics;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// An empty family as the table defines it: name, HELP and type.
MetricFamily Family(const m::Family& def) {
  MetricFamily f;
  f.name = std::string(def.name);
  f.help = m::FullHelp(def);
  f.type =
      def.type == m::Type::kCounter ? MetricType::Counter : MetricType::Gauge;
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
// metrics differ only in family and field, so they are data.
template <typename T>
struct FieldGauge {
  const m::Family* family;
  uint64_t T::*field;
};

constexpr FieldGauge<measure::ComponentStats> kComponentGauges[] = {
    {&m::Get(m::kComponentAllocatedBytes),
     &measure::ComponentStats::allocated_bytes},
    {&m::Get(m::kComponentApparentBytes),
     &measure::ComponentStats::apparent_bytes},
    {&m::Get(m::kComponentFiles), &measure::ComponentStats::files},
    {&m::Get(m::kComponentDirectories), &measure::ComponentStats::directories},
};

constexpr FieldGauge<measure::SegmentStats> kSegmentGauges[] = {
    {&m::Get(m::kSegments), &measure::SegmentStats::count},
    {&m::Get(m::kSegmentAllocatedBytes),
     &measure::SegmentStats::allocated_bytes},
};

constexpr FieldGauge<measure::Capacity> kCapacityGauges[] = {
    {&m::Get(m::kFilesystemSizeBytes), &measure::Capacity::size_bytes},
    {&m::Get(m::kFilesystemFreeBytes), &measure::Capacity::free_bytes},
    {&m::Get(m::kFilesystemAvailBytes), &measure::Capacity::avail_bytes},
    {&m::Get(m::kFilesystemFiles), &measure::Capacity::files},
    {&m::Get(m::kFilesystemFilesFree), &measure::Capacity::files_free},
};

void AddComponentFamilies(const Snapshot& s, std::vector<MetricFamily>* out) {
  auto present = Family(m::Get(m::kComponentPresent));
  for (const auto& c : s.components) {
    if (c.have_stats) Add(&present, ComponentLabel(c), c.stats.present ? 1 : 0);
  }
  Push(out, std::move(present));
  for (const auto& g : kComponentGauges) {
    auto f = Family(*g.family);
    for (const auto& c : s.components) {
      if (!c.have_stats) continue;
      Add(&f, ComponentLabel(c), static_cast<double>(c.stats.*g.field));
    }
    Push(out, std::move(f));
  }
  for (const auto& g : kSegmentGauges) {
    auto f = Family(*g.family);
    for (const auto& c : s.components) {
      if (!c.have_stats || !c.has_segments) continue;
      Add(&f, ComponentLabel(c),
          static_cast<double>(c.stats.segments.*g.field));
    }
    Push(out, std::move(f));
  }
  auto oldest = Family(m::Get(m::kOldestSegmentTimestamp));
  auto newest = Family(m::Get(m::kNewestSegmentTimestamp));
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
    auto f = Family(*g.family);
    for (const auto& fs : s.filesystems) {
      if (!fs.have_capacity) continue;
      Add(&f, FsLabels(fs.mount), static_cast<double>(fs.capacity.*g.field));
    }
    Push(out, std::move(f));
  }
  auto ro = Family(m::Get(m::kFilesystemReadonly));
  auto ok = Family(m::Get(m::kFilesystemStatSuccess));
  for (const auto& fs : s.filesystems) {
    auto l = FsLabels(fs.mount);
    Add(&ok, l, fs.stat_success ? 1 : 0);
    // The filesystem's own flag: the exporter often sees a writable disk
    // through a read-only mount, and that disk must still alert.
    if (fs.have_capacity) Add(&ro, l, fs.mount.readonly ? 1 : 0);
  }
  Push(out, std::move(ro));
  Push(out, std::move(ok));
  auto info = Family(m::Get(m::kComponentFilesystemInfo));
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
  auto mode = Family(m::Get(m::kScanMode));
  auto reconciles = Family(m::Get(m::kWatchReconcilesTotal));
  auto diff_bytes = Family(m::Get(m::kWatchReconcileDifferenceBytes));
  auto diff_entries = Family(m::Get(m::kWatchReconcileDifferenceEntries));
  auto rewalks = Family(m::Get(m::kWatchRewalksTotal));
  auto reads = Family(m::Get(m::kWatchDirectoryReadsTotal));
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
  auto events = Family(m::Get(m::kWatchEventsTotal));
  Add(&events, {}, static_cast<double>(s.watch_events_total));
  out->push_back(std::move(events));
  auto dirs = Family(m::Get(m::kWatchDirectories));
  Add(&dirs, {}, static_cast<double>(s.watch_directories));
  out->push_back(std::move(dirs));
}

// What each cleanup rule would free; rules whose trees have not been walked
// completely yet emit nothing but their info.
void AddCleanupFamilies(const Snapshot& s, std::vector<MetricFamily>* out) {
  auto bytes = Family(m::Get(m::kReclaimableBytes));
  auto entries = Family(m::Get(m::kReclaimableEntries));
  auto oldest = Family(m::Get(m::kReclaimableOldestTimestampSeconds));
  auto info = Family(m::Get(m::kCleanupRuleInfo));
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

// Per filesystem: the components' and the extra roots' allocated bytes, and
// the rest of what is used; each present once every tree it sums is known.
void AddAccountingFamilies(const Snapshot& s, std::vector<MetricFamily>* out) {
  auto accounted = Family(m::Get(m::kFilesystemAccountedBytes));
  auto other = Family(m::Get(m::kFilesystemOtherBytes));
  for (const auto& fs : s.filesystems) {
    const dev_t dev = fs.mount.device_id;
    bool components_known = true;
    uint64_t components = 0;
    for (const auto& c : s.components) {
      if (!c.have_stats) {
        components_known = false;  // cannot tell where it is yet
      } else if (c.stats.present && c.stats.device == dev) {
        components += c.stats.allocated_bytes;
      }
    }
    bool roots_known = true;
    uint64_t roots = 0;
    for (const auto& r : s.extra_roots) {
      if (!r.known) {
        roots_known = false;
      } else if (r.present && r.device == dev) {
        roots += r.allocated_bytes;
      }
    }
    auto part = [&](std::string_view name) {
      auto l = FsLabels(fs.mount);
      l.push_back({std::string(m::kPart), std::string(name)});
      return l;
    };
    if (components_known) {
      Add(&accounted, part("components"), static_cast<double>(components));
    }
    if (roots_known) {
      Add(&accounted, part("cleanup_roots"), static_cast<double>(roots));
    }
    if (!fs.have_capacity || !components_known || !roots_known) continue;
    const uint64_t used =
        fs.capacity.size_bytes -
        std::min(fs.capacity.free_bytes, fs.capacity.size_bytes);
    const uint64_t known = components + roots;
    Add(&other, FsLabels(fs.mount),
        static_cast<double>(used > known ? used - known : 0));
  }
  Push(out, std::move(accounted));
  Push(out, std::move(other));
}

// Deleted files still open, per filesystem: only when the scan saw every
// process (else unknown, and absent), plus the scan's own numbers.
void AddDeletedOpenFamilies(const Snapshot& s, std::vector<MetricFamily>* out) {
  if (!s.open_deleted) return;
  const measure::OpenDeletedScan& scan = *s.open_deleted;
  auto bytes = Family(m::Get(m::kFilesystemDeletedOpenBytes));
  if (scan.complete()) {
    for (const auto& fs : s.filesystems) {
      const auto it = scan.bytes_by_device.find(fs.mount.device_id);
      Add(&bytes, FsLabels(fs.mount),
          it == scan.bytes_by_device.end() ? 0
                                           : static_cast<double>(it->second));
    }
  }
  Push(out, std::move(bytes));
  auto success = Family(m::Get(m::kDeletedOpenScanSuccess));
  Add(&success, {}, scan.complete() ? 1 : 0);
  out->push_back(std::move(success));
  auto unreadable = Family(m::Get(m::kDeletedOpenUnreadableProcesses));
  Add(&unreadable, {}, static_cast<double>(scan.unreadable_processes));
  out->push_back(std::move(unreadable));
  auto duration = Family(m::Get(m::kDeletedOpenScanDurationSeconds));
  Add(&duration, {}, scan.duration_seconds);
  out->push_back(std::move(duration));
}

// What each component's current numbers leave out, every reason but
// "vanished" (gone entries leave the numbers exact), 0 when complete.
void AddUnaccountedFamily(const Snapshot& s, std::vector<MetricFamily>* out) {
  auto f = Family(m::Get(m::kScanUnaccountedEntries));
  for (const auto& c : s.components) {
    if (!c.have_stats) continue;
    for (int r = 0; r < measure::kErrorReasonCount; ++r) {
      const auto reason = static_cast<measure::ErrorReason>(r);
      if (reason == measure::ErrorReason::kVanished) continue;
      Add(&f,
          {{std::string(m::kComponent), c.name},
           {std::string(m::kReason), std::string(measure::ReasonName(reason))}},
          static_cast<double>(c.stats.unaccounted[r]));
    }
  }
  Push(out, std::move(f));
}

void AddSelfFamilies(const Snapshot& s, std::vector<MetricFamily>* out) {
  auto success = Family(m::Get(m::kScanSuccess));
  auto duration = Family(m::Get(m::kScanDurationSeconds));
  auto last_ok = Family(m::Get(m::kLastScanSuccessTimestamp));
  auto errors = Family(m::Get(m::kScanErrorsTotal));
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
  AddUnaccountedFamily(s, out);
  AddWatchFamilies(s, out);
  auto reload_ok = Family(m::Get(m::kConfigReloadSuccess));
  Add(&reload_ok, {}, s.config_reload_success ? 1 : 0);
  out->push_back(std::move(reload_ok));
  auto reload_fail = Family(m::Get(m::kConfigReloadFailuresTotal));
  Add(&reload_fail, {}, static_cast<double>(s.config_reload_failures));
  out->push_back(std::move(reload_fail));
  auto build = Family(m::Get(m::kBuildInfo));
  Add(&build,
      {{std::string(m::kRevision), s.revision},
       {std::string(m::kVersion), s.version}},
      1);
  out->push_back(std::move(build));
}

// The config in force: thresholds with their source, StemeDB's config.toml
// read or not, the Prevention checks that could be made.
void AddConfigFamilies(const Snapshot& s, std::vector<MetricFamily>* out) {
  auto thresholds = Family(m::Get(m::kThreshold));
  for (const ThresholdInForce& t : s.thresholds) {
    Add(&thresholds,
        {{std::string(m::kThresholdKey), std::string(t.key)},
         {std::string(m::kSource), std::string(ThresholdSourceName(t.source))}},
        t.value);
  }
  Push(out, std::move(thresholds));
  auto loaded = Family(m::Get(m::kStemedbConfigLoaded));
  if (s.stemedb_config_loaded >= 0) {
    Add(&loaded, {}, s.stemedb_config_loaded);
  }
  Push(out, std::move(loaded));
  auto checks = Family(m::Get(m::kPreventionCheck));
  for (const PreventionCheck& c : s.prevention) {
    Add(&checks, {{std::string(m::kCheck), std::string(c.name)}},
        c.failing ? 1 : 0);
  }
  Push(out, std::move(checks));
}

}  // namespace

std::vector<MetricFamily> BuildMetricFamilies(const Snapshot& s,
                                              const CollectorOptions& options) {
  std::vector<MetricFamily> out;
  AddComponentFamilies(s, &out);
  AddFilesystemFamilies(s, &out);
  AddAccountingFamilies(s, &out);
  AddDeletedOpenFamilies(s, &out);
  AddCleanupFamilies(s, &out);
  AddSelfFamilies(s, &out);
  AddConfigFamilies(s, &out);
  // The one place label values leave the exporter: one byte of a non-UTF-8
  // mountpoint would make Prometheus refuse the whole scrape.
  for (MetricFamily& f : out) {
    for (ClientMetric& cm : f.metric) {
      for (ClientMetric::Label& l : cm.label) l.value = ValidUtf8(l.value);
    }
  }
  auto invalid = Family(m::Get(m::kInvalidUtf8Total));
  Add(&invalid, {}, static_cast<double>(InvalidUtf8Total()));
  out.push_back(std::move(invalid));
  if (!options.exporter_metrics) {
    std::erase_if(out, [](const MetricFamily& f) {
      const m::Family* def = m::Find(f.name);
      return def != nullptr && m::IsExporterMetric(def->group);
    });
  }
  return out;
}

std::string RenderText(const Snapshot& snapshot,
                       const CollectorOptions& options) {
  return prometheus::TextSerializer().Serialize(
      BuildMetricFamilies(snapshot, options));
}

}  // namespace stemedb::exporter
