// The optional sections of `diagnose`: what is growing (from --from's
// exporter) and time until full (from --prometheus).
#pragma once

#include "flags.h"
#include "stemedb/base/error.h"
#include "stemedb/diagnose/ask_prometheus.h"
#include "stemedb/diagnose/fetch.h"
#include "stemedb/diagnose/sections.h"

namespace stemedb::cmd {

// Fills *sections. `from_options`: how to reach --from (null without
// --from). Returns an error only for a bad flag; an unreachable Prometheus
// or an exporter without a growth history is said in the sections.
Status GatherSections(const DiagnoseFlags& flags,
                      const diagnose::FetchOptions* from_options,
                      diagnose::Sections* sections);

}  // namespace stemedb::cmd
