#include "stemedb/engine/growth_history.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string_view>
#include <utility>

namespace stemedb::exporter {
namespace {

constexpr double kHourSeconds = 3600;
constexpr double kDaySeconds = 86400;
constexpr double kHourResolution = 60;   // the hour ring's slot
constexpr double kDayResolution = 1800;  // the day ring's slot
// A subdirectory with this share of its parent's growth stands for it.
constexpr double kExplainedShare = 0.9;

uint64_t PathHash(std::string_view path) {
  return std::hash<std::string_view>{}(path);
}

// Puts `s` in the ring slot of its period unless that slot already holds a
// sample of the same period (the first sample of a period is kept).
template <size_t N>
void Put(std::array<GrowthHistory::Sample, N>* ring, GrowthHistory::Sample s,
         double resolution) {
  const auto period = static_cast<int64_t>(std::floor(s.t / resolution));
  auto& slot = (*ring)[static_cast<size_t>(
      ((period % static_cast<int64_t>(N)) + N) % N)];
  if (slot.t >= 0 &&
      static_cast<int64_t>(std::floor(slot.t / resolution)) == period) {
    return;
  }
  slot = s;
}

// The oldest sample at or after `since`, or an empty one.
template <size_t N>
GrowthHistory::Sample Oldest(const std::array<GrowthHistory::Sample, N>& ring,
                             double since) {
  GrowthHistory::Sample best;
  for (const auto& s : ring) {
    if (s.t >= since && (best.t < 0 || s.t < best.t)) best = s;
  }
  return best;
}

bool IsBelow(const std::string& child, const std::string& parent) {
  return child.size() > parent.size() + 1 &&
         child.compare(0, parent.size(), parent) == 0 &&
         child[parent.size()] == '/';
}

// Drops each entry a listed subdirectory explains; `entries` sorted by path.
void DropExplained(std::vector<diagnose::GrowthEntry>* entries) {
  std::vector<diagnose::GrowthEntry> kept;
  for (size_t i = 0; i < entries->size(); ++i) {
    const auto& e = (*entries)[i];
    bool explained = false;
    for (size_t j = i + 1;
         j < entries->size() && IsBelow((*entries)[j].path, e.path); ++j) {
      if ((*entries)[j].growth_bytes >=
          kExplainedShare * static_cast<double>(e.growth_bytes)) {
        explained = true;
        break;
      }
    }
    if (!explained) kept.push_back(e);
  }
  *entries = std::move(kept);
}

}  // namespace

void GrowthHistory::Series::Add(Sample s) {
  if (now.t >= 0 && s.bytes != now.bytes) last_change = s.t;
  now = s;
  Put(&hour, s, kHourResolution);
  Put(&day, s, kDayResolution);
}

std::vector<GrowthHistory::Compared> GrowthHistory::Remember(
    const std::vector<measure::DirectoryRecord>& records, size_t cap) {
  std::vector<Compared> out;
  out.reserve(std::min(records.size(), cap));
  std::vector<const measure::DirectoryRecord*> pick;
  if (records.size() > cap) {
    // Over the cap: the largest are the ones to watch.
    for (const auto& r : records) pick.push_back(&r);
    std::nth_element(pick.begin(), pick.begin() + static_cast<long>(cap),
                     pick.end(), [](const auto* a, const auto* b) {
                       return a->cumulative.allocated_bytes >
                              b->cumulative.allocated_bytes;
                     });
    pick.resize(cap);
    for (const auto* r : pick) {
      out.push_back({PathHash(r->path), r->cumulative.allocated_bytes});
    }
  } else {
    for (const auto& r : records) {
      out.push_back({PathHash(r.path), r.cumulative.allocated_bytes});
    }
  }
  std::sort(out.begin(), out.end(), [](const Compared& a, const Compared& b) {
    return a.hash < b.hash;
  });
  return out;
}

bool GrowthHistory::MakeRoom(double now) {
  if (series_.size() < limits_.max_tracked) return true;
  auto victim = series_.end();
  for (auto it = series_.begin(); it != series_.end(); ++it) {
    if (it->second.last_change >= now) continue;
    if (victim == series_.end() ||
        it->second.last_change < victim->second.last_change) {
      victim = it;
    }
  }
  if (victim == series_.end()) return false;
  series_.erase(victim);
  return true;
}

void GrowthHistory::Admit(const std::string& component,
                          const measure::DirectoryRecord& r, Sample baseline,
                          Sample current, uint64_t collection) {
  Series s;
  s.component = component;
  if (baseline.t >= 0) s.Add(baseline);
  s.Add(current);
  s.seen = collection;
  series_.insert_or_assign(r.path, std::move(s));
}

void GrowthHistory::AdmitChanged(
    const std::string& component,
    const std::vector<measure::DirectoryRecord>& records,
    const ComponentMemory& before, Sample now_sample, uint64_t collection) {
  struct Change {
    uint64_t size;
    const measure::DirectoryRecord* record;
    uint64_t before;
  };
  std::vector<Change> changes;
  for (const auto& r : records) {
    const uint64_t bytes = r.cumulative.allocated_bytes;
    const uint64_t h = PathHash(r.path);
    auto it = std::lower_bound(
        before.last.begin(), before.last.end(), h,
        [](const Compared& c, uint64_t v) { return c.hash < v; });
    const bool known = it != before.last.end() && it->hash == h;
    // Over max_compared an unremembered directory is not "new".
    if (!known && before.last.size() >= limits_.max_compared) continue;
    const uint64_t was = known ? it->bytes : 0;
    if (was == bytes || series_.count(r.path) > 0) continue;
    changes.push_back({bytes > was ? bytes - was : was - bytes, &r, was});
  }
  std::sort(changes.begin(), changes.end(),
            [](const Change& a, const Change& b) { return a.size > b.size; });
  for (const auto& c : changes) {
    if (!MakeRoom(now_sample.t)) break;
    Sample current = now_sample;
    current.bytes = c.record->cumulative.allocated_bytes;
    Admit(component, *c.record, {before.t, c.before}, current, collection);
    series_[c.record->path].last_change = now_sample.t;
  }
}

void GrowthHistory::Observe(
    const std::string& component,
    const std::vector<measure::DirectoryRecord>& records, double now) {
  const uint64_t collection = ++collections_;
  if (first_t_ < 0) first_t_ = now;
  newest_t_ = std::max(newest_t_, now);
  auto [mem, first] = components_.try_emplace(component);
  for (const auto& r : records) {
    auto it = series_.find(r.path);
    if (it == series_.end() || it->second.component != component) continue;
    it->second.Add({now, r.cumulative.allocated_bytes});
    it->second.seen = collection;
  }
  // Gone from the tree: no longer growing.
  std::erase_if(series_, [&](const auto& kv) {
    return kv.second.component == component && kv.second.seen != collection;
  });
  if (first) {
    std::vector<const measure::DirectoryRecord*> largest;
    for (const auto& r : records) largest.push_back(&r);
    const size_t n = std::min(largest.size(), limits_.initial_tracked);
    std::partial_sort(largest.begin(), largest.begin() + static_cast<long>(n),
                      largest.end(), [](const auto* a, const auto* b) {
                        return a->cumulative.allocated_bytes >
                               b->cumulative.allocated_bytes;
                      });
    for (size_t i = 0; i < n && MakeRoom(now); ++i) {
      if (series_.count(largest[i]->path) > 0) continue;
      Admit(component, *largest[i], {},
            {now, largest[i]->cumulative.allocated_bytes}, collection);
    }
  } else {
    AdmitChanged(component, records, mem->second, {now, 0}, collection);
  }
  mem->second.last = Remember(records, limits_.max_compared);
  mem->second.t = now;
  mem->second.collection = collection;
}

void GrowthHistory::Retain(const std::vector<std::string>& components) {
  const auto named = [&](const std::string& c) {
    return std::find(components.begin(), components.end(), c) !=
           components.end();
  };
  std::erase_if(series_,
                [&](const auto& kv) { return !named(kv.second.component); });
  std::erase_if(components_, [&](const auto& kv) { return !named(kv.first); });
}

diagnose::GrowthWindow GrowthHistory::Window(const char* name,
                                             double seconds) const {
  diagnose::GrowthWindow w;
  w.name = name;
  w.window_seconds = seconds;
  w.span_seconds = first_t_ < 0 ? 0 : std::min(seconds, newest_t_ - first_t_);
  const bool hour = seconds <= kHourSeconds;
  std::vector<diagnose::GrowthEntry> entries;
  for (const auto& [path, s] : series_) {
    const Sample old = hour ? Oldest(s.hour, s.now.t - seconds)
                            : Oldest(s.day, s.now.t - seconds);
    if (old.t < 0 || s.now.bytes <= old.bytes || s.now.t <= old.t) continue;
    diagnose::GrowthEntry e;
    e.component = s.component;
    e.path = path;
    e.growth_bytes = static_cast<int64_t>(s.now.bytes - old.bytes);
    e.bytes_per_hour =
        static_cast<double>(e.growth_bytes) * kHourSeconds / (s.now.t - old.t);
    e.bytes_now = s.now.bytes;
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  DropExplained(&entries);
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.growth_bytes != b.growth_bytes ? a.growth_bytes > b.growth_bytes
                                            : a.path < b.path;
  });
  if (entries.size() > limits_.top) entries.resize(limits_.top);
  w.top = std::move(entries);
  return w;
}

diagnose::GrowthReport GrowthHistory::Report() const {
  diagnose::GrowthReport r;
  r.timestamp = std::max(0.0, newest_t_);
  r.tracked = series_.size();
  r.tracked_limit = limits_.max_tracked;
  r.windows.push_back(Window("1h", kHourSeconds));
  r.windows.push_back(Window("1d", kDaySeconds));
  return r;
}

}  // namespace stemedb::exporter
