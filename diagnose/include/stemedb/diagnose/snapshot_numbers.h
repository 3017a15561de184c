// Where `diagnose` gets its numbers on this side: from an exporter's
// snapshot. The local walk (`diagnose` without --from) runs one Exporter
// pass and converts its snapshot; a running exporter converts its last
// snapshot for GET /diagnose. One conversion, so both give the same numbers
// for the same tree.
//
// Thread safety: NumbersFromSnapshot is a pure function; WalkNumbers is
// reentrant (it owns its Exporter).
#pragma once

#include "stemedb/config/config.h"
#include "stemedb/diagnose/diagnosis.h"
#include "stemedb/engine/snapshot.h"

namespace stemedb::exporter {

// The numbers of `snapshot` under `config` (component paths, rules),
// `source` naming where they come from ("walk", "exporter") and `now`
// (unix seconds) the moment segment ages are measured from. Does no I/O.
diagnose::Numbers NumbersFromSnapshot(const Snapshot& snapshot,
                                      const Config& config,
                                      const std::string& source, double now);

// Walks the layout once (Exporter::RunOnce: the walk, then statvfs of each
// filesystem, each with its timeout) and returns its numbers. Writes
// nothing anywhere but the log on stderr.
diagnose::Numbers WalkNumbers(const Config& config);

// The JSON document GET /diagnose serves: the report of the exporter's
// current snapshot.
std::string DiagnoseJson(const Snapshot& snapshot, const Config& config);

}  // namespace stemedb::exporter
