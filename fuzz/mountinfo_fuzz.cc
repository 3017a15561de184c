// Fuzzes the /proc/self/mountinfo parser and the lookups on its result:
// malformed lines are skipped, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "stemedb/measure/filesystems.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stemedb::measure;
  const auto table = ParseMountInfo(
      std::string_view(reinterpret_cast<const char*>(data), size));
  for (const auto& m : table) {
    (void)FindMount(table, m.mountpoint, m.device_id);
    (void)FindMount(table, m.mountpoint + "/a/b", 0);
    (void)MountsBelow(table, m.mountpoint);
  }
  (void)FindMount(table, "/var/lib/stemedb", 0);
  return 0;
}
