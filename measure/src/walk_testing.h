// Test-only seams of the scanner. Not part of the public contract.
#pragma once

#include <functional>
#include <string_view>

namespace stemedb::measure::testing {

// Installs `hook` (or clears it, when empty). A worker calls it after it has
// read one batch of entries of the directory at `dir_path` and before it stats
// them, so a test can remove an entry deterministically mid-walk. It runs on
// a worker thread, possibly on several at once. While no hook is installed the
// walk pays one relaxed atomic load per batch.
void SetAfterReadDirHook(std::function<void(std::string_view dir_path)> hook);

}  // namespace stemedb::measure::testing
