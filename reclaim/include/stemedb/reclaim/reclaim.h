// What the runbook's cleanup rules (config cleanup.rules) would free, tallied
// from the entries a directory walk already visits: no second walk.
//
// The walk hands every entry of every listed directory to a Tally (one per
// walker thread, or one per directory where directories are re-scanned
// alone); which rules apply follows from the directory's path alone, so the
// hook does no I/O and needs nothing carried between directories. Per rule
// the tally keeps an "old" accumulator (entries already older than the
// rule's older_than stay older until an event changes them) and the few
// matching entries still too young; Evaluate(now) counts the young ones
// whose age has since been reached, so a WAL segment turning 7 days old is
// counted at the next rendering without any file event or walk. A matched
// directory (type directory: a backup set) counts with everything below it,
// aged by its own mtime; nothing inside it is matched again.
//
// A hard-linked file (st_nlink > 1) a file rule matches counts its bytes
// once per rule however many of its names match and whichever tallies they
// are in (walk roots and components keep hard links apart, a rule spans
// them): as du counts the names find lists.
//
// Memory: nothing for entries that match no rule or are already old; 16
// bytes per matching file younger than its rule's older_than; 48 bytes per
// matching name of a hard-linked file; per matched directory its path and
// 24 bytes; about 100 bytes per rule with a match per tally.
//
// Thread safety: Rules is immutable after construction (share it
// read-only); a Tally is used by one thread at a time.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stemedb/config/config.h"
#include "stemedb/config/pattern.h"

namespace stemedb::reclaim {

// One rule's figures at one moment.
struct Reading {
  uint64_t bytes = 0;    // allocated (st_blocks * 512), as du counts
  uint64_t entries = 0;  // matched entries, as find lists them
  std::optional<double> oldest_mtime;  // of the entries counted
};

class Tally;

class Rules {
 public:
  // REQUIRES: config.cleanup.rules.size() <= kMaxCleanupRules (the loader
  // checks).
  explicit Rules(const Config& config);

  const std::vector<CleanupRule>& rules() const { return rules_; }

  // Directories to walk for rules only: rule directories inside no
  // component, outermost first, each once. A component directory met below
  // one of them is not entered there (ComponentRootsBelow): it is walked as
  // its component.
  std::vector<std::string> ExtraRoots() const;
  // Component directories strictly below `root`.
  std::vector<std::string> ComponentRootsBelow(const std::string& root) const;
  // Whether rule `index` covers anything in the tree at `root`: its
  // directory is in that tree or the tree is in its directory.
  bool Overlaps(size_t index, const std::string& root) const;

  // Per rule, in config order: the tallies summed, with young entries
  // counted once `now` (seconds since the epoch) has reached their age.
  std::vector<Reading> Evaluate(const std::vector<const Tally*>& tallies,
                                double now) const;

 private:
  friend class Tally;
  // Which rules apply in `directory` and the matched directories (by path)
  // it lies in, per directory rule.
  struct Context {
    uint64_t applies = 0;  // bit i: rule i's directory is this one or above
    std::vector<std::pair<uint8_t, std::string>> inside;
  };
  Context ContextOf(std::string_view directory) const;

  std::vector<CleanupRule> rules_;
  std::vector<std::optional<Pattern>> globs_;  // each rule's match, compiled
  std::vector<double> older_than_;             // seconds
  std::vector<std::string> component_roots_;
};

// What one walker's share of a walk (or one directory) holds for the rules.
class Tally {
 public:
  // `now`: when the entries are stat'ed (seconds since the epoch); entries
  // at least older_than old then are "old" for good.
  Tally(const Rules* rules, double now) : rules_(rules), now_(now) {}

  // One entry `name` of directory `directory` (full path); `counted`: its
  // bytes are counted here (false for a hard link seen before). A
  // hard-linked file a file rule matches is counted by its inode instead
  // (once per rule across tallies), whatever `counted` says. No I/O.
  void Add(std::string_view directory, std::string_view name,
           const struct stat& st, bool counted);

  // Takes back what Add(directory, name, st, counted) added, with the same
  // arguments. False when that cannot be done exactly: the entry is a
  // matched directory, or the oldest "old" entry (the minimum is not
  // recomputable), or it was never added. The tally may then be partly
  // changed; the caller discards it and tallies the directory again.
  bool Remove(std::string_view directory, std::string_view name,
              const struct stat& st, bool counted);

  void Merge(const Tally& other);
  // Approximate heap bytes held.
  size_t MemoryBytes() const;

 private:
  friend class Rules;
  struct Young {
    double mtime;
    uint64_t bytes;
  };
  // A matching name of a hard-linked file: its inode's bytes count once
  // per rule, from the name stat'ed last (the greatest ctime).
  struct Linked {
    dev_t dev;
    ino_t ino;
    double mtime;
    double ctime;
    uint64_t bytes;
    bool old;  // older than the rule's age when stat'ed
  };
  static Linked LinkedOf(const struct stat& st, bool old);
  // A matched directory: its own entry (when seen) and what lies below it.
  struct Set {
    double mtime = std::numeric_limits<double>::quiet_NaN();
    uint64_t bytes = 0;
    uint32_t entries = 0;
  };
  struct PerRule {
    uint8_t rule = 0;
    uint64_t old_bytes = 0;
    uint64_t old_entries = 0;
    // The smallest mtimes of the old entries, ascending (at most
    // kOldLows; all of them while lows.size() == old_entries), so that
    // Remove can take back the oldest: the next one is known. Never empty
    // while old_entries > 0.
    std::vector<double> lows;
    double OldOldest() const {
      return lows.empty() ? std::numeric_limits<double>::infinity()
                          : lows.front();
    }
    void AddLow(double mtime);  // before old_entries counts it
    std::vector<Young> young;
    std::vector<Linked> linked;
    std::map<std::string, Set, std::less<>> sets;  // directory rules
  };
  PerRule& For(uint8_t rule);
  static constexpr size_t kOldLows = 8;
  // Makes context_ the one of `directory` (entries come a directory at a
  // time, so it is worked out once per directory).
  void EnterDirectory(std::string_view directory);

  const Rules* rules_;
  double now_;
  std::vector<PerRule> per_rule_;  // only rules with a match; few
  // The last directory's context: entries come a directory at a time.
  std::string directory_;
  Rules::Context context_;
  bool have_context_ = false;
};

}  // namespace stemedb::reclaim
