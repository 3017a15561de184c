// Test-only seams of the filesystems unit. Not part of the public contract.
#pragma once

#include <sys/statvfs.h>

#include <functional>
#include <string>

namespace stemedb::measure::testing {

using StatvfsFunction = int (*)(const char* path, struct statvfs* out);

// Replaces the statvfs(2) that probes call (nullptr restores the real one),
// so a test can make a probe hang on a latch it controls. Returns the
// previous function. Affects probes started afterwards.
StatvfsFunction SetStatvfsFunction(StatvfsFunction fn);

// Called on a probe's helper thread, with the probed mountpoint, after it has
// finished and is no longer counted by InFlight(), so a test can wait for
// that without polling. Empty clears it.
void SetProbeFinishedHook(std::function<void(const std::string&)> hook);

}  // namespace stemedb::measure::testing
