#include "stemedb/base/utf8.h"

#include <cstdint>
#include <cstdio>

namespace stemedb {
namespace {

// The length of the valid sequence starting at text[pos], or 0 if the byte
// there does not start one. Ranges from RFC 3629 section 4.
size_t SequenceLength(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) {
    return static_cast<uint8_t>(text[pos + i]);
  };
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) return 1;
  size_t length = 0;
  uint8_t lo = 0x80;  // the bounds of the second byte
  uint8_t hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;  // continuation byte, C0/C1 (overlong) or F5..FF
  }
  if (pos + length > text.size()) return 0;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

size_t ValidUtf8Prefix(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t length = SequenceLength(text, pos);
    if (length == 0) return pos;
    pos += length;
  }
  return pos;
}

std::string EscapeInvalidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t length = SequenceLength(text, pos);
    if (length == 0) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x",
                    static_cast<unsigned>(static_cast<uint8_t>(text[pos])));
      out += buf;
      ++pos;
    } else {
      out.append(text, pos, length);
      pos += length;
    }
  }
  return out;
}

int ControlCharacterAt(std::string_view text, size_t pos, size_t* length) {
  const auto byte = static_cast<uint8_t>(text[pos]);
  if (byte < 0x20 || byte == 0x7F) {
    *length = 1;
    return byte;
  }
  if (byte == 0xC2 && pos + 1 < text.size()) {
    const auto next = static_cast<uint8_t>(text[pos + 1]);
    if (next >= 0x80 && next <= 0x9F) {
      *length = 2;
      return next;  // U+0080..U+009F encode as C2 80..C2 9F
    }
  }
  *length = 0;
  return -1;
}

std::string EscapeForTerminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length = 0;
    const int control = ControlCharacterAt(text, pos, &length);
    if (control >= 0) {
      // Room for any unsigned, so the compiler need not prove the range
      // (a control character is at most U+009F).
      char buf[16];
      if (length == 1) {
        std::snprintf(buf, sizeof buf, "\\x%02x",
                      static_cast<unsigned>(control));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x",
                      static_cast<unsigned>(control));
      }
      out += buf;
      pos += length;
      continue;
    }
    length = SequenceLength(text, pos);
    if (length == 0) {
      out += EscapeInvalidUtf8(text.substr(pos, 1));
      ++pos;
    } else {
      out.append(text, pos, length);
      pos += length;
    }
  }
  return out;
}

}  // namespace stemedb
