// Fuzzes the reader of StemeDB's config.toml (ParseStemedbToml, what the
// loader runs at start and at each reload): any text gets settings or an
// Error, never a crash, an exception, a stack overflow or a leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "stemedb/config/stemedb_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  stemedb::StemedbSettings settings;
  auto error = stemedb::ParseStemedbToml(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.toml",
      &settings);
  if (error) (void)error->ToString();
  return 0;
}
