// The bad-config corpus: tests/data/bad-configs/NAME.yaml, one case per file,
// whose first line is "# expect: TEXT". Loading the file must fail, and the
// error must read "<path>:TEXT" (TEXT starts with line:column) or, for errors
// without a position, "<path>: TEXT". So file, line and column are checked
// exactly, and adding a case needs no code.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "stemedb/config/config.h"

namespace stemedb {
namespace {

namespace fs = std::filesystem;

const fs::path kDataDir = fs::path(STEMEDB_SOURCE_DIR) / "tests" / "data";
const fs::path kCorpusDir = kDataDir / "bad-configs";
// Hostile input: out-of-range durations, non-UTF-8 text, template
// text, overlapping components. tests/e2e/test_hostile.py feeds the same
// files to both binaries.
const fs::path kHostileDir = kDataDir / "hostile-configs";

std::vector<std::string> CorpusNames(const fs::path& dir = kCorpusDir) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".yaml") {
      names.push_back(entry.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The text after "# expect: " on the first line, or "" without one.
std::string ExpectedText(const fs::path& path) {
  std::ifstream file(path);
  std::string first_line;
  std::getline(file, first_line);
  const std::string prefix = "# expect: ";
  if (first_line.rfind(prefix, 0) != 0) return "";
  return first_line.substr(prefix.size());
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class BadConfigTest : public testing::TestWithParam<std::string> {
 protected:
  virtual fs::path Dir() const { return kCorpusDir; }
  void Check() const;
};

class HostileConfigTest : public BadConfigTest {
 protected:
  fs::path Dir() const override { return kHostileDir; }
};

TEST_P(BadConfigTest, FailsWithExpectedMessage) { Check(); }
TEST_P(HostileConfigTest, FailsWithExpectedMessage) { Check(); }

void BadConfigTest::Check() const {
  const fs::path path = Dir() / (GetParam() + ".yaml");
  const std::string expected = ExpectedText(path);
  ASSERT_FALSE(expected.empty()) << path << " lacks a '# expect: ' first line";

  Config config;
  config.source = "untouched";
  const Status error = LoadConfigFile(path.string(), &config);
  ASSERT_TRUE(error.has_value()) << path << " loaded without error";
  EXPECT_EQ(config.source, "untouched") << "a failed load changed *out";

  const bool positioned = std::isdigit(static_cast<unsigned char>(expected[0]));
  const std::string suffix =
      path.filename().string() + (positioned ? ":" : ": ") + expected;
  EXPECT_TRUE(EndsWith(error->ToString(), suffix))
      << "  got: " << error->ToString() << "\n want: ..." << suffix;
  EXPECT_EQ(error->file, path.string());
}

std::string ParamName(const testing::TestParamInfo<std::string>& param) {
  return param.param;
}

INSTANTIATE_TEST_SUITE_P(Corpus, BadConfigTest,
                         testing::ValuesIn(CorpusNames()), ParamName);
INSTANTIATE_TEST_SUITE_P(Corpus, HostileConfigTest,
                         testing::ValuesIn(CorpusNames(kHostileDir)),
                         ParamName);

// The brief asks for at least 25 cases; guards against a corpus that was
// moved or emptied, which would otherwise pass vacuously.
TEST(BadConfigCorpusTest, HasEnoughCases) {
  EXPECT_GE(CorpusNames().size(), 25u);
}

}  // namespace
}  // namespace stemedb
