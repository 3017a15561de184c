#include <algorithm>
#include <mutex>

#include "stemedb/measure/walk.h"

namespace stemedb::measure {

void DirectoryTotals::Segment(double mtime) {
  ++segments;
  if (mtime < oldest_segment_mtime) oldest_segment_mtime = mtime;
  if (mtime > newest_segment_mtime) newest_segment_mtime = mtime;
}

void DirectoryTotals::Merge(const DirectoryTotals& o) {
  allocated_bytes += o.allocated_bytes;
  apparent_bytes += o.apparent_bytes;
  files += o.files;
  directories += o.directories;
  subdirectories += o.subdirectories;
  segments += o.segments;
  segment_allocated_bytes += o.segment_allocated_bytes;
  if (o.oldest_segment_mtime < oldest_segment_mtime) {
    oldest_segment_mtime = o.oldest_segment_mtime;
  }
  if (o.newest_segment_mtime > newest_segment_mtime) {
    newest_segment_mtime = o.newest_segment_mtime;
  }
  for (int i = 0; i < kErrorReasonCount; ++i) errors[i] += o.errors[i];
}

void DirectoryTotals::Subtract(const DirectoryTotals& o) {
  allocated_bytes -= o.allocated_bytes;
  apparent_bytes -= o.apparent_bytes;
  files -= o.files;
  directories -= o.directories;
  subdirectories -= o.subdirectories;
  segments -= o.segments;
  segment_allocated_bytes -= o.segment_allocated_bytes;
  for (int i = 0; i < kErrorReasonCount; ++i) errors[i] -= o.errors[i];
}

bool LinkSet::FirstSighting(dev_t dev, ino_t ino) {
  std::lock_guard lock(mu_);
  return seen_.insert(InodeKey{dev, ino}).second;
}

void SetTotals(const DirectoryTotals& t, ComponentStats* stats) {
  stats->allocated_bytes = t.allocated_bytes;
  stats->apparent_bytes = t.apparent_bytes;
  stats->files = t.files;
  stats->directories = t.directories;
  stats->segments.count = t.segments;
  stats->segments.allocated_bytes = t.segment_allocated_bytes;
  stats->segments.oldest_mtime = t.segments > 0 ? t.oldest_segment_mtime : 0;
  stats->segments.newest_mtime = t.segments > 0 ? t.newest_segment_mtime : 0;
  stats->errors = t.errors;
  stats->unaccounted = UnaccountedOf(t.errors);
}

std::array<uint64_t, kErrorReasonCount> UnaccountedOf(
    const std::array<uint64_t, kErrorReasonCount>& errors) {
  std::array<uint64_t, kErrorReasonCount> out = errors;
  out[static_cast<int>(ErrorReason::kVanished)] = 0;
  return out;
}

bool LeavesOut(const std::array<uint64_t, kErrorReasonCount>& errors) {
  for (uint64_t n : UnaccountedOf(errors)) {
    if (n > 0) return true;
  }
  return false;
}

void AddUnaccountedPath(std::string_view path,
                        std::vector<std::string>* paths) {
  if (paths->size() < kMaxUnaccountedPaths) paths->emplace_back(path);
}

void ComputeCumulative(std::vector<DirectoryRecord>* records) {
  std::unordered_map<std::string_view, size_t> index;
  std::vector<size_t> deepest_first(records->size());
  for (size_t i = 0; i < records->size(); ++i) {
    DirectoryRecord& r = (*records)[i];
    r.cumulative = r.direct;
    index.emplace(r.path, i);
    deepest_first[i] = i;
  }
  std::sort(deepest_first.begin(), deepest_first.end(),
            [&](size_t a, size_t b) {
              return (*records)[a].depth > (*records)[b].depth;
            });
  for (size_t i : deepest_first) {
    const DirectoryRecord& r = (*records)[i];
    const size_t slash = r.path.rfind('/');
    if (r.depth == 0 || slash == std::string::npos) continue;
    auto parent = index.find(std::string_view(r.path).substr(0, slash));
    if (parent != index.end()) {
      (*records)[parent->second].cumulative.Merge(r.cumulative);
    }
  }
}

}  // namespace stemedb::measure
