// The two top lists of the diagnosis, kept while a walk visits directories:
// the largest directories (allocated bytes of the whole subtree, as
// `du -h DIR | sort -rh | head -20`) and those with the most entries
// directly inside (`find DIR -printf '%h\n' | sort | uniq -c | sort -rn |
// head -20`). Memory is bounded by `limit` paths per list, whatever the
// tree; Wants() lets a walker build a directory's path only when it would
// enter a list.
//
// Thread safety: thread-compatible. Keep one per walker thread and Merge()
// them at the end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stemedb/diagnose/diagnosis.h"

namespace stemedb::diagnose {

class TopDirectories {
 public:
  explicit TopDirectories(size_t limit = kTopDirectories) : limit_(limit) {}

  // True when a directory with these numbers would enter either list now.
  bool Wants(uint64_t allocated_bytes, uint64_t entries) const;

  // Considers one directory (each directory once per walk).
  void Offer(const std::string& path, uint64_t allocated_bytes,
             uint64_t entries);

  void Merge(const TopDirectories& other);

  // Largest first; equal numbers by path, so the order is stable.
  std::vector<DirectoryNumber> Largest() const;
  std::vector<DirectoryNumber> MostEntries() const;

 private:
  struct List {
    // Kept sorted, best first; at most limit_ entries.
    std::vector<DirectoryNumber> items;
    bool Wants(uint64_t value, size_t limit) const;
    void Offer(const std::string& path, uint64_t value, size_t limit);
  };
  size_t limit_;
  List largest_;
  List most_entries_;
};

}  // namespace stemedb::diagnose
