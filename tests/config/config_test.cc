// Loading good configs: path resolution, root overrides, replacement of the
// component list, label order, partial files, and the error value itself.

#include "stemedb/config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "stemedb/config/pattern.h"
#include "test_support.h"

namespace stemedb {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class ConfigFileTest : public testing::Test {
 protected:
  // Writes `text` to dir_/name (creating parents) and returns its path.
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    testutil::WriteFile(path, text);
    return path;
  }

  Config Load(const std::string& path) {
    Config config;
    const Status error = LoadConfigFile(path, &config);
    EXPECT_FALSE(error.has_value()) << error->ToString();
    return config;
  }

  const testutil::TempDir tmp_;
  const fs::path dir_{tmp_.path()};
};

TEST_F(ConfigFileTest, RelativeRootResolvesAgainstTheFilesDirectory) {
  const std::string path =
      Write("etc/stemedb.yaml", "root: ../var/./stemedb/\n");
  const Config config = Load(path);
  const std::string root = (dir_ / "var" / "stemedb").string();
  EXPECT_EQ(config.root, root);
  ASSERT_NE(config.FindComponent("wal"), nullptr);
  EXPECT_EQ(config.FindComponent("wal")->resolved_path, root + "/data/wal");
  EXPECT_EQ(config.FindComponent("wal")->path, "data/wal");
  EXPECT_EQ(config.source, path);
}

TEST_F(ConfigFileTest, NoRootKeepsTheDefaultRoot) {
  const Config config = Load(Write("c.yaml", "scan: {threads: 4}\n"));
  EXPECT_EQ(config.root, "/var/lib/stemedb");
  EXPECT_EQ(config.FindComponent("db")->resolved_path,
            "/var/lib/stemedb/data/db");
}

