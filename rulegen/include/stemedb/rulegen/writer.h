// Puts rendered artifacts on disk all-or-nothing, or compares them with what
// is there (CI's --check).
//
// Thread safety: functions are reentrant; concurrent writers of the same
// paths race (the last rename wins, no file is ever half-written).
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "stemedb/base/error.h"
#include "stemedb/rulegen/artifacts.h"

namespace stemedb::rulegen {

// Writes every artifact atomically: first each content goes to a temp file
// in its target's directory (created if missing) and is fsynced; only when
// all temp files are complete are they renamed over the targets (and the
// directories fsynced). On failure no target is touched (temp files are
// removed) and the error names the path. Unchanged files are not rewritten.
Status WriteArtifacts(const std::vector<Artifact>& items);

// Compares each artifact with the file at its path. For every difference
// prints a unified diff (`diff -u`, current file first) or "missing" to
// `out`. Returns the number of differing files, or an error.
Status CheckArtifacts(const std::vector<Artifact>& items, std::ostream& out,
                      int* differing);

}  // namespace stemedb::rulegen
