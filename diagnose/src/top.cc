#include "stemedb/diagnose/top.h"

#include <algorithm>

namespace stemedb::diagnose {
namespace {

bool Better(const DirectoryNumber& a, const DirectoryNumber& b) {
  return a.value != b.value ? a.value > b.value : a.path < b.path;
}

}  // namespace

bool TopDirectories::List::Wants(uint64_t value, size_t limit) const {
  // A tie with the last one may still win on its path; let Offer decide.
  return limit > 0 && (items.size() < limit || value >= items.back().value);
}

void TopDirectories::List::Offer(const std::string& path, uint64_t value,
                                 size_t limit) {
  if (!Wants(value, limit)) return;
  DirectoryNumber d{path, value};
  auto at = std::lower_bound(items.begin(), items.end(), d, Better);
  if (items.size() == limit && at == items.end()) return;
  items.insert(at, std::move(d));
  if (items.size() > limit) items.pop_back();
}

bool TopDirectories::Wants(uint64_t allocated_bytes, uint64_t entries) const {
  return largest_.Wants(allocated_bytes, limit_) ||
         most_entries_.Wants(entries, limit_);
}

void TopDirectories::Offer(const std::string& path, uint64_t allocated_bytes,
                           uint64_t entries) {
  largest_.Offer(path, allocated_bytes, limit_);
  // A directory with nothing in it is never among "the most entries".
  if (entries > 0) most_entries_.Offer(path, entries, limit_);
}

void TopDirectories::Merge(const TopDirectories& other) {
  for (const auto& d : other.largest_.items) {
    largest_.Offer(d.path, d.value, limit_);
  }
  for (const auto& d : other.most_entries_.items) {
    most_entries_.Offer(d.path, d.value, limit_);
  }
}

std::vector<DirectoryNumber> TopDirectories::Largest() const {
  return largest_.items;
}

std::vector<DirectoryNumber> TopDirectories::MostEntries() const {
  return most_entries_.items;
}

}  // namespace stemedb::diagnose
