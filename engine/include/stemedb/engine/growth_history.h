// What is growing: a bounded per-directory history of subtree sizes, fed by
// every complete collection (a walk in walk mode, each applied change in
// watch mode) and reduced on demand to the top directories by growth over
// the last hour and the last day (diagnose/growth.h; GET /diagnose/growth).
//
// Memory is bounded whatever the tree:
// - at most `max_tracked` directories have a history, each two rings of
//   samples at a fixed resolution (the first sample of each minute for the
//   hour, of each half hour for the day): about 2 KiB per directory;
// - to see which directories changed, the last total of at most
//   `max_compared` directories per component is kept as a 16-byte
//   (path hash, bytes) pair.
// Which directories: at a component's first collection its largest
// (`initial_tracked`); then every directory whose total changed since the
// previous collection, the largest changes first, its previous total as the
// baseline (a new directory starts from 0). When full, the directory that
// has gone longest without changing makes room; one that changed in this
// collection is never evicted. A directory that disappears is dropped.
//
// Time is a parameter (unix seconds), so tests and benchmarks drive a day
// in a loop.
//
// Thread safety: thread-compatible; the engine calls it under a mutex of
// its own, not the one scrapes take.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "stemedb/diagnose/growth.h"
#include "stemedb/measure/walk.h"

namespace stemedb::exporter {

struct GrowthLimits {
  size_t max_tracked = 1024;      // directories with a history, all components
  size_t initial_tracked = 256;   // largest tracked at a first collection
  size_t max_compared = 1 << 20;  // per component, to see changes
  size_t top = 20;                // entries per window in a report
};

class GrowthHistory {
 public:
  explicit GrowthHistory(GrowthLimits limits = {}) : limits_(limits) {}

  // One complete collection of `component`: every directory, cumulative
  // totals filled (ComponentStats::directory_list). `now`: unix seconds.
  void Observe(const std::string& component,
               const std::vector<measure::DirectoryRecord>& records,
               double now);

  // Forgets components not named (after a reload removed them).
  void Retain(const std::vector<std::string>& components);

  // The top growers over the last hour and day as of the newest sample.
  // A directory is left out when one of its subdirectories in the list
  // accounts for at least 90% of its growth (the subdirectory says where).
  diagnose::GrowthReport Report() const;

  size_t Tracked() const { return series_.size(); }

  struct Sample {
    double t = -1;  // unix seconds; < 0: an empty slot
    uint64_t bytes = 0;
  };

 private:
  static constexpr size_t kHourSlots = 61;  // one a minute, both ends
  static constexpr size_t kDaySlots = 49;   // one every 30 minutes
  struct Series {
    std::string component;
    std::array<Sample, kHourSlots> hour;
    std::array<Sample, kDaySlots> day;
    Sample now;
    double last_change = 0;
    uint64_t seen = 0;  // the collection it was last in
    void Add(Sample s);
  };
  struct Compared {
    uint64_t hash;
    uint64_t bytes;
  };
  struct ComponentMemory {
    std::vector<Compared> last;  // sorted by hash
    double t = 0;                // when `last` was taken
    uint64_t collection = 0;
  };

  // Makes room for one more; false when every tracked one changed at `now`.
  bool MakeRoom(double now);
  void Admit(const std::string& component, const measure::DirectoryRecord& r,
             Sample baseline, Sample current, uint64_t collection);
  void AdmitChanged(const std::string& component,
                    const std::vector<measure::DirectoryRecord>& records,
                    const ComponentMemory& before, Sample now_sample,
                    uint64_t collection);
  static std::vector<Compared> Remember(
      const std::vector<measure::DirectoryRecord>& records, size_t cap);
  diagnose::GrowthWindow Window(const char* name, double seconds) const;

  GrowthLimits limits_;
  std::unordered_map<std::string, Series> series_;  // by path
  std::unordered_map<std::string, ComponentMemory> components_;
  uint64_t collections_ = 0;
  double first_t_ = -1;
  double newest_t_ = -1;
};

}  // namespace stemedb::exporter
