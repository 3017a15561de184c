// Fuzzes the strict config loader (ParseConfig, what LoadConfigFile and
// SIGHUP run on a user's file): any text gets a Config or a ConfigError,
// never a crash, an exception or a leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "stemedb/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  stemedb::Config config;
  auto error = stemedb::ParseConfig(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml",
      "/base", &config);
  if (error) (void)error->ToString();
  return 0;
}
