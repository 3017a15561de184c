#include "format.h"

#include <cmath>
#include <cstdio>

namespace stemedb::diagnose::detail {

std::string HumanBytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes);
  static constexpr char kUnits[] = "KMGTPE";
  double v = static_cast<double>(bytes);
  size_t unit = 0;
  v /= 1024;
  while (v >= 1024 && unit + 1 < sizeof kUnits - 1) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  if (v < 10) {
    double up = std::ceil(v * 10) / 10;
    if (up < 10) {
      std::snprintf(buf, sizeof buf, "%.1f%c", up, kUnits[unit]);
      return buf;
    }
  }
  double up = std::ceil(v);
  if (up >= 1024 && unit + 1 < sizeof kUnits - 1) {
    std::snprintf(buf, sizeof buf, "1.0%c", kUnits[unit + 1]);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.0f%c", up, kUnits[unit]);
  return buf;
}

std::string HumanCount(uint64_t count) { return HumanBytes(count); }

int DfPercent(uint64_t used, uint64_t avail) {
  const uint64_t total = used + avail;
  if (total == 0) return -1;
  return static_cast<int>((used * 100 + total - 1) / total);
}

std::string Percent(double ratio) {
  double p = ratio * 100;
  double shown = std::floor(p * 10) / 10;
  if (shown <= 0 && p > 0) shown = 0.1;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", shown);
  return buf;
}

std::string Age(double seconds) {
  // Numbers from --from may be anything JSON holds: clamp before the cast
  // (a double beyond uint64's range does not convert).
  if (!(seconds > 0)) seconds = 0;
  if (seconds > 1e15) return ">30000000y";
  // Two units at most, as Prometheus writes durations: 36 h is "1d12h",
  // not a "1d" that reads as less than the limit it is compared with.
  const auto s = static_cast<uint64_t>(seconds);
  const auto two = [](uint64_t big, const char* big_unit, uint64_t small,
                      const char* small_unit) {
    std::string out = std::to_string(big) + big_unit;
    if (small > 0) out += std::to_string(small) + small_unit;
    return out;
  };
  if (s >= 86400) return two(s / 86400, "d", s % 86400 / 3600, "h");
  if (s >= 3600) return two(s / 3600, "h", s % 3600 / 60, "m");
  if (s >= 60) return two(s / 60, "m", s % 60, "s");
  return std::to_string(s) + "s";
}

}  // namespace stemedb::diagnose::detail
