// ParseDuration against Prometheus' duration syntax (prometheus/common
// model.ParseDuration): the expected values are worked out by hand.

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "stemedb/config/config.h"

namespace stemedb {
namespace {

using std::chrono::milliseconds;

struct ValidCase {
  const char* text;
  int64_t millis;
};

TEST(ParseDurationTest, AcceptsPrometheusSyntax) {
  constexpr int64_t kSecond = 1000;
  constexpr int64_t kDay = 24 * 3600 * kSecond;
  const ValidCase cases[] = {
      {"0s", 0},
      {"0", 0},  // Prometheus' one unit-less form
      {"30s", 30 * kSecond},
      {"15m", 900 * kSecond},
      {"1h30m", 5400 * kSecond},
      {"7d", 7 * kDay},
      {"1w", 7 * kDay},
      {"1y", 365 * kDay},
      {"500ms", 500},
      {"1m500ms", 60500},
      {"1y2w3d4h5m6s7ms", 365 * kDay + 14 * kDay + 3 * kDay +
                              4 * 3600 * kSecond + 5 * 60 * kSecond +
                              6 * kSecond + 7},
      {"90s", 90 * kSecond},
      {"007m", 7 * 60 * kSecond},
  };
  for (const ValidCase& c : cases) {
    SCOPED_TRACE(c.text);
    const std::optional<Duration> d = ParseDuration(c.text);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->value, milliseconds(c.millis));
    EXPECT_EQ(d->text, c.text);  // kept as written, for generated rules
  }
}

TEST(ParseDurationTest, SecondsIsFractional) {
  EXPECT_DOUBLE_EQ(ParseDuration("1m500ms")->seconds(), 60.5);
}

TEST(ParseDurationTest, RejectsEverythingElse) {
  const char* const cases[] = {
      "",                      // empty
      "-1m",                   // negative
      "1.5h",                  // float
      "15x",                   // unknown unit
      "15",                    // no unit
      "00",                    // only a single "0" may lack a unit
      "1m1h",                  // units out of order
      "1h1h",                  // unit twice
      "1s1ms1s",               // unit repeated after a smaller one
      "m",                     // unit without number
      "1h ",                   // trailing space
      " 1h",                   // leading space
      "1H",                    // units are lower case
      "1h30",                  // trailing number
      "+1h",                   // sign
      "9223372036854775807y",  // overflows int64 milliseconds
      "106751991168d",         // likewise, one day past the limit
  };
  for (const char* text : cases) {
    EXPECT_FALSE(ParseDuration(text).has_value()) << '"' << text << '"';
  }
}

// Prometheus' range: the duration in nanoseconds fits in an int64, so the
// largest is floor((2^63 - 1) / 10^6) ms = 9223372036854 ms. promtool
// 2.x checks the same boundary: `for: 292y24w3d23h47m16s854ms` passes
// `promtool check rules`, one millisecond more is "duration out of range"
// (tests/e2e/test_hostile.py runs promtool on it).
TEST(ParseDurationTest, RangeIsPrometheus) {
  EXPECT_EQ(kMaxDurationMillis, int64_t{9223372036854});
  const std::optional<Duration> largest =
      ParseDuration("292y24w3d23h47m16s854ms");
  ASSERT_TRUE(largest.has_value());
  EXPECT_EQ(largest->value.count(), kMaxDurationMillis);
  ASSERT_TRUE(ParseDuration("292y").has_value());

  for (const char* text :
       {"292y24w3d23h47m16s855ms", "293y", "300y", "106751991167d",
        "9223372036855s", "9223372036854775807y", "99999999999999999999ms"}) {
    SCOPED_TRACE(text);
    bool out_of_range = false;
    EXPECT_FALSE(ParseDuration(text, &out_of_range).has_value());
    EXPECT_TRUE(out_of_range);
  }
  // A syntax error stays a syntax error, however large its numbers.
  bool out_of_range = true;
  EXPECT_FALSE(ParseDuration("99999999999999999999x", &out_of_range));
  EXPECT_FALSE(out_of_range);
  EXPECT_FALSE(ParseDuration("1.5y", &out_of_range));
  EXPECT_FALSE(out_of_range);
}

TEST(SaturatingAddTest, NeverWrapsIntoThePast) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point now = Clock::now();
  const std::chrono::milliseconds longest(kMaxDurationMillis);
  EXPECT_EQ(SaturatingAdd(now, longest), Clock::time_point::max());
  EXPECT_EQ(SaturatingAdd(Clock::time_point::max(), milliseconds(1)),
            Clock::time_point::max());
  EXPECT_EQ(SaturatingAdd(now, milliseconds(1500)), now + milliseconds(1500));
  EXPECT_EQ(SaturatingAdd(now, milliseconds(0)), now);
  EXPECT_GT(SaturatingAdd(now, longest), now);
}

TEST(IsValidLabelNameTest, FollowsPrometheusRegexWithoutReservedPrefix) {
  EXPECT_TRUE(IsValidLabelName("team"));
  EXPECT_TRUE(IsValidLabelName("_private"));
  EXPECT_TRUE(IsValidLabelName("Zone_2"));
  EXPECT_FALSE(IsValidLabelName(""));
  EXPECT_FALSE(IsValidLabelName("2zone"));
  EXPECT_FALSE(IsValidLabelName("team-name"));
  EXPECT_FALSE(IsValidLabelName("team.name"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
  EXPECT_FALSE(IsValidLabelName("__"));
  EXPECT_FALSE(IsValidLabelName("ümlaut"));
}

}  // namespace
}  // namespace stemedb
