// Rules -> a Prometheus Operator PrometheusRule (monitoring.coreos.com/v1)
// whose spec.groups are the rule file's groups, rendered by the same code.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "stemedb/rulegen/rules.h"

namespace stemedb::rulegen {

// A DNS-1123 object name from free text: lower-cased, runs of characters
// outside [a-z0-9-] become '-', trimmed; "stemedb-disk" if nothing is left.
std::string KubernetesName(std::string_view text);

std::string RenderPrometheusRule(const RuleSet& rules, const std::string& name,
                                 const std::string& header);

}  // namespace stemedb::rulegen
