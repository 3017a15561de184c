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

// Writes every artifact by the rule for user-named outputs
// (stemedb/base/output_file.h: "-" is standard output, a device or FIFO is
// written in place, a symlink's target is replaced, mode and owner are
// kept, a directory is an error). First each file's content goes to a temp
// file beside it (its directory created if missing) and is fsynced; only
// when all are complete are they renamed over the targets (and standard
// output, devices and FIFOs written), in order. On a failure before that
// no target is touched (temp files are removed); the error names the path
// as given (Error::file). Unchanged regular files are not rewritten.
Status WriteArtifacts(const std::vector<Artifact>& items);

// Compares each artifact with the file at its path. For every difference
// prints a unified diff (`diff -u`, current file first) or "missing" to
// `out`. Returns the number of differing files, or an error.
Status CheckArtifacts(const std::vector<Artifact>& items, std::ostream& out,
                      int* differing);

}  // namespace stemedb::rulegen
