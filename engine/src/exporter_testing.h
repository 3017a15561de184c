// Test-only seams of the exporter engine. Not part of the public contract.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace stemedb::exporter::testing {

// While on, every walk in progress counts as stuck at once (as if its
// deadline and the grace period had passed), in the capacity loop's next
// check and in RunOnce(), so stuck-walk tests do not race the clock: the walk
// deadline in their config can be generous. Off by default.
void SetDeclareWalksStuck(bool on);

// Blocks until every walk thread that an exporter left behind (stuck past
// its deadline in RunOnce(), or still walking at Stop()) has returned, and
// joins it. A test releases its stuck walks first, then calls this, so no
// thread outlives the test state that its hooks touch.
void JoinAbandonedWalks();

// The hidden --testing.* flags of watch mode, read when a watcher starts.
struct WatchSeams {
  int64_t overflow_after = -1;  // --testing.watch-overflow-after=N
  int64_t max_watches = -1;     // --testing.max-watches=N
  // --testing.watch-per-name-min-entries=N (0: every directory takes
  // per-name updates, so the e2e tests exercise them on small trees).
  std::optional<int64_t> per_name_min_entries;
  // --testing.fs-type=PATH=TYPE: components at or below PATH count as on a
  // filesystem of TYPE for the watch-or-walk decision.
  std::vector<std::pair<std::string, std::string>> fs_types;
};
void SetWatchSeams(WatchSeams seams);
WatchSeams GetWatchSeams();

}  // namespace stemedb::exporter::testing
