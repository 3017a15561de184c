// What the runbook's cleanup rules (config cleanup.rules) would free, tallied
// from the entries a directory walk already visits: no second walk.
//
// The walk reports every entry of every listed directory (Tally::Add) with a
// Context carried from parent to subdirectory; a tally per directory (or per
// walker thread) keeps, per rule, an "old" accumulator (entries already older
// than the rule's older_than: they stay older until an event changes them)
// and the few matching entries still too young. Evaluate(now) moves the
// young ones whose age has since been reached into the count, so a WAL
// segment turning 7 days old is counted at the next rendering without any
// file event or walk.
//
// Memory: nothing for entries that match no rule; 24 bytes per matching
// entry younger than its rule's older_than; a few words per (directory,
// rule) with a match where tallies are kept per directory (watch mode).
//
// Thread safety: Rules is immutable after Compile (share it read-only);
// Tally and Context are values used by one thread at a time.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stemedb/config.h"

namespace stemedb::reclaim {

// The most rules a config may hold (a Context holds a bit per rule).
inline constexpr size_t kMaxRules = kMaxCleanupRules;

// Carried from a directory to its subdirectories.
struct Context {
  uint64_t applies = 0;  // bit i: rule i's directory is this one or above
  // Rules of type directory whose matched directory this one is inside:
  // (rule index, that directory's mtime). Everything below it counts to it.
  std::vector<std::pair<uint8_t, double>> inside;
};

// One rule's figures at one moment.
struct Reading {
  uint64_t bytes = 0;    // allocated (st_blocks * 512), as du counts
  uint64_t entries = 0;  // matched entries, as find lists them
  std::optional<double> oldest_mtime;  // of the entries counted
};

class Tally;

class Rules {
 public:
  // REQUIRES: config.cleanup.rules.size() <= kMaxRules (the loader checks).
  explicit Rules(const Config& config);

  const std::vector<CleanupRule>& rules() const { return rules_; }

  // The context of a walk's root directory `path` (absolute, normal): rules
  // whose directory is `path` or above it apply; rules of type directory
  // whose match covers a directory between their root and `path` are
  // resolved by stat (watch mode re-scans single directories).
  Context RootContext(const std::string& path) const;

  // The context of subdirectory `name` of a directory with context
  // `parent` at `parent_path`; `st` is the subdirectory's lstat.
  Context ChildContext(const Context& parent, std::string_view parent_path,
                       std::string_view name, const struct stat& st) const;

  // Directories to walk for rules only: rule directories inside no
  // component, outermost first, each once. A component directory below one
  // of them is skipped there (IsComponentRoot): it is walked as itself.
  std::vector<std::string> ExtraRoots() const;
  bool IsComponentRoot(std::string_view path) const;

  // Per rule, in config order: the tallies summed, with young entries
  // counted once `now` (seconds since the epoch) has reached their age.
  std::vector<Reading> Evaluate(const std::vector<const Tally*>& tallies,
                                double now) const;

 private:
  friend class Tally;
  std::vector<CleanupRule> rules_;
  std::vector<double> older_than_;  // seconds
  std::vector<std::string> component_roots_;
};

// What one directory (or one walker's share of a walk) holds for the rules.
class Tally {
 public:
  // `now`: when the entries are stat'ed (seconds since the epoch); entries
  // at least older_than old then are "old" for good.
  Tally(const Rules* rules, double now) : rules_(rules), now_(now) {}

  // One entry of a directory with context `context`. `counted`: its bytes
  // are counted here (false for a hard link seen before).
  void Add(const Context& context, std::string_view name, const struct stat& st,
           bool counted);

  void Merge(const Tally& other);
  bool empty() const { return per_rule_.empty(); }
  // Approximate heap bytes held, for the memory figure in the README.
  size_t MemoryBytes() const;

 private:
  friend class Rules;
  struct Young {
    double mtime;
    uint64_t bytes;
    uint32_t entries;
  };
  struct PerRule {
    uint8_t rule = 0;
    uint64_t old_bytes = 0;
    uint64_t old_entries = 0;
    double old_oldest = std::numeric_limits<double>::infinity();
    std::vector<Young> young;
  };
  PerRule& For(uint8_t rule);
  void Count(uint8_t rule, double mtime, uint64_t bytes, uint32_t entries);

  const Rules* rules_;
  double now_;
  std::vector<PerRule> per_rule_;  // only rules with a match; few
};

}  // namespace stemedb::reclaim
