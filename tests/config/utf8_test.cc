// UTF-8 validity against Go's utf8.ValidString (what Prometheus uses on label
// values): the cases are RFC 3629's boundaries, worked out by hand.

#include "stemedb/utf8.h"

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

}  // namespace
}  // namespace stemedb
