// The runbook's Quick Diagnosis tree (disk-full.md) as a pure function: the
// live numbers of a node (filesystems, components, largest directories,
// cleanup rules) go in, a verdict comes out: the section to go to, why, and
// the alerts whose thresholds are crossed. Knows nothing of files, HTTP or
// output formats; the sources (local walk, a running exporter) fill Numbers,
// render.h turns a Report into text or JSON.
//
// Thread safety: plain values and pure functions; reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "stemedb/config/config.h"

namespace stemedb::diagnose {

// The monitoring-plugin exit convention (Nagios, Icinga): the value is the
// exit code.
enum class Status : int { kOk = 0, kWarning = 1, kCritical = 2, kUnknown = 3 };

// "OK", "WARNING", "CRITICAL", "UNKNOWN".
std::string_view StatusName(Status status);

// How many directories each top list holds (the runbook's `head -20`).
inline constexpr size_t kTopDirectories = 20;

// One filesystem holding a component: the `df -h` and `df -i` line.
struct FilesystemNumbers {
  std::string mountpoint;
  std::string device;
  std::string fstype;
  bool readonly = false;     // the filesystem's own flag (not a read-only view)
  bool stat_success = true;  // the last statvfs answered in time
  bool have_capacity = false;  // statvfs answered (maybe before the last
                               // one); else the numbers are 0
  uint64_t size_bytes = 0;
  uint64_t free_bytes = 0;
  uint64_t avail_bytes = 0;
  uint64_t files = 0;  // 0: the filesystem has no inode table
  uint64_t files_free = 0;
};

// One component directory (`du -sh data/wal/`).
struct ComponentNumbers {
  std::string name;
  std::string path;        // absolute
  std::string mountpoint;  // its filesystem; empty when unknown (missing)
  bool present = false;
  // The last walk went to the end of a directory that exists (or may be
  // absent): false when it was missing or stopped early.
  bool scan_success = true;
  // Walked to the end, every entry accounted for (numbers are not a lower
  // bound).
  bool complete = false;
  // Entries the numbers leave out (unreadable directories and entries), and
  // the directories holding them (at most 20).
  uint64_t unaccounted_entries = 0;
  std::vector<std::string> unaccounted_paths;
  uint64_t allocated_bytes = 0;  // like du
  uint64_t files = 0;
  uint64_t directories = 0;
  bool has_segments = false;
  uint64_t segments = 0;
  double oldest_segment_timestamp = 0;  // unix seconds; when segments > 0
  double newest_segment_timestamp = 0;
};

// A directory and its number in a top list: allocated bytes of its whole
// subtree (`du -h DIR | sort -rh | head -20`) or entries directly inside it
// (`find DIR -printf '%h\n' | sort | uniq -c | sort -rn | head -20`).
struct DirectoryNumber {
  std::string path;
  uint64_t value = 0;
};

// One cleanup rule (config `cleanup.rules`) and what it would free now.
struct RuleNumbers {
  std::string name;
  std::string section;     // runbook section, "1".."5"
  std::string path;        // absolute directory the rule looks in
  std::string command;     // the runbook command that frees it, for humans
  std::string mountpoint;  // the filesystem it frees; empty when unknown
  bool measured = false;   // the numbers below are known
  uint64_t bytes = 0;      // allocated, like du
  uint64_t entries = 0;
  double oldest_timestamp = 0;  // unix seconds; when entries > 0
};

// A process holding a deleted file open on a filesystem holding a
// component (`lsof +L1`): the space df counts and du cannot see.
struct HolderNumbers {
  int64_t pid = 0;
  std::string user;  // name, or the uid when it has none
  std::string command;
  std::string path;  // the deleted file's last name
  std::string mountpoint;
  uint64_t bytes = 0;  // allocated
};

// Deleted-but-open files, from the exporter's /proc scan.
struct DeletedOpenNumbers {
  bool scanned = false;  // a scan ran; else nothing below is known
  // Processes whose descriptors could not be read (not root, no
  // CAP_SYS_PTRACE): what they hold is unknown.
  uint64_t unreadable_processes = 0;
  bool truncated = false;              // the scan hit its limits
  std::vector<HolderNumbers> holders;  // largest first
};

// Everything the tree looks at, as of one moment.
struct Numbers {
  std::string source;    // "walk" (this process walked) or "exporter"
  double timestamp = 0;  // unix seconds the numbers are as of
  std::string root;      // the layout's root (config root)
  std::vector<FilesystemNumbers> filesystems;  // sorted by mountpoint
  std::vector<ComponentNumbers> components;    // config order
  // The top lists over every component's tree, largest first (ties by
  // path); at most kTopDirectories each.
  bool directories_measured = false;
  std::vector<DirectoryNumber> largest_directories;  // allocated bytes
  std::vector<DirectoryNumber> most_entries;         // direct entries
  std::vector<RuleNumbers> rules;                    // config order
  DeletedOpenNumbers deleted_open;
  std::vector<std::string> notes;  // what the source could not measure
};

// The thresholds the verdict uses: the alerts' own (Config::thresholds), so
// the exit code agrees with what Prometheus would fire (without `for`).
struct Limits {
  double disk_warning_avail_ratio = 0.20;   // StemeDBDiskSpaceWarning
  double disk_critical_avail_ratio = 0.10;  // StemeDBDiskSpaceCritical
  double emergency_used_ratio = 0.98;       // StemeDBDiskSpaceEmergency, §1
  double inode_warning_free_ratio = 0.10;   // StemeDBInodeExhaustion
  double inode_critical_free_ratio = 0.05;  // StemeDBInodeExhaustionCritical
  std::string wal_component = "wal";
  std::string db_component = "db";
  // StemeDBWALFillingFilesystem, and the tree's "using most space?" share
  // for the WAL and the database alike.
  double most_space_share = 0.50;
  double wal_retention_seconds = 7 * 86400.0;  // StemeDBWALRetentionExceeded
  int64_t wal_max_segments = 100;              // StemeDBWALTooManySegments
  // ...unless this share fewer than this long ago (a backlog draining):
  // Prometheus' history, which one moment cannot show, so the finding says
  // so instead of guessing.
  double wal_shrinking_lookback_seconds = 86400.0;
  double wal_shrinking_ratio = 0.05;
  std::string backups_component = "backups";
  double backup_max_age_seconds = 36 * 3600.0;    // StemeDBBackupTooOld
  double backup_retention_seconds = 7 * 86400.0;  // ...OlderThanRetention
  int64_t backup_max_count = 7;  // StemeDBBackupsBeyondRetention
  std::string tmp_component = "tmp";
  int64_t tmp_max_files = 10000;             // StemeDBTmpFilesAccumulating
  int64_t tmp_max_bytes = int64_t{1} << 30;  // StemeDBTmpFilesAccumulating
  // What the cleanup rules would free on a filesystem, above this share of
  // its size: StemeDBCleanupNotRunning.
  double reclaimable_max_share = 0.10;
  // The families switched off in the config report no finding, as their
  // alerts do not exist.
  AlertFamilies families;
};

Limits LimitsFrom(const Thresholds& thresholds,
                  const AlertFamilies& families = {});

// The runbook's "If failed: Still >95% after cleanup -> §5".
inline constexpr double kStillFullAfterCleanup = 0.95;

// One question of the tree, asked of one filesystem.
struct Step {
  std::string check;     // the runbook's command, e.g. "du -sh data/wal/"
  std::string question;  // e.g. "WAL using most space?"
  bool answer = false;
  std::string detail;   // the live number behind the answer
  std::string section;  // where a "yes" leads
};

// An alert threshold that is crossed right now.
struct Finding {
  Status severity = Status::kWarning;
  std::string alert;    // the alert's name, e.g. "StemeDBDiskSpaceCritical"
  std::string subject;  // mountpoint or component
  std::string detail;   // the number against the threshold
  std::string section;  // the runbook section that resolves it
};

struct FilesystemVerdict {
  std::string mountpoint;
  Status status = Status::kOk;
  std::string section;  // "" when nothing is to be done
  std::string reason;
  std::vector<Step> steps;        // the tree, in the runbook's order
  uint64_t cleanup_bytes = 0;     // what the rules of `section` free here
  bool cleanup_measured = false;  // a measured rule frees this filesystem
};

// Every string field, here and in the structs above, is escaped for the
// terminal by RenderText (render.cc's Printable): a new one is added there.
struct Report {
  Numbers numbers;
  Limits limits;
  Status status = Status::kUnknown;
  std::string section;        // "1".."5", or "" when nothing is to be done
  std::string section_title;  // e.g. "Emergency Cleanup"
  std::string mountpoint;     // the filesystem the verdict is about
  std::string reason;         // why, in one or two sentences
  std::string then;           // the runbook's follow-up, when it applies
  std::vector<Finding> findings;
  std::vector<FilesystemVerdict> filesystems;  // parallel to numbers'
};

// "Emergency Cleanup", "WAL Cleanup", ... for "1".."5"; "" otherwise.
std::string_view SectionTitle(std::string_view section);

// The alert for numbers that leave entries out (a lower bound).
inline constexpr std::string_view kScanIncompleteAlert =
    "StemeDBDiskScanIncomplete";

// A warning per component whose numbers leave entries out, naming the
// directories and the fix (accounting.cc).
void UnaccountedFindings(const Numbers& numbers, std::vector<Finding>* out);

// The holders of deleted-but-open files and what to do, one line each
// (unwrapped); empty when there are none. What the scan could not see is
// in Numbers::notes (accounting.cc).
std::vector<std::string> DeletedOpenLines(const Numbers& numbers);

// Walks the tree for every filesystem holding a component and picks the
// most severe (ties: the earlier in the tree). The order, per filesystem:
//   1. df -h: used above emergency_used_ratio            -> §1 (critical)
//   2. df -i: free inodes below the critical ratio       -> §4 (critical);
//      asked this early because no byte cleanup helps a filesystem that
//      is out of inodes
//   3. WAL above most_space_share of the filesystem      -> §2
//   4. database above that share, while space is short   -> §3
//   5. df -i: free inodes below the warning ratio        -> §4
//   6. WAL older than its retention or over its segments -> §2
//   7. space short (available below the warning ratio): the cleanup rules
//      free something here (or are not measured)      -> §1 (its steps),
//      else                                              -> §5
// Status is the most severe finding (critical > unknown > warning > ok);
// unknown when no filesystem of a present component answered statvfs.
Report Diagnose(Numbers numbers, const Limits& limits);

}  // namespace stemedb::diagnose