TEST_F(ConfigFileTest, AbsoluteComponentPathIsKeptAndNormalised) {
  const Config config = Load(Write("c.yaml", R"(root: /srv/stemedb
components:
  wal: {path: /mnt/fast//wal/, segment_pattern: "*.log"}
  backups: {path: /mnt/backup/sets/.., segment_pattern: "b-*"}
  tmp: {path: tmp/, optional: true}
)"));
  ASSERT_EQ(config.components.size(), 3u);
  EXPECT_EQ(config.components[0].resolved_path, "/mnt/fast/wal");
  EXPECT_EQ(config.components[0].path, "/mnt/fast//wal/");  // as written
  EXPECT_EQ(config.components[1].resolved_path, "/mnt/backup");
  EXPECT_EQ(config.components[2].resolved_path, "/srv/stemedb/tmp");
  EXPECT_TRUE(config.components[2].optional);
  EXPECT_FALSE(config.components[0].optional);
}

TEST_F(ConfigFileTest, ComponentsAreReplacedNotMerged) {
  const Config config = Load(Write("c.yaml", R"(root: /srv/s
components:
  journal: {path: j, segment_pattern: "*.wal"}
  dumps: {path: d, segment_pattern: "dump-*"}
  scratch: {path: s}
thresholds:
  wal: {component: journal}
  backups: {component: dumps}
  tmp: {component: scratch}
)"));
  ASSERT_EQ(config.components.size(), 3u);
  // File order, not sorted.
  EXPECT_EQ(config.components[0].name, "journal");
  EXPECT_EQ(config.components[1].name, "dumps");
  EXPECT_EQ(config.components[2].name, "scratch");
  EXPECT_EQ(config.FindComponent("wal"), nullptr);
  EXPECT_EQ(config.FindComponent("db"), nullptr);
  EXPECT_EQ(config.FindComponent("dumps"), &config.components[1]);
  EXPECT_EQ(config.thresholds.wal.component, "journal");
  EXPECT_EQ(config.components[1].segment_pattern, "dump-*");
}

TEST_F(ConfigFileTest, LabelsComeOutInSortedOrder) {
  const Config config = Load(Write("c.yaml", R"(alerting:
  labels:
    zone: eu-1
    app: stemedb
    Mixed_Case: "42"
    _under: x
)"));
  std::vector<std::string> keys;
  for (const auto& [name, value] : config.alerting.labels) keys.push_back(name);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"Mixed_Case", "_under", "app", "zone"}));
  EXPECT_EQ(config.alerting.labels.at("zone"), "eu-1");
  EXPECT_EQ(config.alerting.labels.at("Mixed_Case"), "42");
}

TEST_F(ConfigFileTest, GivenValuesOverrideAndTheRestKeepDefaults) {
  const Config config = Load(Write("c.yaml", R"(scan:
  interval: 90s
  one_filesystem: false
  threads: 64
thresholds:
  disk_space:
    warning: {avail_ratio_below: 0.3}
    emergency: {used_ratio_above: 0.95, for: 0s}
  fill_prediction: {lookback: 1h, for: 1h}
alerting:
  source: node_exporter
dashboard:
  uid: A_b-9
  refresh: 1m
)"));
  EXPECT_EQ(config.scan.interval.value, std::chrono::seconds(90));
  EXPECT_EQ(config.scan.interval.text, "90s");
  EXPECT_FALSE(config.scan.one_filesystem);
  EXPECT_EQ(config.scan.threads, 64);
  EXPECT_EQ(config.scan.max_depth, 256);  // untouched
  EXPECT_EQ(config.thresholds.disk_space.warning.ratio, 0.3);
  EXPECT_EQ(config.thresholds.disk_space.warning.for_duration.text, "15m");
  EXPECT_EQ(config.thresholds.disk_space.emergency_used.ratio, 0.95);
  EXPECT_EQ(config.thresholds.disk_space.emergency_used.for_duration.value,
            std::chrono::milliseconds(0));
  EXPECT_EQ(config.thresholds.fill_prediction.lookback.text, "1h");
  EXPECT_EQ(config.alerting.source, MetricsSource::kNodeExporter);
  EXPECT_EQ(config.dashboard.uid, "A_b-9");
  EXPECT_EQ(config.dashboard.refresh.text, "1m");
  EXPECT_EQ(config.components.size(), 5u);  // default layout kept
}

TEST_F(ConfigFileTest, EmptySectionsKeepDefaults) {
  const Config config = Load(Write("c.yaml", "scan:\nthresholds: {}\n"));
  EXPECT_EQ(config.scan.threads, 2);
}

TEST_F(ConfigFileTest, MissingFileIsAnErrorNamingThePath) {
  const std::string path = (dir_ / "absent.yaml").string();
  Config config;
  const Status error = LoadConfigFile(path, &config);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->ToString(),
            path + ": cannot read config file: No such file or directory");
}

// The cap is on bytes read, exact at the boundary: a file of exactly
// kMaxConfigFileBytes loads, one byte more is refused before parsing.
TEST_F(ConfigFileTest, SizeCapIsExact) {
  const std::string body = "scan:\n  threads: 3\n";
  std::string text = body;
  text.resize(kMaxConfigFileBytes - 1, '#');  // one long comment line
  text = body + "#" + text.substr(body.size() + 1) + "\n";
  ASSERT_EQ(text.size(), kMaxConfigFileBytes);
  EXPECT_EQ(Load(Write("max.yaml", text)).scan.threads, 3);

  const std::string path = Write("over.yaml", text + "\n");
  Config config;
  const Status error = LoadConfigFile(path, &config);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->ToString(),
            path +
                ": cannot read config file: larger than 1 MiB; a config is a "
                "few KiB (is this the right file?)");
}

TEST_F(ConfigFileTest, DirectoryIsAnErrorNamingThePath) {
  Config config;
  const Status error = LoadConfigFile(dir_.string(), &config);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->file, dir_.string());
  EXPECT_NE(error->message.find("directory"), std::string::npos);
}

