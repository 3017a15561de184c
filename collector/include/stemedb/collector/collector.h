// Numbers to metric families: turns one immutable Snapshot of the exporter's
// state into Prometheus metric families. Knows nothing of files or HTTP.
//
// Thread safety: BuildMetricFamilies is a pure function of its argument.
#pragma once

#include <string>
#include <vector>

#include "prometheus/metric_family.h"
#include "stemedb/engine/snapshot.h"

namespace stemedb::exporter {

struct CollectorOptions {
  // False: leave out the exporter's own metrics (metrics::IsExporterMetric,
  // --web.disable-exporter-metrics).
  bool exporter_metrics = true;
};

// Families in a fixed order, every metric carrying the stemedb_disk_ prefix.
// Values of component and filesystem metrics are cached (HELP says so);
// components never walked yet emit no series; segment timestamps are omitted
// while a component has no segments (a 0 would read as "infinitely old").
std::vector<prometheus::MetricFamily> BuildMetricFamilies(
    const Snapshot& s, const CollectorOptions& options = {});

// Renders the families in the Prometheus text format (version 0.0.4).
std::string RenderText(const Snapshot& snapshot,
                       const CollectorOptions& options = {});

}  // namespace stemedb::exporter
