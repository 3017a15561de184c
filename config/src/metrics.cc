#include "stemedb/config/metrics.h"

#include <algorithm>

namespace stemedb::metrics {

const Family* Find(std::string_view name) {
  for (const Family& f : kFamilies) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::span<const std::string_view> Labels(const Family& f) {
  const auto end = std::find(f.labels.begin(), f.labels.end(), "");
  return {f.labels.begin(), end};
}

std::string FullHelp(const Family& f) {
  std::string help(f.help);
  switch (f.freshness) {
    case Freshness::kLive:
      break;
    case Freshness::kCachedWalk:
      help +=
          " Cached: value as of the last complete background scan, see "
          "stemedb_disk_last_scan_success_timestamp_seconds.";
      break;
    case Freshness::kCachedStatfs:
      help +=
          " Cached: value as of the last statfs, refreshed in the background.";
      break;
  }
  return help;
}

std::string_view TypeName(Type type) {
  return type == Type::kCounter ? "counter" : "gauge";
}

}  // namespace stemedb::metrics
