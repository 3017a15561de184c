// StemeDB's config.toml as the source of threshold defaults: the parser
// against hostile input, the resolution against the YAML, the thresholds
// in force, the journald reader and the Prevention checks.
#include "stemedb/config/stemedb_config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

#include "stemedb/config/config.h"
#include "stemedb/config/thresholds_in_force.h"
#include "test_support.h"
#include "yaml_leaves.h"

namespace stemedb {
namespace {

using ::stemedb::testutil::CollectLeaves;

using testutil::TempDir;
using testutil::WriteFile;

// The runbook's "Comprehensive disk management" example, as written.
constexpr char kRunbookToml[] = R"(# /etc/stemedb/config.toml
[wal]
retention_days = 7
max_segments = 100
segment_size_mb = 64
[storage]
compaction_enabled = true
compaction_interval_hours = 24
compaction_threshold_mb = 1000
[backup]
retention_days = 7
compression_enabled = true
)";

Error ParseError(const std::string& text) {
  StemedbSettings settings;
  const Status err = ParseStemedbToml(text, "c.toml", &settings);
  EXPECT_TRUE(err.has_value()) << text.substr(0, 80);
  return err.value_or(Error{});
}

TEST(StemedbTomlTest, ReadsTheRunbookExample) {
  StemedbSettings s;
  const Status err = ParseStemedbToml(kRunbookToml, "c.toml", &s);
  ASSERT_FALSE(err) << err->ToString();
  EXPECT_EQ(s.wal_retention_days, 7);
  EXPECT_EQ(s.wal_max_segments, 100);
  EXPECT_EQ(s.wal_segment_size_mb, 64);
  EXPECT_EQ(s.compaction_enabled, true);
  EXPECT_EQ(s.compaction_interval_hours, 24);
  EXPECT_EQ(s.compaction_threshold_mb, 1000);
  EXPECT_EQ(s.backup_retention_days, 7);
}

TEST(StemedbTomlTest, EmptyAndForeignKeysAreFine) {
  StemedbSettings s;
  EXPECT_FALSE(ParseStemedbToml("", "c.toml", &s));
  EXPECT_FALSE(s.wal_retention_days);
  EXPECT_FALSE(ParseStemedbToml("[server]\nport = 18180\n[wal]\ndir = \"x\"\n",
                                "c.toml", &s));
  EXPECT_FALSE(s.wal_max_segments);
}

TEST(StemedbTomlTest, WrongTypesNameFileLineColumnAndKey) {
  Error e = ParseError("[wal]\nretention_days = \"7\"\n");
  EXPECT_EQ(e.file, "c.toml");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 18);
  EXPECT_EQ(e.key_path, "wal.retention_days");
  EXPECT_NE(e.message.find("expected an integer, got a string"),
            std::string::npos);
  e = ParseError("[wal]\nmax_segments = 7.5\n");
  EXPECT_NE(e.message.find("got a float"), std::string::npos) << e.message;
  e = ParseError("[storage]\ncompaction_enabled = 1\n");
  EXPECT_NE(e.message.find("expected true or false"), std::string::npos);
  e = ParseError("wal = 3\n");
  EXPECT_EQ(e.line, 1);
  EXPECT_EQ(e.key_path, "wal");
  e = ParseError("[backup]\nretention_days = [7]\n");
  EXPECT_EQ(e.key_path, "backup.retention_days");
}

