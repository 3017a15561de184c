// Atomic, all-or-nothing writes and --check, against a real temp directory.
#include "stemedb/rulegen/writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "test_support.h"

namespace stemedb::rulegen {
namespace {

namespace fs = std::filesystem;

class WriterTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& rel) const {
    return (dir_ / rel).string();
  }

  // Every regular file under dir_, relative.
  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      if (e.is_regular_file())
        out.push_back(fs::relative(e.path(), dir_).string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  const testutil::TempDir tmp_;
  const fs::path dir_{tmp_.path()};
};

TEST_F(WriterTest, WritesEveryFileAndNoTempFiles) {
  const std::vector<Artifact> items = {{Path("rules/a.yml"), "a: 1\n"},
                                       {Path("deploy/k/b.yaml"), "b: 2\n"}};
  ASSERT_EQ(WriteArtifacts(items), std::nullopt);
  EXPECT_EQ(testutil::ReadFile(Path("rules/a.yml")), "a: 1\n");
  EXPECT_EQ(testutil::ReadFile(Path("deploy/k/b.yaml")), "b: 2\n");
  EXPECT_EQ(Files(),
            (std::vector<std::string>{"deploy/k/b.yaml", "rules/a.yml"}));
  EXPECT_EQ(
      fs::status(Path("rules/a.yml")).permissions() & fs::perms::others_read,
      fs::perms::others_read);
}

TEST_F(WriterTest, ReplacesExistingContent) {
  ASSERT_EQ(WriteArtifacts({{Path("a.yml"), "old\n"}}), std::nullopt);
  ASSERT_EQ(WriteArtifacts({{Path("a.yml"), "new\n"}}), std::nullopt);
  EXPECT_EQ(testutil::ReadFile(Path("a.yml")), "new\n");
  EXPECT_EQ(Files(), std::vector<std::string>{"a.yml"});
}

TEST_F(WriterTest, OneUnwritableTargetMeansNothingIsWritten) {
  // A regular file where a directory must be: creating it fails.
  testutil::WriteFile(Path("blocker"), "x");
  const std::vector<Artifact> items = {
      {Path("first.yml"), "first\n"}, {Path("blocker/second.yml"), "second\n"}};
  const auto err = WriteArtifacts(items);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->ToString().find("blocker"), std::string::npos)
      << err->ToString();
  EXPECT_EQ(Files(), std::vector<std::string>{"blocker"});
}

TEST_F(WriterTest, CheckReportsNothingWhenEqual) {
  const std::vector<Artifact> items = {{Path("a.yml"), "x\ny\n"}};
  ASSERT_EQ(WriteArtifacts(items), std::nullopt);
  std::ostringstream out;
  int differing = -1;
  ASSERT_EQ(CheckArtifacts(items, out, &differing), std::nullopt);
  EXPECT_EQ(differing, 0);
  EXPECT_EQ(out.str(), "");
}

TEST_F(WriterTest, CheckPrintsAUnifiedDiffAndWritesNothing) {
  testutil::WriteFile(Path("a.yml"), "keep\nold\n");
  const std::vector<Artifact> items = {{Path("a.yml"), "keep\nnew\n"},
                                       {Path("missing.yml"), "m\n"}};
  std::ostringstream out;
  int differing = 0;
  ASSERT_EQ(CheckArtifacts(items, out, &differing), std::nullopt);
  EXPECT_EQ(differing, 2);
  const std::string text = out.str();
  EXPECT_NE(text.find("\n-old\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n+new\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" keep\n"), std::string::npos) << text;
  EXPECT_NE(text.find("missing: " + Path("missing.yml")), std::string::npos);
  EXPECT_EQ(testutil::ReadFile(Path("a.yml")), "keep\nold\n");
  EXPECT_EQ(Files(), std::vector<std::string>{"a.yml"});
}

}  // namespace
}  // namespace stemedb::rulegen
