// Rules -> an Alertmanager configuration: StemeDB alerts routed by severity,
// and inhibit rules (source_matchers/target_matchers) taken from each alert's
// `inhibits`, so a warning is silenced while its critical twin fires on the
// same filesystem. Receivers are placeholder webhooks on 127.0.0.1 for the
// user to replace; the file passes `amtool check-config` as generated.
//
// Thread safety: pure function.
#pragma once

#include <string>

#include "stemedb/rulegen/rules.h"

namespace stemedb::rulegen {

std::string RenderAlertmanager(const RuleSet& rules, const std::string& header);

}  // namespace stemedb::rulegen
