// Structured logging to stderr in the two formats Prometheus' own tools use
// (--log.format=logfmt|json), filtered by --log.level.
//
// Thread safety: all functions may be called from any thread; each record is
// written with one write(2) so records never interleave.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stemedb::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError };
enum class Format { kLogfmt, kJson };

std::optional<Level> ParseLevel(
    std::string_view text);  // debug|info|warn|error
std::optional<Format> ParseFormat(std::string_view text);  // logfmt|json

// Sets the process-wide threshold and format (default: info, logfmt).
void Configure(Level level, Format format);

using Fields = std::vector<std::pair<std::string_view, std::string>>;

void Write(Level level, std::string_view msg, const Fields& fields = {});
inline void Debug(std::string_view m, const Fields& f = {}) {
  Write(Level::kDebug, m, f);
}
inline void Info(std::string_view m, const Fields& f = {}) {
  Write(Level::kInfo, m, f);
}
inline void Warn(std::string_view m, const Fields& f = {}) {
  Write(Level::kWarn, m, f);
}
inline void Error(std::string_view m, const Fields& f = {}) {
  Write(Level::kError, m, f);
}

// The record as it would be written (no trailing newline), for tests.
std::string Format(Format format, Level level, std::string_view msg,
                   const Fields& fields, std::string_view timestamp);

}  // namespace stemedb::log
