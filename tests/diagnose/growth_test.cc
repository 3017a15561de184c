// The growth report's JSON both ways and its text; the Prometheus answers
// `diagnose --prometheus` reads.
#include "stemedb/diagnose/growth.h"

#include <gtest/gtest.h>

#include "stemedb/diagnose/time_until_full.h"

namespace stemedb::diagnose {
namespace {

GrowthReport Sample() {
  GrowthReport r;
  r.timestamp = 1.7e9;
  r.tracked = 3;
  r.tracked_limit = 1024;
  r.windows.push_back(
      {"1h",
       3600,
       600,
       {{"db", "/d/b\x1b[2J", 5 << 20, 30.0 * (5 << 20), 6 << 20}}});
  r.windows.push_back({"1d", 86400, 600, {}});
  return r;
}

TEST(GrowthJsonTest, RoundTrips) {
  GrowthReport back;
  ASSERT_FALSE(ParseGrowthJson(GrowthJson(Sample()), &back));
  ASSERT_EQ(back.windows.size(), 2u);
  ASSERT_EQ(back.windows[0].top.size(), 1u);
  EXPECT_EQ(back.windows[0].top[0].path, "/d/b\x1b[2J");
  EXPECT_EQ(back.windows[0].top[0].growth_bytes, 5 << 20);
  EXPECT_EQ(back.windows[0].top[0].bytes_now, 6u << 20);
  EXPECT_EQ(back.tracked_limit, 1024u);
}

TEST(GrowthJsonTest, RefusesWhatIsNotAReportSayingWhere) {
  GrowthReport r;
  Status err = ParseGrowthJson("{\"timestamp\": 1}", &r);
  ASSERT_TRUE(err);
  EXPECT_NE(err->message.find("tracked"), std::string::npos);
  err = ParseGrowthJson(
      R"({"timestamp":1,"tracked":1,"tracked_limit":1,"windows":[{"name":"1h",
      "window_seconds":1,"span_seconds":1,"top":[{"component":"c",
      "path":"/p","growth_bytes":1,"bytes_per_hour":1,"bytes_now":-1}]}]})",
      &r);
  ASSERT_TRUE(err);
  EXPECT_NE(err->message.find("windows[0].top[0].bytes_now"),
            std::string::npos);
  EXPECT_TRUE(ParseGrowthJson("[", &r));
}

TEST(GrowthTextTest, RatesPathsEscapedAndShortHistorySaid) {
  const std::string text = RenderGrowthText(Sample());
  EXPECT_NE(text.find("150M/h"), std::string::npos) << text;
  EXPECT_NE(text.find("/d/b\\x1b[2J (db)"), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_NE(text.find("last 1h (history covers 10m)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("nothing grew"), std::string::npos);
}

TEST(TimeUntilFullTest, ReadsTheRulesAndThisInstancesSeries) {
  std::vector<std::string> names;
  ASSERT_FALSE(ReadRuleNames(
      R"({"status":"success","data":{"groups":[{"rules":[
      {"name":"a:b","type":"recording"},{"name":"X","type":"alerting"}]}]}})",
      &names));
  EXPECT_EQ(names, std::vector<std::string>{"a:b"});
  TimeUntilFull t;
  t.instance = "n1:19180";
  const std::string body =
      R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"instance":"n1:19180","mountpoint":"/data"},"value":[1,"7200"]},
      {"metric":{"instance":"n2:19180","mountpoint":"/data"},"value":[1,"5"]},
      {"metric":{"instance":"n1:19180","mountpoint":"/"},"value":[1,"+Inf"]}]}})";
  ASSERT_FALSE(ReadTimeSeries(body, false, &t));
  ASSERT_EQ(t.filesystems.size(), 2u);
  EXPECT_EQ(t.filesystems[1].mountpoint, "/data");
  EXPECT_EQ(t.filesystems[1].bytes_seconds, 7200);
  EXPECT_EQ(t.other_instances, std::vector<std::string>{"n2:19180"});
  t.reached = t.bytes_rule = t.inodes_rule = true;
  const std::string text = RenderTimeUntilFullText(t);
  EXPECT_NE(text.find("/data: space in 2h, inodes not filling"),
            std::string::npos)
      << text;
  EXPECT_TRUE(ReadTimeSeries(R"({"status":"error"})", true, &t));
}

}  // namespace
}  // namespace stemedb::diagnose
