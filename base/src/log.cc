#include "stemedb/base/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "stemedb/base/utf8.h"
#include "stemedb/base/valid_utf8.h"

namespace stemedb::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<enum Format> g_format{Format::kLogfmt};

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "unknown";
}

// logfmt quotes a value when it is empty or holds a space, quote, '=' or a
// control character; JSON always quotes. Both escape the same characters,
// after invalid UTF-8 became \xNN (so the backslash is escaped too): every
// control character a terminal showing the log would act on (C0, DEL, C1;
// paths and client-supplied strings land here) as \u00NN, which JSON reads
// back as the character itself.
void AppendEscaped(std::string* out, std::string_view raw) {
  const std::string v = exporter::ValidUtf8(raw);
  for (size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    size_t length = 0;
    const int control = ControlCharacterAt(v, i, &length);
    if (control >= 0 && c != '\n' && c != '\t' && c != '\r') {
      char buf[16];  // "\\u" and at most 8 hex digits as far as -Wformat knows
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(control));
      *out += buf;
      i += length - 1;
      continue;
    }
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\r':
        *out += "\\r";
        break;
      default:
        *out += static_cast<char>(c);
    }
  }
}

void AppendLogfmtValue(std::string* out, std::string_view raw) {
  const std::string v = exporter::ValidUtf8(raw);
  bool quote = v.empty();
  for (size_t i = 0; i < v.size() && !quote; ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    size_t length = 0;
    quote = c <= ' ' || c == '"' || c == '=' || c == '\\' ||
            ControlCharacterAt(v, i, &length) >= 0;
  }
  if (!quote) {
    *out += v;
    return;
  }
  *out += '"';
  AppendEscaped(out, v);
  *out += '"';
}

std::string Now() {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                now.time_since_epoch())
                .count() %
            1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

std::optional<Level> ParseLevel(std::string_view text) {
  if (text == "debug") return Level::kDebug;
  if (text == "info") return Level::kInfo;
  if (text == "warn") return Level::kWarn;
  if (text == "error") return Level::kError;
  return std::nullopt;
}

std::optional<enum Format> ParseFormat(std::string_view text) {
  if (text == "logfmt") return Format::kLogfmt;
  if (text == "json") return Format::kJson;
  return std::nullopt;
}

void Configure(Level level, enum Format format) {
  g_level.store(level);
  g_format.store(format);
}

std::string Format(enum Format format, Level level, std::string_view msg,
                   const Fields& fields, std::string_view timestamp) {
  std::string out;
  if (format == Format::kJson) {
    out += "{\"ts\":\"";
    AppendEscaped(&out, timestamp);
    out += "\",\"level\":\"";
    out += LevelName(level);
    out += "\",\"msg\":\"";
    AppendEscaped(&out, msg);
    out += '"';
    for (const auto& [k, v] : fields) {
      out += ",\"";
      AppendEscaped(&out, k);
      out += "\":\"";
      AppendEscaped(&out, v);
      out += '"';
    }
    out += '}';
    return out;
  }
  out += "ts=";
  out += timestamp;
  out += " level=";
  out += LevelName(level);
  out += " msg=";
  AppendLogfmtValue(&out, msg);
  for (const auto& [k, v] : fields) {
    out += ' ';
    out += exporter::ValidUtf8(k);
    out += '=';
    AppendLogfmtValue(&out, v);
  }
  return out;
}

void Write(Level level, std::string_view msg, const Fields& fields) {
  if (level < g_level.load(std::memory_order_relaxed)) return;
  std::string line = Format(g_format.load(std::memory_order_relaxed), level,
                            msg, fields, Now());
  line += '\n';
  // One write per record keeps lines whole across threads; a short write to
  // a full or closed stderr is not worth failing the exporter over.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace stemedb::log
