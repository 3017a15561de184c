// The one pattern engine: globs mean what fnmatch(3) at flags 0 means (the
// oracle, on a table and on many generated patterns and names), refusals
// carry the offset, and hostile patterns cost linear time.

#include "stemedb/config/pattern.h"

#include <fnmatch.h>
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

namespace stemedb {
namespace {

bool Fnmatch(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

std::optional<Pattern> MustGlob(const std::string& text) {
  PatternError error;
  std::optional<Pattern> glob = Pattern::Glob(text, &error);
  EXPECT_TRUE(glob) << text << ": " << error.ToString();
  return glob;
}

TEST(GlobTest, AgreesWithFnmatchOnATable) {
  const std::vector<std::string> patterns = {
      "*",
      "*.log",
      "seg-*",
      "?",
      "??*",
      "a*b*c",
      "[abc]",
      "[!abc]",
      "[^abc]",
      "[a-c]x",
      "[z-a]",
      "[]]",
      "[!]]",
      "[]a]",
      "[a-]",
      "[-a]",
      "[\\]]",
      "[a\\-z]",
      "[\\a-c]",
      "[[]",
      "[[:digit:]]*",
      "[![:alpha:]]",
      "[[:alpha:][:digit:]_]",
      "\\*",
      "\\?x",
      "a\\b",
      "[\xe9]",
      "[\x80-\xff]",
      "\xc3\xa9*",
      "[!a]*",
      "*[0-9][0-9]",
      "[[-a]",
      "[.]*",
      ".*",
      "*\\[*",
      "[*]",
      "[?]",
      "*?",
      "**a",
  };
  const std::vector<std::string> names = {
      "a",
      "b",
      "abc",
      "x.log",
      "seg-1",
      "seg-",
      "]",
      "-",
      "z",
      "m",
      "[",
      "*",
      "?",
      "\\",
      "ax",
      "bx",
      "dx",
      "7",
      "x",
      "_",
      "\xe9",
      "\xc3\xa9",
      "\xc3\xa9t\xc3\xa9",
      "12",
      "a12",
      ".hidden",
      ".",
      "aXbYc",
      "a[b",
      "?x",
      "ab",
      "a\n",
      "\x01",
      "aaa",
  };
  for (const std::string& p : patterns) {
    const std::optional<Pattern> glob = MustGlob(p);
    if (!glob) continue;
    for (const std::string& n : names) {
      EXPECT_EQ(glob->Matches(n), Fnmatch(p, n))
          << "pattern \"" << p << "\" name \"" << n << "\"";
    }
  }
}

// Random patterns over the characters that make globs interesting, against
// random names over a small alphabet so that matches are frequent. Every
// pattern the engine accepts must agree with fnmatch on every name; the
// refused ones are the constructs fnmatch reads inconsistently (checked
// below).
TEST(GlobTest, AgreesWithFnmatchOnGeneratedCases) {
  std::mt19937 rng(20261205);
  const std::string pattern_alphabet = "ab-]!^[:\\*?x\xe9";
  const std::vector<std::string> snippets = {"[:digit:]", "[:alpha:]",
                                             "[:space:]", "[:punct:]"};
  const std::string name_alphabet = "ab-]![:\\*?x1 \xe9";
  auto pick = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  int accepted = 0;
  int compared = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string p;
    const size_t length = 1 + pick(8);
    while (p.size() < length) {
      if (pick(10) == 0) {
        p += snippets[pick(snippets.size())];
      } else {
        p += pattern_alphabet[pick(pattern_alphabet.size())];
      }
    }
    PatternError error;
    const std::optional<Pattern> glob = Pattern::Glob(p, &error);
    if (!glob) continue;
    ++accepted;
    for (int k = 0; k < 40; ++k) {
      std::string n;
      const size_t name_length = 1 + pick(6);
      while (n.size() < name_length) {
        n += name_alphabet[pick(name_alphabet.size())];
      }
      ++compared;
      ASSERT_EQ(glob->Matches(n), Fnmatch(p, n))
          << "pattern \"" << p << "\" name \"" << n << "\"";
    }
  }
  // The generator must exercise the engine, not only its refusals.
  EXPECT_GT(accepted, 1500);
  EXPECT_GT(compared, 60000);
}

struct Refusal {
  std::string pattern;
  size_t offset;  // npos: the whole pattern
  std::string message_part;
};

TEST(GlobTest, RefusesWithTheOffset) {
  const std::vector<Refusal> refusals = {
      {"", std::string::npos, "empty"},
      {"ab\\", 2, "trailing '\\'"},
      {"x[ab", 1, "never closed"},
      {"[!]", 0, "never closed"},
      {"a[[:foo:]]", 2, "character class"},
      {"a[[:digit]", 2, "character class"},
      {"[[=a=]]", 1, "collating"},
      {"[[.a.]]", 1, "collating"},
      {"wal/*.log", 3, "'/'"},
      {std::string("a\0b", 3), 1, "NUL"},
      {std::string(kMaxGlobBytes + 1, 'a'), std::string::npos, "at most"},
  };
  for (const Refusal& r : refusals) {
    PatternError error;
    EXPECT_FALSE(Pattern::Glob(r.pattern, &error)) << r.pattern;
    EXPECT_EQ(error.offset, r.offset) << r.pattern;
    EXPECT_NE(error.message.find(r.message_part), std::string::npos)
        << r.pattern << ": " << error.message;
  }
  PatternError error{4, "x"};
  EXPECT_EQ(error.ToString(), "at byte 5: x");
}

TEST(LabelRegexTest, AnchoredLikePrometheus) {
  PatternError error;
  const std::optional<Pattern> re = Pattern::LabelRegex("/data|/srv", &error);
  ASSERT_TRUE(re) << error.ToString();
  EXPECT_TRUE(re->Matches("/data"));
  EXPECT_TRUE(re->Matches("/srv"));
  EXPECT_FALSE(re->Matches("/data2"));
  EXPECT_FALSE(re->Matches("x/srv"));
  // Prometheus compiles ^(?s:...)$: a dot matches a newline.
  const std::optional<Pattern> dot = Pattern::LabelRegex("a.b", &error);
  ASSERT_TRUE(dot);
  EXPECT_TRUE(dot->Matches("a\nb"));
}

TEST(LabelRegexTest, RefusesWithTheOffset) {
  PatternError error;
  // RE2 names the fragment it cannot read; the offset is where it starts.
  EXPECT_FALSE(Pattern::LabelRegex("/data(", &error));
  EXPECT_EQ(error.ToString(), "at byte 1: missing ): /data(");
  EXPECT_FALSE(Pattern::LabelRegex("ok|a**", &error));
  EXPECT_EQ(error.offset, 4u) << error.ToString();
  // Wrapped in (?:...) this would parse; alone it does not.
  EXPECT_FALSE(Pattern::LabelRegex("a)|(b", &error));
  EXPECT_FALSE(Pattern::LabelRegex("x{2,1}", &error));
  EXPECT_EQ(error.offset, 1u) << error.ToString();
  EXPECT_FALSE(
      Pattern::LabelRegex(std::string(kMaxRegexBytes + 1, 'a'), &error));
  EXPECT_EQ(error.offset, std::string::npos);
  // Nested repetition compiles past the memory budget: refused, not run.
  EXPECT_FALSE(Pattern::LabelRegex("((a{100}){100}){100}", &error));
}

// The hostile cases of the red-team pass, which took seconds to forever
// with backtracking engines: each finishes in a time no healthy run comes
// near (a backtracking engine takes 2^n steps here), not a race against a
// tight clock.
TEST(LabelRegexTest, NestedQuantifiersAreLinear) {
  PatternError error;
  const std::optional<Pattern> re = Pattern::LabelRegex("(a+)+b", &error);
  ASSERT_TRUE(re);
  const std::string input(100000, 'a');
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(re->Matches(input));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(GlobTest, ManyStarsAreLinear) {
  std::string p;
  for (int i = 0; i < 300; ++i) p += "*a";
  p += "b";
  const std::optional<Pattern> glob = MustGlob(p);
  ASSERT_TRUE(glob);
  const std::string name(255, 'a');
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(glob->Matches(name));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

}  // namespace
}  // namespace stemedb
