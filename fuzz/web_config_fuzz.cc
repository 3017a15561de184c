// Fuzzes the --web.config.file loader through its public entry (a path): the
// input is written to a memfd and loaded from /proc/self/fd/N.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "stemedb/http/web_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("web_config_fuzz", MFD_CLOEXEC);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0 || ftruncate(fd, 0) != 0 ||
      pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) {
    std::abort();  // the harness itself is broken
  }
  stemedb::exporter::WebConfig config;
  auto error = stemedb::exporter::LoadWebConfig(path, &config);
  if (error) (void)error->ToString();
  return 0;
}