TEST_F(ConfigFileTest, OverrideRootReResolvesComponents) {
  Config config = Load(Write("c.yaml", R"(root: /srv/a
components:
  wal: {path: data/wal, segment_pattern: "*.log"}
  backups: {path: /backups, segment_pattern: "b-*"}
  tmp: {path: tmp}
)"));
  ASSERT_FALSE(OverrideRoot("/srv/b/", &config).has_value());
  EXPECT_EQ(config.root, "/srv/b");
  EXPECT_EQ(config.components[0].resolved_path, "/srv/b/data/wal");
  EXPECT_EQ(config.components[1].resolved_path, "/backups");  // absolute
  EXPECT_EQ(config.components[2].resolved_path, "/srv/b/tmp");
}

TEST_F(ConfigFileTest, OverrideRootRefusesToMergeTwoComponents) {
  Config config = Load(Write("c.yaml", R"(root: /srv/a
components:
  wal: {path: /srv/b/tmp, segment_pattern: "*.log"}
  backups: {path: /backups, segment_pattern: "b-*"}
  tmp: {path: tmp}
)"));
  const Status error = OverrideRoot("/srv/b", &config);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->key_path, "components.tmp.path");
  EXPECT_EQ(config.root, "/srv/a");  // untouched
  EXPECT_EQ(config.components[2].resolved_path, "/srv/a/tmp");
}

TEST_F(ConfigFileTest, CleanupRulesReplaceTheDefaultsAndResolvePaths) {
  const Config config = Load(Write("c.yaml", R"(root: /srv/s
cleanup:
  rules:
    - name: old_wal
      section: 2
      component: wal
      match: "*.log"
      older_than: 3d
      command: "ls <path>/*.log && echo <path>"
    - name: dumps
      section: "5"
      path: dumps/./x
      type: directory
)"));
  ASSERT_EQ(config.cleanup.rules.size(), 2u);
  const CleanupRule& wal = config.cleanup.rules[0];
  EXPECT_EQ(wal.section, 2);
  EXPECT_EQ(wal.resolved_path, "/srv/s/data/wal");
  EXPECT_EQ(wal.older_than.text, "3d");
  EXPECT_EQ(wal.type, CleanupEntryType::kFile);
  EXPECT_EQ(wal.resolved_command,
            "ls /srv/s/data/wal/*.log && echo /srv/s/data/wal");
  const CleanupRule* dumps = config.FindCleanupRule("dumps");
  ASSERT_NE(dumps, nullptr);
  EXPECT_EQ(dumps->resolved_path, "/srv/s/dumps/x");
  EXPECT_EQ(dumps->match, "*");
  EXPECT_EQ(dumps->type, CleanupEntryType::kDirectory);
  EXPECT_EQ(dumps->older_than.value.count(), 0);
  EXPECT_EQ(dumps->resolved_command, "");
  EXPECT_EQ(config.FindCleanupRule("tmp_files"), nullptr);
}

TEST_F(ConfigFileTest, AtMost64CleanupRules) {
  std::string text = "cleanup:\n  rules:\n";
  for (int i = 0; i < 65; ++i) {
    text += "    - {name: r" + std::to_string(i) + ", path: /x}\n";
  }
  Config config;
  const auto error = LoadConfigFile(Write("c.yaml", text), &config);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->ToString().substr(error->ToString().find(".yaml:") + 6),
            "3:5: cleanup.rules: 65 rules; at most 64");
}

TEST_F(ConfigFileTest, EmptyRuleListMeasuresNothing) {
  EXPECT_TRUE(
      Load(Write("c.yaml", "cleanup: {rules: []}\n")).cleanup.rules.empty());
}

// While the rule list is the default, the WAL step follows the WAL
// thresholds: component, segment pattern, retention and the find command.
TEST_F(ConfigFileTest, DefaultWalRuleFollowsTheWalThresholds) {
  const Config config = Load(Write("c.yaml", R"(root: /srv/s
components:
  journal: {path: j, segment_pattern: "*.wal"}
  sets: {path: b, segment_pattern: "set-*"}
  tmp: {path: t}
thresholds:
  wal: {component: journal, retention: 36h}
  backups: {component: sets}
)"));
  const CleanupRule* wal = config.FindCleanupRule("wal_beyond_retention");
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(wal->resolved_path, "/srv/s/j");
  EXPECT_EQ(wal->match, "*.wal");
  EXPECT_EQ(wal->older_than.text, "36h");
  EXPECT_EQ(wal->resolved_command,
            R"(find /srv/s/j -name "*.wal" -mmin +2160 -delete)");
  const CleanupRule* backups = config.FindCleanupRule("backups_older_than_30d");
  ASSERT_NE(backups, nullptr);
  EXPECT_EQ(backups->resolved_path, "/srv/s/b");
}

TEST_F(ConfigFileTest, OverrideRootReResolvesCleanupRules) {
  Config config = Load(Write("c.yaml", "root: /srv/a\n"));
  ASSERT_FALSE(OverrideRoot("/srv/b", &config).has_value());
  EXPECT_EQ(config.FindCleanupRule("tmp_files")->resolved_path, "/srv/b/data");
  EXPECT_EQ(config.FindCleanupRule("tmp_files")->resolved_command,
            R"(find /srv/b/data -name "*.tmp" -delete)");
  EXPECT_EQ(config.FindCleanupRule("wal_beyond_retention")->resolved_path,
            "/srv/b/data/wal");
  EXPECT_EQ(config.FindCleanupRule("coredumps_older_than_1d")->resolved_path,
            "/var/lib/systemd/coredump");
}

TEST_F(ConfigFileTest, NodeExporterSelectorIsParsed) {
  const Config config = Load(Write("c.yaml", R"(alerting:
  node_exporter_selector: 'mountpoint=~"/data|/srv", fstype!="tmpfs"'
)"));
  ASSERT_EQ(config.alerting.node_exporter_matchers.size(), 2u);
  EXPECT_EQ(config.alerting.node_exporter_matchers[0].name, "mountpoint");
  EXPECT_EQ(config.alerting.node_exporter_matchers[0].op, "=~");
  EXPECT_EQ(config.alerting.node_exporter_matchers[0].value, "/data|/srv");
  EXPECT_EQ(config.alerting.node_exporter_matchers[1].op, "!=");
}

TEST_F(ConfigFileTest, NodeExporterSelectorTakesPromQLStrings) {
  const Config config = Load(Write("c.yaml", R"(alerting:
  node_exporter_selector: "mountpoint=~'/data|/srv', fstype!~`tmp\\.+`,
    device!=\"/dev/x\\\\y\\u00e9\", "
)"));
  const std::vector<LabelMatcher>& m = config.alerting.node_exporter_matchers;
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].value, "/data|/srv");
  EXPECT_EQ(m[1].op, "!~");
  EXPECT_EQ(m[1].value, "tmp\\.+");  // raw: no escapes
  EXPECT_EQ(m[2].value, "/dev/x\\y\xc3\xa9");
}

// A config whose one value is `size` bytes long at `key` (a YAML scalar in
// single quotes), the rest being the defaults.
std::string WithLongValue(const std::string& section, const std::string& key,
                          const std::string& value) {
  return section + ":\n  " + key + ": '" + value + "'\n";
}

// The hostile selectors of the red-team pass: std::regex overflowed the
// stack on a 200 KB value (SIGSEGV) and took seconds on 28 characters of
// nested quantifiers. Now: refused at the cap with the byte count, or
// checked in linear time.
TEST_F(ConfigFileTest, HostileSelectorsAreRefusedOrLinear) {
  const std::string huge =
      "mountpoint=\"/data\",fstype!~\"" + std::string(200 * 1024, 'a') + "\"";
  Config config;
  Status error = LoadConfigFile(
      Write("huge.yaml",
            WithLongValue("alerting", "node_exporter_selector", huge)),
      &config);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->line, 2);
  EXPECT_EQ(error->column, 27);
  EXPECT_NE(
      error->message.find(std::to_string(huge.size()) + " bytes; at most 4096"),
      std::string::npos)
      << error->message;

  // The test value is 28 a's, which the nested regex is asked about.
  const std::string nested =
      "mountpoint=\"" + std::string(28, 'a') + "\",mountpoint!~\"(a+)+b\"";
  const auto start = std::chrono::steady_clock::now();
  config =
      Load(Write("nested.yaml",
                 WithLongValue("alerting", "node_exporter_selector", nested)));
  EXPECT_EQ(config.alerting.node_exporter_matchers.size(), 2u);
  // Backtracking took 7 s here and doubled per character; this bound is
  // for a hang, not a race.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));

  // The longest value the cap allows, the worst shape: still linear.
  std::string longest = "mountpoint=\"/data\",fstype!~\"";
  while (longest.size() + 8 < kMaxRegexBytes) longest += "(a+)+";
  longest += "b\"";
  config =
      Load(Write("longest.yaml",
                 WithLongValue("alerting", "node_exporter_selector", longest)));
  EXPECT_EQ(config.alerting.node_exporter_matchers.size(), 2u);
}

TEST_F(ConfigFileTest, HostileGlobsAreRefusedAtTheCap) {
  const std::string huge = std::string(200 * 1024, '*') + "a";
  for (const auto& [yaml, where] : std::vector<std::pair<std::string, int>>{
           {"cleanup:\n  rules:\n    - name: r\n      path: data\n"
            "      match: '" +
                huge + "'\n",
            5},
           {"components:\n  wal: {path: w, segment_pattern: '" + huge +
                "'}\n  backups: {path: b, segment_pattern: 'b-*'}\n",
            2}}) {
    Config config;
    Status error = LoadConfigFile(Write("glob.yaml", yaml), &config);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->line, where);
    EXPECT_NE(error->message.find("204801 bytes long; at most 1024"),
              std::string::npos)
        << error->message;
  }
}

