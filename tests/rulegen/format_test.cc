// Number and text formatting: the truths are Prometheus' documented template
// examples, GitHub's heading slugs, and exact decimal arithmetic.
#include "stemedb/rulegen/format.h"

#include <gtest/gtest.h>

#include <cmath>

namespace stemedb::rulegen {
namespace {

TEST(FormatNumberTest, ShortestRoundTrip) {
  EXPECT_EQ(FormatNumber(0.1), "0.1");
  EXPECT_EQ(FormatNumber(0.2), "0.2");
  EXPECT_EQ(FormatNumber(0.98), "0.98");
  EXPECT_EQ(FormatNumber(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatNumber(1e-7), "1e-07");
  EXPECT_EQ(FormatNumber(-2.5), "-2.5");
}

TEST(FormatNumberTest, IntegersStayIntegers) {
  EXPECT_EQ(FormatNumber(1073741824), "1073741824");
  EXPECT_EQ(FormatNumber(604800), "604800");
  EXPECT_EQ(FormatNumber(0), "0");
  EXPECT_EQ(FormatNumber(-60), "-60");
  EXPECT_EQ(FormatNumber(1e20), "1e+20");  // beyond 2^53: shortest form
}

TEST(FormatNumberTest, ReadsBackExactly) {
  for (double v : {0.07, 0.1 + 0.2, 123.456, 1e-300, 0.9299999999999999}) {
    EXPECT_EQ(std::stod(FormatNumber(v)), v) << FormatNumber(v);
  }
}

TEST(FormatPercentTest, MovesTheDecimalPoint) {
  EXPECT_EQ(FormatPercent(0.2), "20");
  EXPECT_EQ(FormatPercent(0.07), "7");  // 0.07 * 100 is 7.000000000000001
  EXPECT_EQ(FormatPercent(0.125), "12.5");
  EXPECT_EQ(FormatPercent(0.98), "98");
  EXPECT_EQ(FormatPercent(0.00001), "0.001");
  EXPECT_EQ(FormatPercent(0.5), "50");
}

TEST(DecimalComplementTest, NoFloatArtefacts) {
  ASSERT_NE(1 - 0.07, 0.93);  // the artefact this function exists to avoid
  EXPECT_EQ(DecimalComplement(0.07), 0.93);
  EXPECT_EQ(DecimalComplement(0.2), 0.8);
  EXPECT_EQ(DecimalComplement(0.05), 0.95);
  EXPECT_EQ(DecimalComplement(0.123), 0.877);
  EXPECT_EQ(DecimalComplement(0.5), 0.5);
  EXPECT_EQ(FormatNumber(DecimalComplement(0.07)), "0.93");
}

TEST(FormatSecondsTest, WholeAndFractional) {
  EXPECT_EQ(FormatSeconds(604800000), "604800");
  EXPECT_EQ(FormatSeconds(1500), "1.5");
  EXPECT_EQ(FormatSeconds(0), "0");
}

// Examples from Prometheus' and Grafana's template documentation.
TEST(HumanizeTest, DocumentedExamples) {
  EXPECT_EQ(Humanize1024(1048576.0), "1Mi");
  EXPECT_EQ(HumanizeDuration(899.99), "14m 59s");
  EXPECT_EQ(HumanizePercentage(0.1234567), "12.35%");
}

TEST(HumanizeTest, Humanize1024Ranges) {
  EXPECT_EQ(Humanize1024(0.5), "0.5");
  EXPECT_EQ(Humanize1024(1), "1");
  EXPECT_EQ(Humanize1024(1023), "1023");
  EXPECT_EQ(Humanize1024(4096), "4ki");
  EXPECT_EQ(Humanize1024(1073741824), "1Gi");
  EXPECT_EQ(Humanize1024(1536.0 * 1024 * 1024), "1.5Gi");
  EXPECT_EQ(Humanize1024(1099511627776.0 * 5000), "4.883Pi");
}

TEST(HumanizeTest, DurationForms) {
  EXPECT_EQ(HumanizeDuration(0), "0s");
  EXPECT_EQ(HumanizeDuration(1.5), "1.5s");
  EXPECT_EQ(HumanizeDuration(61), "1m 1s");
  EXPECT_EQ(HumanizeDuration(3600), "1h 0m 0s");
  EXPECT_EQ(HumanizeDuration(7 * 86400 + 3600 + 60), "7d 1h 1m 0s");
  EXPECT_EQ(HumanizeDuration(-90), "-1m 30s");
  EXPECT_EQ(HumanizeDuration(0.25), "250ms");
}

TEST(HumanizeTest, PercentageUsesFourSignificantDigits) {
  EXPECT_EQ(HumanizePercentage(0.1), "10%");
  EXPECT_EQ(HumanizePercentage(0.99999), "100%");
  EXPECT_EQ(HumanizePercentage(0.0123456), "1.235%");
  EXPECT_EQ(HumanizePercentage(std::nan("")), "NaN%");
}

TEST(RenderAlertTemplateTest, LabelsAndValues) {
  const std::map<std::string, std::string> labels = {{"mountpoint", "/data"},
                                                     {"instance", "h:1"}};
  EXPECT_EQ(RenderAlertTemplate(
                "{{ $labels.mountpoint }} on {{ $labels.instance }} has "
                "{{ $value | humanizePercentage }} free",
                labels, 0.05),
            "/data on h:1 has 5% free");
  EXPECT_EQ(RenderAlertTemplate("{{ $value | humanize1024 }}B", labels, 2048),
            "2kiB");
  EXPECT_EQ(RenderAlertTemplate("{{ $value | printf \"%.0f\" }}", labels, 101),
            "101");
  EXPECT_EQ(RenderAlertTemplate("[{{ $labels.missing }}]", labels, 0), "[]");
}

// Config text in labels and annotations comes out as written once
// Prometheus expands it (promtool proves it in tests/e2e/test_hostile_rules).
TEST(TemplateLiteralTest, ExpandsToItself) {
  EXPECT_EQ(TemplateLiteral("plain }} text"), "plain }} text");
  EXPECT_EQ(TemplateLiteral("a {{ b"), "a {{ \"{{\" }} b");
  EXPECT_EQ(TemplateLiteral("{{{"), "{{ \"{{\" }}{");
  for (const std::string text :
       {"a {{ b", "{{ $value }}", "{{{{", "x{{y}}z", "}}{{", "{{ \"{{\" }}"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(RenderAlertTemplate(TemplateLiteral(text), {}, 0), text);
  }
}

TEST(YamlScalarTest, EmitterQuotesAndEscapes) {
  EXPECT_EQ(YamlDoubleQuoted("a\"b\\c\nd\te"), "\"a\\\"b\\\\c\\nd\\te\"");
  EXPECT_EQ(YamlSingleQuoted("x{a=\"it's\"}"), "'x{a=\"it''s\"}'");
  // Single quotes cannot hold a line break: double quotes instead.
  EXPECT_EQ(YamlSingleQuoted("a\nb"), "\"a\\nb\"");
  EXPECT_EQ(YamlDoubleQuoted("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

TEST(RenderAlertTemplateTest, RefusesWhatItCannotPredict) {
  EXPECT_EQ(RenderAlertTemplate("{{ $value }}", {}, 1), std::nullopt);
  EXPECT_EQ(RenderAlertTemplate("{{ $value | humanize }}", {}, 1),
            std::nullopt);
  EXPECT_EQ(RenderAlertTemplate("{{ if true }}", {}, 1), std::nullopt);
  EXPECT_EQ(RenderAlertTemplate("{{ $labels.x ", {}, 1), std::nullopt);
}

// Headings copied from disk-full.md; slugs as GitHub renders them.
TEST(GitHubAnchorTest, RunbookHeadings) {
  EXPECT_EQ(GitHubAnchor("§1. Emergency Cleanup (Disk >98%)"),
            "1-emergency-cleanup-disk-98");
  EXPECT_EQ(GitHubAnchor("§2. WAL Cleanup (Planned)"), "2-wal-cleanup-planned");
  EXPECT_EQ(GitHubAnchor("§4. Inode Exhaustion"), "4-inode-exhaustion");
  EXPECT_EQ(GitHubAnchor("Quick Diagnosis"), "quick-diagnosis");
  EXPECT_EQ(GitHubAnchor("Capacity Planning"), "capacity-planning");
  EXPECT_EQ(GitHubAnchor("snake_case-and-dash"), "snake_case-and-dash");
}

TEST(YamlQuoteTest, Escapes) {
  EXPECT_EQ(YamlDoubleQuoted("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(YamlSingleQuoted("it's {a=\"b\"}"), "'it''s {a=\"b\"}'");
  EXPECT_EQ(PromQuote("x\"y\\"), "\"x\\\"y\\\\\"");
}

}  // namespace
}  // namespace stemedb::rulegen
