// Config -> Grafana dashboard JSON (importable via the UI through __inputs,
// and by file provisioning through the `datasource` variable every panel
// uses). Threshold colour steps come from the same config the alerts use.
//
// Every panel query selects job=~"$job",instance=~"$instance", so a test can
// substitute the variables and run each query against Prometheus.
//
// Thread safety: pure function.
#pragma once

#include <string>

#include "stemedb/config.h"

namespace stemedb::rulegen {

// Grafana dashboard JSON, 2-space indented, keys in a fixed order, ending in
// a newline. `header` (JSON has no comments) becomes the description.
std::string RenderDashboard(const Config& config, const std::string& header);

}  // namespace stemedb::rulegen
