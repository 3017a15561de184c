#include "stemedb/base/valid_utf8.h"

#include <atomic>

#include "stemedb/base/utf8.h"

namespace stemedb::exporter {
namespace {

std::atomic<uint64_t> g_repaired{0};

}  // namespace

std::string ValidUtf8(std::string_view text) {
  if (IsValidUtf8(text)) return std::string(text);
  g_repaired.fetch_add(1, std::memory_order_relaxed);
  return EscapeInvalidUtf8(text);
}

uint64_t InvalidUtf8Total() {
  return g_repaired.load(std::memory_order_relaxed);
}

}  // namespace stemedb::exporter
