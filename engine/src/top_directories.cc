#include "stemedb/engine/snapshot.h"

namespace stemedb::exporter {

std::shared_ptr<const diagnose::TopDirectories> TopDirectoriesOf(
    const measure::ComponentStats& stats) {
  if (!stats.directory_list) return nullptr;
  auto top = std::make_shared<diagnose::TopDirectories>();
  for (const auto& d : *stats.directory_list) {
    const uint64_t bytes = d.cumulative.allocated_bytes;
    const uint64_t entries = d.direct.entries();
    if (top->Wants(bytes, entries)) top->Offer(d.path, bytes, entries);
  }
  return top;
}

}  // namespace stemedb::exporter
