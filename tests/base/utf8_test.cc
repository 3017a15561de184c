// UTF-8 validity against Go's utf8.ValidString (what Prometheus uses on label
// values): the cases are RFC 3629's boundaries, worked out by hand.

#include "stemedb/base/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace stemedb {
namespace {

TEST(Utf8Test, AcceptsValidText) {
  for (const char* text :
       {"", "plain ascii", "d\xc3\xa9sk",        // é
        "\xe2\x82\xac", "\xef\xbf\xbd",          // €, U+FFFD
        "\xf0\x9f\x92\xbe", "\xf4\x8f\xbf\xbf",  // 💾, U+10FFFF
        "\xed\x9f\xbf"}) {                       // U+D7FF, below surrogates
    SCOPED_TRACE(text);
    EXPECT_TRUE(IsValidUtf8(text));
    EXPECT_EQ(EscapeInvalidUtf8(text), text);
  }
}

TEST(Utf8Test, RefusesWhatGoRefuses) {
  const std::string cases[] = {
      "dev\xffx",          // never valid
      "d\xe9sk",           // Latin-1 é
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong, 3 bytes
      "\xed\xa0\x80",      // surrogate U+D800
      "\xf4\x90\x80\x80",  // above U+10FFFF
      "\xe2\x82",          // truncated
      "\x80",              // lone continuation byte
  };
  for (const std::string& text : cases) {
    SCOPED_TRACE(EscapeInvalidUtf8(text));
    EXPECT_FALSE(IsValidUtf8(text));
    EXPECT_TRUE(IsValidUtf8(EscapeInvalidUtf8(text)));
  }
}

TEST(Utf8Test, EscapesEachInvalidByteVisibly) {
  EXPECT_EQ(EscapeInvalidUtf8("/tmp/x/mnt\xffz"), "/tmp/x/mnt\\xffz");
  EXPECT_EQ(EscapeInvalidUtf8("d\xe9sk \xc3\xa9"), "d\\xe9sk \xc3\xa9");
  EXPECT_EQ(EscapeInvalidUtf8("\xe2\x82"), "\\xe2\\x82");
  EXPECT_EQ(ValidUtf8Prefix("ab\xffz"), 2u);
  // Distinct invalid bytes stay distinct (no two series collapse into one).
  EXPECT_NE(EscapeInvalidUtf8("a\xfe"), EscapeInvalidUtf8("a\xff"));
}

// What reaches a terminal: every control character a terminal would act
// on, and only those, becomes a visible escape.
TEST(Utf8Test, EscapeForTerminalShowsEveryControlCharacter) {
  const struct {
    std::string raw;
    std::string shown;
  } cases[] = {
      {std::string(1, '\0'), "\\x00"},
      {"\x01", "\\x01"},
      {"\a", "\\x07"},
      {"\t", "\\x09"},
      {"\n", "\\x0a"},
      {"\r", "\\x0d"},
      {"\x1b", "\\x1b"},
      {"\x1f", "\\x1f"},
      {"\x7f", "\\x7f"},        // DEL
      {"\xc2\x80", "\\u0080"},  // C1 PAD, the first
      {"\xc2\x85", "\\u0085"},  // NEL
      {"\xc2\x9b", "\\u009b"},  // CSI, as good as ESC [
      {"\xc2\x9f", "\\u009f"},  // APC, the last
      {"\xff", "\\xff"},        // invalid UTF-8, as before
      {"\xc2", "\\xc2"},        // a lone C1 lead byte
      {"\x1b]0;t\x07\x1b[32mOK", "\\x1b]0;t\\x07\\x1b[32mOK"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.shown);
    EXPECT_EQ(EscapeForTerminal(c.raw), c.shown);
  }
  // Printable text, valid UTF-8 beside C1 (U+00A0 and up) and a literal
  // backslash stay as they are.
  for (const char* text :
       {"plain /data/wal", "d\xc3\xa9sk \xc2\xa0nbsp \xc2\xbf", "\xe2\x82\xac",
        "\xf0\x9f\x92\xbe", "a\\x1b", " ~"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(EscapeForTerminal(text), text);
  }
}

}  // namespace
}  // namespace stemedb
