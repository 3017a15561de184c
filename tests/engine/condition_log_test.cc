// What the engine logs of the watcher's reconciles: every difference that
// walks a component again is named, whichever numbers differ.
#include "condition_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace stemedb::exporter {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Logged(ConditionLog& log, const Component& c,
                   const measure::WatchInfo& before,
                   const measure::WatchInfo& now) {
  ::testing::internal::CaptureStderr();
  log.Watched(c, before, now);
  return ::testing::internal::GetCapturedStderr();
}

TEST(ConditionLogTest, EveryReconcileDifferenceIsLoggedWithWhatDiffered) {
  ConditionLog log;
  Component c;
  c.name = "logs";
  c.resolved_path = "/data/logs";
  measure::WatchInfo before;
  before.watched = true;
  before.reconciles = 4;

  // A file resized within its blocks: apparent bytes alone differ.
  measure::WatchInfo now = before;
  now.reconciles = 5;
  now.reconcile_difference_apparent_bytes = 20;
  now.reconcile_difference_path = "/data/logs/d1";
  std::string out = Logged(log, c, before, now);
  EXPECT_THAT(out, HasSubstr("reconcile walk found a difference"));
  EXPECT_THAT(out, HasSubstr("component=logs bytes=0 apparent_bytes=20 "
                             "entries=0 directory=/data/logs/d1"));

  // The next reconcile found none: nothing to say.
  measure::WatchInfo clean = now;
  clean.reconciles = 6;
  clean.reconcile_difference_apparent_bytes = 0;
  clean.reconcile_difference_path.clear();
  EXPECT_THAT(Logged(log, c, now, clean), IsEmpty());

  // Entries and allocated bytes, as before.
  measure::WatchInfo more = clean;
  more.reconciles = 7;
  more.reconcile_difference_bytes = 4096;
  more.reconcile_difference_entries = 1;
  more.reconcile_difference_path = "/data/logs/d2";
  EXPECT_THAT(Logged(log, c, clean, more),
              HasSubstr("bytes=4096 apparent_bytes=0 entries=1"));
}

}  // namespace
}  // namespace stemedb::exporter
