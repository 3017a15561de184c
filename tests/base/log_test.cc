#include "stemedb/base/log.h"

#include <gtest/gtest.h>

#include "stemedb/base/valid_utf8.h"

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

// Raw bytes from a file or device name would make the JSON line invalid
// (RFC 8259 requires UTF-8); each becomes \xNN, its backslash escaped.
TEST(LogTest, InvalidUtf8BecomesVisibleEscapes) {
  const uint64_t before = exporter::InvalidUtf8Total();
  EXPECT_EQ(Format(Format::kJson, Level::kWarn, "m",
                   {{"path", "/tmp/x/mnt\xffz"}}, "T"),
            "{\"ts\":\"T\",\"level\":\"warn\",\"msg\":\"m\","
            "\"path\":\"/tmp/x/mnt\\\\xffz\"}");
  EXPECT_EQ(Format(Format::kLogfmt, Level::kWarn, "m",
                   {{"path", "mnt\xff"}, {"k\xfe", "v"}}, "T"),
            "ts=T level=warn msg=m path=\"mnt\\\\xff\" k\\xfe=v");
  EXPECT_EQ(exporter::InvalidUtf8Total(), before + 3);
  EXPECT_EQ(
      Format(Format::kLogfmt, Level::kWarn, "d\xc3\xa9j\xc3\xa0", {}, "T"),
      "ts=T level=warn msg=d\xc3\xa9j\xc3\xa0");
  EXPECT_EQ(exporter::InvalidUtf8Total(), before + 3);
}

// A path or a client's string with ESC sequences, DEL or C1 would act on
// the terminal showing the log: each is written as \u00NN in both formats.
TEST(LogTest, EscapesEveryControlCharacter) {
  const std::string evil =
      "a\x1b]0;t\x07\x7f\xc2\x9b"
      "2J\xc2\xa0"
      "b";
  EXPECT_EQ(Format(Format::kLogfmt, Level::kWarn, "m", {{"path", evil}}, "T"),
            "ts=T level=warn msg=m "
            "path=\"a\\u001b]0;t\\u0007\\u007f\\u009b2J\xc2\xa0"
            "b\"");
  EXPECT_EQ(Format(Format::kJson, Level::kWarn, evil, {}, "T"),
            "{\"ts\":\"T\",\"level\":\"warn\",\"msg\":"
            "\"a\\u001b]0;t\\u0007\\u007f\\u009b2J\xc2\xa0"
            "b\"}");
  // C1 alone is reason enough to quote.
  EXPECT_EQ(Format(Format::kLogfmt, Level::kWarn, "m\xc2\x85", {}, "T"),
            "ts=T level=warn msg=\"m\\u0085\"");
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
