#include "stemedb/reclaim/reclaim.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <tuple>

#include "stemedb/base/paths.h"
#include "stemedb/base/time.h"
#include "stemedb/config/pattern.h"

namespace stemedb::reclaim {
namespace {

bool IsWithin(std::string_view inner, std::string_view outer) {
  return IsAtOrBelow(inner, outer);
}

// A rule whose glob did not compile (the loader refuses those) matches
// nothing.
bool NameMatches(const std::optional<Pattern>& glob, std::string_view name) {
  return glob && glob->Matches(name);
}

bool Matches(const CleanupRule& rule, const std::optional<Pattern>& glob,
             std::string_view name, const struct stat& st) {
  switch (rule.type) {
    case CleanupEntryType::kFile:
      if (!S_ISREG(st.st_mode)) return false;
      break;
    case CleanupEntryType::kEmptyFile:
      if (!S_ISREG(st.st_mode) || st.st_size != 0) return false;
      break;
    case CleanupEntryType::kDirectory:
      if (!S_ISDIR(st.st_mode)) return false;
      break;
  }
  return NameMatches(glob, name);
}

// Adds the hard-linked names in `names` (Tally::Linked, one rule's, from
// every tally) that count at `before` to *reading: every name an entry, each
// inode's bytes once, as of the name stat'ed last. Sorts `names`.
template <typename LinkedName>
void CountLinked(std::vector<LinkedName>* names, double before,
                 Reading* reading, double* oldest) {
  std::sort(names->begin(), names->end(),
            [](const LinkedName& a, const LinkedName& b) {
              return std::tie(a.dev, a.ino, a.ctime, a.bytes) <
                     std::tie(b.dev, b.ino, b.ctime, b.bytes);
            });
  const LinkedName* inode = nullptr;  // the freshest counted name so far
  for (const LinkedName& name : *names) {
    if (inode != nullptr &&
        (inode->dev != name.dev || inode->ino != name.ino)) {
      reading->bytes += inode->bytes;
      inode = nullptr;
    }
    if (!name.old && !(name.mtime < before)) continue;
    ++reading->entries;
    *oldest = std::min(*oldest, name.mtime);
    inode = &name;
  }
  if (inode != nullptr) reading->bytes += inode->bytes;
}

}  // namespace

Rules::Rules(const Config& config) : rules_(config.cleanup.rules) {
  for (const CleanupRule& rule : rules_) {
    older_than_.push_back(rule.older_than.seconds());
    PatternError error;
    globs_.push_back(Pattern::Glob(rule.match, &error));
  }
  for (const Component& component : config.components) {
    component_roots_.push_back(component.resolved_path);
  }
}

Rules::Context Rules::ContextOf(std::string_view directory) const {
  Context context;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const CleanupRule& rule = rules_[i];
    if (!IsWithin(directory, rule.resolved_path)) continue;
    context.applies |= uint64_t{1} << i;
    if (rule.type != CleanupEntryType::kDirectory ||
        directory == rule.resolved_path) {
      continue;
    }
    // The outermost directory between the rule's and this one whose name
    // matches: every directory on the way is a directory.
    size_t end = rule.resolved_path == "/" ? 0 : rule.resolved_path.size();
    while (end < directory.size()) {
      const size_t start = end + 1;
      end = directory.find('/', start);
      if (end == std::string_view::npos) end = directory.size();
      if (NameMatches(globs_[i], directory.substr(start, end - start))) {
        context.inside.emplace_back(static_cast<uint8_t>(i),
                                    std::string(directory.substr(0, end)));
        break;
      }
    }
  }
  return context;
}

std::vector<std::string> Rules::ExtraRoots() const {
  std::vector<std::string> roots;
  for (const CleanupRule& rule : rules_) {
    const std::string& path = rule.resolved_path;
    const bool in_component =
        std::any_of(component_roots_.begin(), component_roots_.end(),
                    [&](const std::string& c) { return IsWithin(path, c); });
    if (!in_component) roots.push_back(path);
  }
  std::sort(roots.begin(), roots.end(),
            [](const std::string& a, const std::string& b) {
              return a.size() != b.size() ? a.size() < b.size() : a < b;
            });
  std::vector<std::string> out;
  for (const std::string& root : roots) {
    const bool covered =
        std::any_of(out.begin(), out.end(),
                    [&](const std::string& o) { return IsWithin(root, o); });
    if (!covered) out.push_back(root);
  }
  return out;
}

std::vector<std::string> Rules::ComponentRootsBelow(
    const std::string& root) const {
  std::vector<std::string> out;
  for (const std::string& c : component_roots_) {
    if (c != root && IsWithin(c, root)) out.push_back(c);
  }
  return out;
}

bool Rules::Overlaps(size_t index, const std::string& root) const {
  const std::string& path = rules_[index].resolved_path;
  return IsWithin(path, root) || IsWithin(root, path);
}