TEST(StemedbTomlTest, OutOfRangeValuesAreRefused) {
  Error e = ParseError("[wal]\nmax_segments = -1\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_NE(e.message.find("-1 is out of range"), std::string::npos);
  e = ParseError("[wal]\nretention_days = 0\n");
  EXPECT_NE(e.message.find("out of range"), std::string::npos);
  e = ParseError("[backup]\nretention_days = 36501\n");
  EXPECT_NE(e.message.find("out of range"), std::string::npos);
  // Beyond 2^53 the alert's float64 comparison is no longer exact.
  e = ParseError("[wal]\nmax_segments = 9007199254740993\n");
  EXPECT_NE(e.message.find("out of range"), std::string::npos);
  // Beyond int64: toml++ refuses it while parsing, with its position.
  e = ParseError("[wal]\nmax_segments = 99999999999999999999999\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_NE(e.message.find("invalid TOML"), std::string::npos);
}

TEST(StemedbTomlTest, MalformedTomlNamesItsLine) {
  const Error e = ParseError("[wal]\nretention_days = 7\n[storage\n");
  EXPECT_EQ(e.file, "c.toml");
  EXPECT_EQ(e.line, 3);
  EXPECT_GT(e.column, 0);
  EXPECT_EQ(e.ToString().rfind("c.toml:3:", 0), 0u) << e.ToString();
  EXPECT_EQ(ParseError("[wal]\n[wal]\n").line, 2);  // a table defined twice
}

// toml++ recurses once per table level when it frees a table, and a chain
// of dotted keys has no nesting limit there: 300,000 levels overflow the
// stack. The bound on dots refuses it before parsing.
TEST(StemedbTomlTest, DeepDottedKeysAreRefusedBeforeParsing) {
  std::string chain;
  for (int i = 0; i < 100'000; ++i) chain += "a.";
  Error e = ParseError(chain + "b = 1\n");
  EXPECT_EQ(e.line, 1);
  EXPECT_NE(e.message.find("dots"), std::string::npos);
  e = ParseError("[" + chain + "b]\n");
  EXPECT_NE(e.message.find("dots"), std::string::npos);
  // Dots in strings and comments do not count.
  std::string dots(5000, '.');
  StemedbSettings s;
  EXPECT_FALSE(ParseStemedbToml(
      "# " + dots + "\nx = \"" + dots + "\"\ny = '''\n" + dots + "\n'''\n",
      "c.toml", &s));
}

TEST(StemedbTomlTest, DeepArraysAndInlineTablesStopAtTomlppsLimit) {
  Error e = ParseError("x = " + std::string(100'000, '['));
  EXPECT_NE(e.message.find("nested"), std::string::npos) << e.message;
  std::string inl = "x = ";
  for (int i = 0; i < 10'000; ++i) inl += "{a=";
  e = ParseError(inl);
  EXPECT_EQ(e.line, 1);
}

TEST(StemedbTomlTest, OversizedInputIsRefused) {
  const Error e =
      ParseError("# " + std::string(kMaxStemedbConfigBytes, 'x') + "\n");
  EXPECT_NE(e.message.find("at most"), std::string::npos);
}

TEST(StemedbTomlTest, BinaryGarbageIsAnErrorNotACrash) {
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 131) % 256);
  ParseError(garbage);
}

// --- The resolution, through the loader. ---

std::string Source(const Config& c, std::string_view key) {
  for (const ThresholdInForce& t : ThresholdsInForce(c)) {
    if (t.key == key) return std::string(ThresholdSourceName(t.source));
  }
  return "missing";
}

double Value(const Config& c, std::string_view key) {
  for (const ThresholdInForce& t : ThresholdsInForce(c)) {
    if (t.key == key) return t.value;
  }
  return -1;
}

TEST(StemedbResolutionTest, TomlValuesAreDefaultsAndYamlWins) {
  TempDir dir;
  WriteFile(dir / "config.toml",
            "[wal]\nretention_days = 3\nmax_segments = 40\n"
            "[backup]\nretention_days = 5\n");
  WriteFile(dir / "exporter.yaml",
            "root: .\nstemedb_config: config.toml\nprevention:\n"
            "  journald_config: ''\nthresholds:\n  wal:\n"
            "    max_segments: 250\n");
  Config c;
  const Status err = LoadConfigFile(dir / "exporter.yaml", &c);
  ASSERT_FALSE(err) << err->ToString();
  EXPECT_EQ(c.stemedb.state, StemedbConfig::State::kLoaded);
  EXPECT_EQ(c.thresholds.wal.retention.value, std::chrono::hours(72));
  EXPECT_EQ(c.thresholds.wal.retention.text, "3d");
  EXPECT_EQ(Source(c, "wal.retention"), "stemedb");
  EXPECT_EQ(Value(c, "wal.retention"), 3 * 86400.0);
  EXPECT_EQ(c.thresholds.wal.max_segments, 250);
  EXPECT_EQ(Source(c, "wal.max_segments"), "config");
  EXPECT_EQ(Value(c, "backups.retention"), 5 * 86400.0);
  EXPECT_EQ(Source(c, "backups.retention"), "stemedb");
  EXPECT_EQ(Source(c, "tmp.max_bytes"), "default");
  EXPECT_EQ(Value(c, "tmp.max_bytes"), 1073741824.0);
  // The default WAL cleanup rule follows the retention in force.
  const CleanupRule* rule = c.FindCleanupRule("wal_beyond_retention");
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->older_than.value, std::chrono::hours(72));
}

TEST(StemedbResolutionTest, AbsentFileIsFineAndNullDisables) {
  TempDir dir;
  WriteFile(dir / "a.yaml", "stemedb_config: nowhere/config.toml\n");
  Config c;
  ASSERT_FALSE(LoadConfigFile(dir / "a.yaml", &c));
  EXPECT_EQ(c.stemedb.state, StemedbConfig::State::kAbsent);
  EXPECT_EQ(c.stemedb.resolved_path, dir / "nowhere/config.toml");
  EXPECT_EQ(Source(c, "wal.retention"), "default");
  for (const char* off : {"stemedb_config: null\n", "stemedb_config: ''\n",
                          "stemedb_config:\n"}) {
    WriteFile(dir / "b.yaml", off);
    ASSERT_FALSE(LoadConfigFile(dir / "b.yaml", &c)) << off;
    EXPECT_EQ(c.stemedb.state, StemedbConfig::State::kDisabled) << off;
  }
}

TEST(StemedbResolutionTest, BadTomlFailsTheLoadWithItsPosition) {
  TempDir dir;
  WriteFile(dir / "config.toml", "[wal]\nretention_days = 3\nmax_segments =\n");
  WriteFile(dir / "a.yaml", "stemedb_config: config.toml\n");
  Config c;
  const Status err = LoadConfigFile(dir / "a.yaml", &c);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->file, dir / "config.toml");
  EXPECT_EQ(err->line, 3);
  // A directory in its place is an error too, not "absent".
  WriteFile(dir / "d/x", "");
  WriteFile(dir / "b.yaml", "stemedb_config: d\n");
  EXPECT_TRUE(LoadConfigFile(dir / "b.yaml", &c));
}

TEST(StemedbResolutionTest, EmbeddedDefaultReadsNoFile) {
  const Config c = DefaultConfig();
  EXPECT_EQ(c.stemedb.state, StemedbConfig::State::kDisabled);
  EXPECT_EQ(c.stemedb.path, "/etc/stemedb/config.toml");
  EXPECT_TRUE(c.threshold_sources.empty());
  EXPECT_FALSE(c.prevention.journald_read);
}

// Every numeric key under thresholds: in the documented default (plus the
// three it shows commented out) is exported, and nothing else: a threshold
// added to the schema and not to the table fails here.
TEST(ThresholdsInForceTest, CoversEveryThresholdOfTheSchema) {
  std::set<std::string> leaves;
  CollectLeaves(YAML::Load(std::string(DefaultConfigYaml()))["thresholds"], "",
                &leaves);
  std::erase_if(leaves,
                [](const std::string& k) { return k.ends_with(".component"); });
  leaves.insert({"wal.retention", "wal.max_segments", "backups.retention"});
  std::set<std::string> keys;
  for (const std::string_view k : ThresholdKeys()) keys.emplace(k);
  EXPECT_EQ(keys, leaves);
}

TEST(ThresholdsInForceTest, ValuesAreInBaseUnits) {
  const Config c = DefaultConfig();
  EXPECT_EQ(Value(c, "disk_space.warning.avail_ratio_below"), 0.20);
  EXPECT_EQ(Value(c, "disk_space.warning.for"), 900);
  EXPECT_EQ(Value(c, "wal.retention"), 7 * 86400.0);
  EXPECT_EQ(Value(c, "wal.max_segments"), 100);
  EXPECT_EQ(Value(c, "exporter.scan_stale_after"), 900);
}

// --- journald and the Prevention checks. ---

TEST(JournaldTest, DropInsOverrideInNameOrderAndEmptyResets) {
  TempDir dir;
  const std::string conf = dir / "journald.conf";
  std::string value, where;
  ASSERT_FALSE(ReadJournaldSystemMaxUse(conf, &value, &where));
  EXPECT_EQ(value, "");  // no file at all: no cap
  WriteFile(conf, "[Journal]\n#SystemMaxUse=\nStorage=auto\n");
  ASSERT_FALSE(ReadJournaldSystemMaxUse(conf, &value, &where));
  EXPECT_EQ(value, "");
  WriteFile(dir / "journald.conf.d/50-vacuum.conf",
            "[Journal]\nSystemMaxUse=500M\nMaxRetentionSec=7day\n");
  WriteFile(dir / "journald.conf.d/10-other.conf",
            "[Journal]\nSystemMaxUse=1G\n");
  WriteFile(dir / "journald.conf.d/note.txt", "[Journal]\nSystemMaxUse=9G\n");
  ASSERT_FALSE(ReadJournaldSystemMaxUse(conf, &value, &where));
  EXPECT_EQ(value, "500M");
  EXPECT_EQ(where, dir / "journald.conf.d/50-vacuum.conf:2");
  WriteFile(dir / "journald.conf.d/90-reset.conf",
            "[Other]\nSystemMaxUse=3G\n[Journal]\nSystemMaxUse=\n");
  ASSERT_FALSE(ReadJournaldSystemMaxUse(conf, &value, &where));
  EXPECT_EQ(value, "");
}

const PreventionCheck* Find(const std::vector<PreventionCheck>& checks,
                            std::string_view name) {
  for (const PreventionCheck& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

TEST(PreventionTest, ChecksFollowTheRunbookAdvice) {
  TempDir dir;
  WriteFile(dir / "config.toml",
            "[wal]\nretention_days = 14\nmax_segments = 100\n"
            "[storage]\ncompaction_enabled = false\n");
  WriteFile(dir / "journald.conf", "[Journal]\nStorage=auto\n");
  WriteFile(dir / "a.yaml",
            "stemedb_config: config.toml\nprevention:\n"
            "  journald_config: journald.conf\n");
  Config c;
  ASSERT_FALSE(LoadConfigFile(dir / "a.yaml", &c));
  auto checks = PreventionChecks(c, 150);
  ASSERT_NE(Find(checks, "compaction_disabled"), nullptr);
  EXPECT_TRUE(Find(checks, "compaction_disabled")->failing);
  EXPECT_TRUE(Find(checks, "wal_retention_above_advice")->failing);
  EXPECT_NE(Find(checks, "wal_retention_above_advice")->detail.find("14"),
            std::string::npos);
  EXPECT_TRUE(Find(checks, "backup_retention_above_advice")->failing);
  EXPECT_TRUE(Find(checks, "segments_over_max")->failing);
  EXPECT_TRUE(Find(checks, "journald_no_size_cap")->failing);
  EXPECT_FALSE(PreventionChecks(c, 100)[3].failing);  // segments_over_max

  WriteFile(dir / "config.toml", kRunbookToml);
  WriteFile(dir / "journald.conf.d/vacuum.conf",
            "[Journal]\nSystemMaxUse=500M\n");
  ASSERT_FALSE(LoadConfigFile(dir / "a.yaml", &c));
  checks = PreventionChecks(c, 10);
  EXPECT_EQ(checks.size(), 5u);
  for (const PreventionCheck& check : checks) {
    EXPECT_FALSE(check.failing) << check.name << ": " << check.detail;
  }
  // Without config.toml only the journald check can be made.
  WriteFile(dir / "b.yaml",
            "stemedb_config: null\nprevention:\n"
            "  journald_config: journald.conf\n");
  ASSERT_FALSE(LoadConfigFile(dir / "b.yaml", &c));
  checks = PreventionChecks(c, 10);
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].name, "journald_no_size_cap");
}

}  // namespace
}  // namespace stemedb
