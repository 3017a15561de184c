// The one gate where text from the system (mountpoints, devices, fstypes,
// paths, error strings) becomes valid UTF-8 on its way out: every metric
// label value and every log field passes through ValidUtf8. Prometheus
// refuses a whole scrape over one invalid label value, and a JSON log line
// with raw bytes is not JSON.
//
// Thread safety: both functions may be called from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace stemedb::exporter {

// `text` with each invalid byte written as \xNN (stemedb::EscapeInvalidUtf8);
// counts the string in InvalidUtf8Total() when it needed that.
std::string ValidUtf8(std::string_view text);

// Strings repaired by ValidUtf8 since the process started: exported as
// stemedb_disk_invalid_utf8_total. A label is counted each time metrics are
// rendered (after each walk and capacity pass), a log field each time it is
// logged.
uint64_t InvalidUtf8Total();

}  // namespace stemedb::exporter
