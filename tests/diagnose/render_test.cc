// Text and JSON output: the width limit, the plugin status line, and the
// JSON read back into the same report.
#include "stemedb/diagnose/render.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string_view>

#include "fixture.h"

namespace stemedb::diagnose {
namespace {

using testing::kGiB;
using testing::Node;
using testing::Rule;

size_t Columns(const std::string& line) {
  size_t n = 0;
  for (unsigned char c : line) n += (c & 0xC0) != 0x80;
  return n;
}

// ParseJson's error as printed for a reply named "r", "" when it read the
// text.
std::string ParseError(std::string_view json) {
  Numbers n;
  Limits l;
  stemedb::Status err = ParseJson(json, &n, &l);
  if (!err) return "";
  err->file = "r";
  return err->ToString();
}

Report Full() {
  auto n = Node(kGiB, 5 * kGiB, 20 * kGiB);
  n.components[0].path =
      "/srv/a/very/long/path/that/goes/on/and/on/for/quite/a/while/until/it/"
      "no/longer/fits/data/wal";
  n.rules.push_back(Rule("wal_beyond_retention", "1", 3 * kGiB));
  n.directories_measured = true;
  n.largest_directories.push_back({n.components[0].path, 5 * kGiB});
  n.most_entries.push_back({"/data/data/tmp", 1234});
  n.notes.push_back("a note");
  return Diagnose(n, LimitsFrom(Thresholds{}));
}

TEST(RenderTest, TextStartsWithPluginStatusLine) {
  const std::string text = RenderText(Full());
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "CRITICAL: go to §1 Emergency Cleanup");
}

TEST(RenderTest, TextFitsTheWidthExceptCommands) {
  const Report r = Full();
  for (size_t width : {80u, 100u}) {
    std::istringstream lines(RenderText(r, width));
    std::string line;
    int count = 0;
    while (std::getline(lines, line)) {
      ++count;
      if (line.rfind("      $ ", 0) == 0) continue;  // a command, whole
      EXPECT_LE(Columns(line), width) << line;
    }
    EXPECT_GT(count, 20);
  }
}

TEST(RenderTest, TextShowsTheNumbersAndCommands) {
  const std::string text = RenderText(Full());
  EXPECT_NE(text.find("  100G   99G  1.0G  99%"), std::string::npos) << text;
  EXPECT_NE(text.find("$ find data/wal -name \"*.log\" -mtime +7 -delete"),
            std::string::npos);
  EXPECT_NE(text.find("1234  /data/data/tmp"), std::string::npos);
  EXPECT_NE(text.find("-> §1"), std::string::npos);
  EXPECT_NE(text.find("a note"), std::string::npos);
}

TEST(RenderTest, JsonRoundTripsToTheSameReport) {
  const Report r = Full();
  const std::string json = RenderJson(r);
  Numbers n;
  Limits l;
  auto err = ParseJson(json, &n, &l);
  ASSERT_FALSE(err) << err->ToString();
  EXPECT_EQ(RenderJson(Diagnose(n, l)), json);
}

// Limits added within schema 2: a document written before them reads,
// with the defaults.
TEST(RenderTest, ReadsADocumentWithoutTheWalDrainingLimits) {
  Report r = Full();
  r.limits.wal_shrinking_ratio = 0.2;
  std::string json = RenderJson(r);
  for (const std::string key :
       {"wal_shrinking_lookback_seconds", "wal_shrinking_ratio"}) {
    const auto at = json.find("\"" + key + "\": ");
    ASSERT_NE(at, std::string::npos) << key;
    json.erase(at, json.find('\n', at) + 1 - at);
  }
  Numbers n;
  Limits l;
  auto err = ParseJson(json, &n, &l);
  ASSERT_FALSE(err) << err->ToString();
  EXPECT_EQ(l.wal_shrinking_ratio, Limits{}.wal_shrinking_ratio);
  EXPECT_EQ(l.wal_shrinking_lookback_seconds,
            Limits{}.wal_shrinking_lookback_seconds);
}

TEST(RenderTest, JsonHasDfColumns) {
  const std::string json = RenderJson(Full());
  EXPECT_NE(json.find("\"use_percent\": 99"), std::string::npos) << json;
  EXPECT_NE(json.find("\"exit_code\": 2"), std::string::npos);
  EXPECT_NE(json.find("\"section\": \"1\""), std::string::npos);
}

TEST(RenderTest, ParseErrorsNameTheKey) {
  EXPECT_EQ(ParseError("{\"schema_version\": 2}"), "r: source: missing");
  std::string json = RenderJson(Full());
  const auto at = json.find("\"size_bytes\": ");
  json.replace(at, 14, "\"size_bytes\": \"x\", \"y\": ");
  EXPECT_EQ(ParseError(json), "r: filesystems[0].size_bytes: wrong type");
  // An exporter of the first schema sends fewer limits.
  EXPECT_EQ(ParseError("{\"schema_version\": 1}"),
            "r: schema_version 1, expected 2");
}

TEST(RenderTest, ParseErrorsInTheTextSayWhere) {
  EXPECT_EQ(ParseError("nope"),
            "r:1:2: not JSON: syntax error while parsing value - invalid "
            "literal; last read: 'no'");
  EXPECT_EQ(ParseError("{\n  \"a\": [1,\n   }"),
            "r:3:4: not JSON: syntax error while parsing value - unexpected "
            "'}'; expected '[', '{', or a literal");
}

// 16 MiB of "[" once became 16M nested arrays (over a gigabyte): nesting
// and the number of values are refused before a tree is built, at the
// byte that crossed the limit.
TEST(RenderTest, RefusesNestingBeyondTheLimitWithItsPosition) {
  const std::string limit = std::to_string(kMaxJsonDepth);
  const std::string at_limit =
      std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  // Within the limit it is JSON, just not a diagnosis.
  EXPECT_EQ(ParseError(at_limit).find("nested"), std::string::npos);
  EXPECT_EQ(ParseError("[" + at_limit + "]"),
            "r:1:" + std::to_string(kMaxJsonDepth + 1) +
                ": arrays and objects nested deeper than " + limit);
  EXPECT_EQ(ParseError(std::string(16 << 20, '[')),
            "r:1:" + std::to_string(kMaxJsonDepth + 1) +
                ": arrays and objects nested deeper than " + limit);
  std::string objects = "{\"a\":\n";
  for (size_t i = 0; i < kMaxJsonDepth; ++i) objects += "{\"a\":";
  EXPECT_EQ(ParseError(objects),
            "r:2:" + std::to_string(5 * kMaxJsonDepth - 4) +
                ": arrays and objects nested deeper "
                "than " +
                limit);
}

TEST(RenderTest, RefusesMoreValuesThanTheLimit) {
  // The array is the first value, so the last "{}" is one too many.
  std::string flat = "[";
  for (size_t i = 0; i < kMaxJsonValues; ++i) flat += "{},";
  EXPECT_EQ(ParseError(flat + "{}]"),
            "r:1:" + std::to_string(3 * kMaxJsonValues - 1) + ": more than " +
                std::to_string(kMaxJsonValues) + " JSON values");
}

// Found by the diagnose_json fuzzer: nlohmann converts a float or an
// out-of-range integer to an integer field without a check (undefined
// behaviour). Each must be refused with the key named.
TEST(RenderTest, IntegerFieldsTakeOnlyIntegersInRange) {
  const std::string good = RenderJson(Full());
  const auto with = [&](const std::string& key, const std::string& value) {
    std::string json = good;
    const auto at = json.find("\"" + key + "\": ");
    EXPECT_NE(at, std::string::npos) << key;
    const auto start = at + key.size() + 4;
    json.replace(start, json.find_first_of(",\n", start) - start, value);
    return ParseError(json);
  };
  EXPECT_EQ(with("size_bytes", "6.70698e+59"),
            "r: filesystems[0].size_bytes: wrong type");
  EXPECT_EQ(with("size_bytes", "1.5"),
            "r: filesystems[0].size_bytes: wrong type");
  EXPECT_EQ(with("size_bytes", "-3"),
            "r: filesystems[0].size_bytes: out of range");
  EXPECT_EQ(with("wal_max_segments", "18446744073709551615"),
            "r: limits.wal_max_segments: out of range");
  EXPECT_EQ(with("size_bytes", "18446744073709551615"), "");
}

// Names from the disk or from --from with ESC sequences (title, clear
// screen, a fake green verdict), C1 and DEL: the text shows them escaped.
TEST(RenderTest, TextEscapesControlCharactersInEveryName) {
  const std::string evil =
      "x\x1b]0;t\x07\x1b[2J\x1b[32mOK\x1b[0m\xc2\x9b"
      "31m\x7f\n\r\xff";
  const std::string shown =
      "x\\x1b]0;t\\x07\\x1b[2J\\x1b[32mOK\\x1b["
      "0m\\u009b31m\\x7f\\x0a\\x0d\\xff";
  auto n = Node(kGiB, 5 * kGiB, 20 * kGiB);
  n.root = evil;
  n.filesystems[0].mountpoint = evil;
  for (auto& c : n.components) {
    c.path = "/" + evil;
    c.mountpoint = evil;
  }
  n.components[0].name = evil;
  n.rules.push_back(Rule(evil, "1", 3 * kGiB));
  n.rules.back().command = "find " + evil;
  n.rules.back().mountpoint = evil;
  n.directories_measured = true;
  n.largest_directories.push_back({evil, 5 * kGiB});
  n.most_entries.push_back({evil, 1234});
  n.notes.push_back(evil);
  Limits limits = LimitsFrom(Thresholds{});
  limits.wal_component = evil;
  const std::string text = RenderText(Diagnose(n, limits));
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool c1 = c == 0xC2 && i + 1 < text.size() &&
                    static_cast<unsigned char>(text[i + 1]) <= 0x9F;
    EXPECT_FALSE((c < 0x20 && c != '\n') || c == 0x7F || c1)
        << "byte " << i << " of\n"
        << text;
  }
  EXPECT_NE(text.find(shown), std::string::npos) << text;
  EXPECT_NE(text.find("$ find " + shown), std::string::npos) << text;
}

TEST(RenderTest, InvalidUtf8IsReplacedNotThrown) {
  auto n = Node(kGiB, 5 * kGiB, 20 * kGiB);
  n.components[0].path = "/data/\xff\xfe";
  const std::string json = RenderJson(Diagnose(n, LimitsFrom(Thresholds{})));
  EXPECT_NE(json.find("/data/\xef\xbf\xbd"), std::string::npos);
}

}  // namespace
}  // namespace stemedb::diagnose
