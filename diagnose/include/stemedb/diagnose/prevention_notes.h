// The runbook's Prevention checks (thresholds_in_force.h) as diagnose notes:
// one line per failing check, the setting and the advice.
//
// Thread safety: a pure function.
#pragma once

#include <vector>

#include "stemedb/config/thresholds_in_force.h"
#include "stemedb/diagnose/diagnosis.h"

namespace stemedb::diagnose {

// Appends a note to numbers->notes for each failing check, in order.
void AddPreventionNotes(const std::vector<PreventionCheck>& checks,
                        Numbers* numbers);

}  // namespace stemedb::diagnose
