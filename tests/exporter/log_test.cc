#include "stemedb/exporter/log.h"

#include <gtest/gtest.h>

namespace stemedb::log {
namespace {

TEST(LogTest, LogfmtQuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(
      Format(Format::kLogfmt, Level::kWarn, "walk failed",
             {{"path", "/data/wal"}, {"err", "a \"b\"=c"}, {"e", ""}}, "T"),
      "ts=T level=warn msg=\"walk failed\" path=/data/wal "
      "err=\"a \\\"b\\\"=c\" e=\"\"");
}

TEST(LogTest, JsonEscapesControlCharacters) {
  EXPECT_EQ(Format(Format::kJson, Level::kError, "x\ny",
                   {{"k", std::string("a\x01", 2)}}, "T"),
            "{\"ts\":\"T\",\"level\":\"error\",\"msg\":\"x\\ny\","
            "\"k\":\"a\\u0001\"}");
}

TEST(LogTest, ParsesLevelsAndFormats) {
  EXPECT_EQ(ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(ParseLevel("error"), Level::kError);
  EXPECT_FALSE(ParseLevel("verbose").has_value());
  EXPECT_EQ(ParseFormat("json"), Format::kJson);
  EXPECT_FALSE(ParseFormat("xml").has_value());
}

}  // namespace
}  // namespace stemedb::log
