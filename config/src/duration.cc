// Prometheus duration syntax, as model.ParseDuration in prometheus/common
// accepts it, so a config that loads here is a config promtool accepts.
// That includes its range: Prometheus holds a duration in int64 nanoseconds
// and refuses anything longer ("duration out of range", 292 years and 2xx
// days), so 292y loads and 293y does not.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "stemedb/config/config.h"

namespace stemedb {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t millis;
};

// In the only order Prometheus accepts them. "ms" must be tried before "m".
constexpr std::array<Unit, 7> kUnits = {{
    {"y", int64_t{365} * 24 * 3600 * 1000},
    {"w", int64_t{7} * 24 * 3600 * 1000},
    {"d", int64_t{24} * 3600 * 1000},
    {"h", int64_t{3600} * 1000},
    {"m", int64_t{60} * 1000},
    {"s", int64_t{1000}},
    {"ms", int64_t{1}},
}};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The unit at the start of `rest`, or kUnits.size() when there is none.
size_t MatchUnit(std::string_view rest) {
  if (rest.starts_with("ms")) return 6;
  for (size_t i = 0; i < kUnits.size(); ++i) {
    if (rest.starts_with(kUnits[i].suffix)) return i;
  }
  return kUnits.size();
}

}  // namespace

std::optional<Duration> ParseDuration(std::string_view text,
                                      bool* out_of_range) {
  if (out_of_range != nullptr) *out_of_range = false;
  // Prometheus allows a bare zero; every other value needs a unit.
  if (text == "0") return Duration{std::chrono::milliseconds(0), "0"};
  if (text.empty()) return std::nullopt;

  // Syntax first, so "1.5y" is a syntax error, not a range error.
  constexpr int64_t kMax = kMaxDurationMillis;
  bool too_long = false;
  int64_t total = 0;
  size_t next_unit = 0;  // units must appear in kUnits order, each once
  size_t pos = 0;
  while (pos < text.size()) {
    if (!IsDigit(text[pos])) return std::nullopt;
    int64_t number = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      const int digit = text[pos] - '0';
      if (number > (kMax - digit) / 10) {
        too_long = true;  // saturate: the rest is still checked for syntax
        number = kMax;
      } else {
        number = number * 10 + digit;
      }
      ++pos;
    }
    const size_t unit = MatchUnit(text.substr(pos));
    if (unit == kUnits.size() || unit < next_unit) return std::nullopt;
    next_unit = unit + 1;
    pos += kUnits[unit].suffix.size();
    if (too_long || number > (kMax - total) / kUnits[unit].millis) {
      too_long = true;
      continue;
    }
    total += number * kUnits[unit].millis;
  }
  if (too_long) {
    if (out_of_range != nullptr) *out_of_range = true;
    return std::nullopt;
  }
  return Duration{std::chrono::milliseconds(total), std::string(text)};
}

}  // namespace stemedb
