// `stemedb_disk_exporter diagnose`: the runbook's Quick Diagnosis with live
// numbers, from a walk or from a running exporter's GET /diagnose.
#pragma once

#include "flags.h"

namespace stemedb::cmd {

// Prints the report; returns the monitoring-plugin exit status (0 ok,
// 1 warning, 2 critical, 3 unknown).
int RunDiagnose(const DiagnoseFlags& flags);

}  // namespace stemedb::cmd