TEST(DefaultConfigRootTest, RootOverrideReResolvesEveryComponent) {
  const Config config = DefaultConfig("/x");
  EXPECT_EQ(config.root, "/x");
  ASSERT_EQ(config.components.size(), 5u);
  EXPECT_EQ(config.FindComponent("wal")->resolved_path, "/x/data/wal");
  EXPECT_EQ(config.FindComponent("db")->resolved_path, "/x/data/db");
  EXPECT_EQ(config.FindComponent("backups")->resolved_path, "/x/backups");
  EXPECT_EQ(config.FindComponent("logs")->resolved_path, "/x/logs");
  EXPECT_EQ(config.FindComponent("tmp")->resolved_path, "/x/data/tmp");
}

TEST(DefaultConfigRootTest, RelativeRootResolvesAgainstCurrentDirectory) {
  const fs::path cwd = fs::current_path();
  const Config config = DefaultConfig("var/../stemedb/");
  EXPECT_EQ(config.root, (cwd / "stemedb").string());
  EXPECT_EQ(config.FindComponent("wal")->resolved_path,
            (cwd / "stemedb" / "data" / "wal").string());
}

TEST(DefaultConfigRootTest, SlashRootHasNoDoubleSlash) {
  const Config config = DefaultConfig("/");
  EXPECT_EQ(config.root, "/");
  EXPECT_EQ(config.FindComponent("logs")->resolved_path, "/logs");
}

