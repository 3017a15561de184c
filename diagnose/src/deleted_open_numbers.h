// The engine's /proc scan for deleted-but-open files as diagnose's numbers.
// Private to the snapshot bridge; pure apart from user-name lookups.
#pragma once

#include "stemedb/diagnose/diagnosis.h"
#include "stemedb/engine/snapshot.h"

namespace stemedb::exporter {

// The holders on filesystems `s` reports (those holding a component or a
// rule's directory), with a note when the scan could not see everything.
void AddDeletedOpen(const Snapshot& s, diagnose::Numbers* n);

}  // namespace stemedb::exporter