std::vector<Reading> Rules::Evaluate(const std::vector<const Tally*>& tallies,
                                     double now) const {
  std::vector<Reading> out(rules_.size());
  std::vector<double> oldest(rules_.size(),
                             std::numeric_limits<double>::infinity());
  // Matched directories: their entry and their contents may sit in
  // different tallies (walker threads, directories).
  std::vector<std::map<std::string_view, Tally::Set>> sets(rules_.size());
  std::vector<std::vector<Tally::Linked>> linked(rules_.size());
  for (const Tally* tally : tallies) {
    for (const Tally::PerRule& r : tally->per_rule_) {
      Reading& reading = out[r.rule];
      reading.bytes += r.old_bytes;
      reading.entries += r.old_entries;
      oldest[r.rule] = std::min(oldest[r.rule], r.OldOldest());
      const double before = now - older_than_[r.rule];
      for (const Tally::Young& y : r.young) {
        if (!(y.mtime < before)) continue;
        reading.bytes += y.bytes;
        ++reading.entries;
        oldest[r.rule] = std::min(oldest[r.rule], y.mtime);
      }
      linked[r.rule].insert(linked[r.rule].end(), r.linked.begin(),
                            r.linked.end());
      for (const auto& [path, set] : r.sets) {
        Tally::Set& merged = sets[r.rule][path];
        if (!std::isnan(set.mtime)) merged.mtime = set.mtime;
        merged.bytes += set.bytes;
        merged.entries += set.entries;
      }
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    const double before = now - older_than_[i];
    CountLinked(&linked[i], before, &out[i], &oldest[i]);
    for (const auto& [path, set] : sets[i]) {
      // A set whose own entry was not listed (its parent was not walked)
      // is not known to be one.
      if (set.entries == 0) continue;
      if (older_than_[i] > 0 && !(set.mtime < before)) continue;
      out[i].bytes += set.bytes;
      out[i].entries += set.entries;
      oldest[i] = std::min(oldest[i], set.mtime);
    }
    if (std::isfinite(oldest[i])) out[i].oldest_mtime = oldest[i];
  }
  return out;
}

Tally::Linked Tally::LinkedOf(const struct stat& st, bool old) {
  return {st.st_dev,
          st.st_ino,
          Seconds(st.st_mtim),
          Seconds(st.st_ctim),
          static_cast<uint64_t>(st.st_blocks) * 512,
          old};
}

void Tally::PerRule::AddLow(double mtime) {
  // Complete (all old entries listed), or below the last low: it is among
  // the smallest. Otherwise entries between the last low and it are not
  // known, and it is not kept.
  if (lows.size() == old_entries || (!lows.empty() && mtime < lows.back())) {
    lows.insert(std::upper_bound(lows.begin(), lows.end(), mtime), mtime);
    if (lows.size() > kOldLows) lows.pop_back();
  }
}

Tally::PerRule& Tally::For(uint8_t rule) {
  for (PerRule& r : per_rule_) {
    if (r.rule == rule) return r;
  }
  PerRule& r = per_rule_.emplace_back();
  r.rule = rule;
  return r;
}

void Tally::EnterDirectory(std::string_view directory) {
  if (have_context_ && directory == directory_) return;
  directory_.assign(directory);
  context_ = rules_->ContextOf(directory);
  have_context_ = true;
}

void Tally::Add(std::string_view directory, std::string_view name,
                const struct stat& st, bool counted) {
  EnterDirectory(directory);
  if (context_.applies == 0) return;
  const uint64_t bytes =
      counted ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
  const double mtime = Seconds(st.st_mtim);
  // Below a matched directory: the bytes belong to it; not matched again.
  uint64_t inside = 0;
  for (const auto& [rule, path] : context_.inside) {
    inside |= uint64_t{1} << rule;
    if (bytes > 0) For(rule).sets[path].bytes += bytes;
  }
  const uint64_t candidates = context_.applies & ~inside;
  if (candidates == 0) return;
  const std::vector<CleanupRule>& rules = rules_->rules_;
  for (size_t i = 0; i < rules.size(); ++i) {
    if (!(candidates & (uint64_t{1} << i))) continue;
    if (!Matches(rules[i], rules_->globs_[i], name, st)) continue;
    PerRule& r = For(static_cast<uint8_t>(i));
    if (rules[i].type == CleanupEntryType::kDirectory) {
      Set& set = r.sets[Join(directory, name)];
      set.mtime = mtime;
      set.bytes += bytes;
      set.entries += 1;
      continue;
    }
    // Old for good when older than the rule's age at stat time; "0s" (any
    // age) is always old, a file from the future included.
    const double older_than = rules_->older_than_[i];
    const bool old = older_than <= 0 || mtime < now_ - older_than;
    if (st.st_nlink > 1) {
      r.linked.push_back(LinkedOf(st, old));
    } else if (old) {
      r.AddLow(mtime);
      r.old_bytes += bytes;
      r.old_entries += 1;
    } else {
      r.young.push_back({mtime, bytes});
    }
  }
}

bool Tally::Remove(std::string_view directory, std::string_view name,
                   const struct stat& st, bool counted) {
  EnterDirectory(directory);
  if (context_.applies == 0) return true;
  const uint64_t bytes =
      counted ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
  const double mtime = Seconds(st.st_mtim);
  uint64_t inside = 0;
  for (const auto& [rule, path] : context_.inside) {
    inside |= uint64_t{1} << rule;
    if (bytes == 0) continue;
    auto set = For(rule).sets.find(path);
    if (set == For(rule).sets.end() || set->second.bytes < bytes) return false;
    set->second.bytes -= bytes;
  }
  const uint64_t candidates = context_.applies & ~inside;
  if (candidates == 0) return true;
  const std::vector<CleanupRule>& rules = rules_->rules_;
  for (size_t i = 0; i < rules.size(); ++i) {
    if (!(candidates & (uint64_t{1} << i))) continue;
    if (!Matches(rules[i], rules_->globs_[i], name, st)) continue;
    if (rules[i].type == CleanupEntryType::kDirectory) return false;
    PerRule& r = For(static_cast<uint8_t>(i));
    if (st.st_nlink > 1) {
      const Linked want = LinkedOf(st, false);
      auto it =
          std::find_if(r.linked.begin(), r.linked.end(), [&](const Linked& l) {
            return l.dev == want.dev && l.ino == want.ino &&
                   l.mtime == want.mtime && l.ctime == want.ctime &&
                   l.bytes == want.bytes;
          });
      if (it == r.linked.end()) return false;
      *it = r.linked.back();
      r.linked.pop_back();
      continue;
    }
    auto young = std::find_if(
        r.young.begin(), r.young.end(),
        [&](const Young& y) { return y.mtime == mtime && y.bytes == bytes; });
    if (young != r.young.end()) {
      *young = r.young.back();
      r.young.pop_back();
      continue;
    }
    if (r.old_entries == 0 || r.old_bytes < bytes) return false;
    auto low = std::lower_bound(r.lows.begin(), r.lows.end(), mtime);
    if (low != r.lows.end() && *low == mtime) {
      r.lows.erase(low);
      // The last known low gone with others left: the oldest is unknown.
      if (r.lows.empty() && r.old_entries > 1) return false;
    } else if (low != r.lows.end() || r.lows.size() == r.old_entries) {
      return false;  // below the lows yet not among them: never added
    }
    r.old_bytes -= bytes;
    r.old_entries -= 1;
  }
  return true;
}

void Tally::Merge(const Tally& other) {
  for (const PerRule& o : other.per_rule_) {
    PerRule& r = For(o.rule);
    // The union of the two lows, cut where either stops being complete
    // (entries beyond its last low are unknown), then to kOldLows.
    double bound = std::numeric_limits<double>::infinity();
    for (const PerRule* p : {static_cast<const PerRule*>(&r), &o}) {
      if (p->lows.size() < p->old_entries) {
        bound = std::min(bound, p->lows.empty()
                                    ? -std::numeric_limits<double>::infinity()
                                    : p->lows.back());
      }
    }
    r.old_bytes += o.old_bytes;
    r.old_entries += o.old_entries;
    std::vector<double> lows;
    std::merge(r.lows.begin(), r.lows.end(), o.lows.begin(), o.lows.end(),
               std::back_inserter(lows));
    while (!lows.empty() && lows.back() > bound) lows.pop_back();
    if (lows.size() > kOldLows) lows.resize(kOldLows);
    r.lows = std::move(lows);
    r.young.insert(r.young.end(), o.young.begin(), o.young.end());
    r.linked.insert(r.linked.end(), o.linked.begin(), o.linked.end());
    for (const auto& [path, set] : o.sets) {
      Set& merged = r.sets[path];
      if (!std::isnan(set.mtime)) merged.mtime = set.mtime;
      merged.bytes += set.bytes;
      merged.entries += set.entries;
    }
  }
}

size_t Tally::MemoryBytes() const {
  size_t bytes = per_rule_.capacity() * sizeof(PerRule) + directory_.capacity();
  for (const PerRule& r : per_rule_) {
    bytes += r.lows.capacity() * sizeof(double);
    bytes += r.young.capacity() * sizeof(Young);
    bytes += r.linked.capacity() * sizeof(Linked);
    for (const auto& [path, set] : r.sets) {
      bytes += path.capacity() + sizeof(set) + 48;  // map node
    }
  }
  return bytes;
}

}  // namespace stemedb::reclaim
