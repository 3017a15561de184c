#include "stemedb/cli/suggest.h"

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace stemedb::cli {
namespace {

TEST(EditDistanceTest, CountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("--chek", "--check"), 1u);
  EXPECT_EQ(EditDistance("--check", "--chekc"), 2u);  // a swap is two
}

const std::vector<std::string> kFlags = {"--config",
                                         "--root",
                                         "--once",
                                         "--textfile",
                                         "--web.listen-address",
                                         "--web.telemetry-path",
                                         "--web.config.file",
                                         "--log.level",
                                         "--log.format",
                                         "--version",
                                         "--help"};

TEST(NearestFlagTest, SuggestsTheNearestFlag) {
  EXPECT_EQ(NearestFlag("--web.listen-adress", kFlags), "--web.listen-address");
  EXPECT_EQ(NearestFlag("--web.listen-adress=:9100", kFlags),
            "--web.listen-address");
  EXPECT_EQ(NearestFlag("--confg", kFlags), "--config");
  EXPECT_EQ(NearestFlag("--log-level", kFlags), "--log.level");
  EXPECT_EQ(NearestFlag("-version", kFlags), "--version");
}

TEST(NearestFlagTest, SaysNothingWhenNothingIsClose) {
  EXPECT_EQ(NearestFlag("--frobnicate", kFlags), std::nullopt);
  EXPECT_EQ(NearestFlag("--x", kFlags), std::nullopt);
}

TEST(NearestFlagTest, DoesNotGuessBetweenTwoEquallyNear) {
  EXPECT_EQ(NearestFlag("--log.formet", {"--log.format", "--log.formit"}),
            std::nullopt);
}

TEST(UnknownArgumentsMessageTest, NamesTheFlagAndTheSuggestion) {
  CLI::App app{"test", "test"};
  std::string address;
  bool once = false;
  app.add_option("--web.listen-address", address);
  app.add_flag("--once", once);
  try {
    app.parse(std::vector<std::string>{":9100", "--web.listen-adress"});
    FAIL() << "an unknown flag must not parse";
  } catch (const CLI::ExtrasError&) {
  }
  // CLI11 keeps the value after the unknown flag as extra too; only the
  // flag is named.
  EXPECT_EQ(UnknownArgumentsMessage(app),
            "unknown flag --web.listen-adress (did you mean "
            "--web.listen-address?)");
}

TEST(UnknownArgumentsMessageTest, NamesAStrayArgument) {
  CLI::App app{"test", "test"};
  bool once = false;
  app.add_flag("--once", once);
  try {
    app.parse(std::vector<std::string>{"stray"});
    FAIL() << "a positional argument must not parse";
  } catch (const CLI::ExtrasError&) {
  }
  EXPECT_EQ(UnknownArgumentsMessage(app), "unexpected argument stray");
}

}  // namespace
}  // namespace stemedb::cli
