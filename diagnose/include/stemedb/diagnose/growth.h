// What is growing: the report a running exporter keeps of its directories'
// growth (GET /diagnose/growth) and `diagnose --from` shows. The model, its
// JSON (both ways) and its text section; the history behind it is the
// engine's (engine/src/growth_history.h).
//
// Thread safety: plain values and pure functions; reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stemedb/base/error.h"

namespace stemedb::diagnose {

// One directory that grew over a window: allocated bytes of its whole
// subtree (like `du -s DIR`) now, minus at the oldest sample in the window.
struct GrowthEntry {
  std::string component;
  std::string path;  // absolute
  int64_t growth_bytes = 0;
  double bytes_per_hour = 0;  // growth_bytes over the span, per hour
  uint64_t bytes_now = 0;
};

struct GrowthWindow {
  std::string name;              // "1h", "1d"
  double window_seconds = 0;     // 3600, 86400
  double span_seconds = 0;       // how much of the window the samples cover
  std::vector<GrowthEntry> top;  // growth > 0 only, most first
};

struct GrowthReport {
  double timestamp = 0;  // unix seconds of the newest sample
  uint64_t tracked = 0;  // directories with a history now
  uint64_t tracked_limit = 0;
  std::vector<GrowthWindow> windows;  // last hour, then last day
};

std::string GrowthJson(const GrowthReport& report);
// Errors name the JSON position or the missing field.
stemedb::Status ParseGrowthJson(const std::string& body, GrowthReport* out);

// The "Growing fastest" section of the text report (80 columns).
std::string RenderGrowthText(const GrowthReport& report);

}  // namespace stemedb::diagnose
