// Rules -> Grafana dashboard JSON (importable via the UI through __inputs,
// and by file provisioning through the `datasource` variable every panel
// uses). The overview panels are laid out here; every other panel is
// declared with its alert (AlertRule::panel), and threshold colour steps are
// the alerts' own limits.
//
// Every panel query selects job=~"$job",instance=~"$instance", so a test can
// substitute the variables and run each query against Prometheus.
//
// Thread safety: pure function.
#pragma once

#include <string>

#include "stemedb/config/config.h"
#include "stemedb/rulegen/rules.h"

namespace stemedb::rulegen {

// Grafana dashboard JSON, 2-space indented, keys in a fixed order, ending in
// a newline. `header` (JSON has no comments) becomes the description.
std::string RenderDashboard(const RuleSet& rules,
                            const DashboardOptions& options,
                            const std::string& runbook_url,
                            const std::string& header);

}  // namespace stemedb::rulegen