TEST(ParseConfigTest, RelativeBaseDirResolvesAgainstCurrentDirectory) {
  Config config;
  const Status error = ParseConfig("root: r\n", "inline", "some/dir", &config);
  ASSERT_FALSE(error.has_value()) << error->ToString();
  EXPECT_EQ(config.root, (fs::current_path() / "some/dir/r").string());
  EXPECT_EQ(config.source, "inline");
}

TEST(ParseConfigTest, FailureLeavesOutputUntouched) {
  Config config = DefaultConfig("/kept");
  const Status error =
      ParseConfig("root: /other\nscan: {threads: 0}\n", "inline", "/", &config);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->ToString(),
            "inline:2:17: scan.threads: 0 must be between 1 and 64");
  EXPECT_EQ(config.root, "/kept");
}

TEST(ConfigErrorTest, ToStringOmitsWhatIsUnknown) {
  EXPECT_EQ((ConfigError{"f.yaml", 3, 7, "scan.threads", "bad"}).ToString(),
            "f.yaml:3:7: scan.threads: bad");
  EXPECT_EQ((ConfigError{"f.yaml", 0, 0, "scan", "bad"}).ToString(),
            "f.yaml: scan: bad");
  EXPECT_EQ((ConfigError{"f.yaml", 0, 0, "", "bad"}).ToString(), "f.yaml: bad");
  EXPECT_EQ((ConfigError{"f.yaml", 4, 0, "", "bad"}).ToString(),
            "f.yaml:4: bad");
  EXPECT_EQ((ConfigError{"", 0, 0, "", "bad"}).ToString(), "bad");
}

// A path or key from outside goes to a terminal: its escapes are shown, not
// obeyed.
TEST(ConfigErrorTest, ToStringEscapesControlCharacters) {
  EXPECT_EQ((ConfigError{"/d/\x1b]0;t\x07.yaml", 1, 2,
                         "k\xc2\x9b"
                         "2J",
                         "bad\x7f\xff"})
                .ToString(),
            "/d/\\x1b]0;t\\x07.yaml:1:2: k\\u009b2J: bad\\x7f\\xff");
}

}  // namespace
}  // namespace stemedb
