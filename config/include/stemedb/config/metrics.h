// Every metric family the exporter serves, defined once: name, type, labels,
// HELP text and the group it is documented under. The collector takes name,
// HELP and type from here (Get fails to compile for a name missing here),
// docs/metrics.md is generated from it (metrics_doc), and the collector's
// tests hold the exporter's output to it, family by family and label by
// label. The names themselves stay in metric_names.h, which the rule
// generator queries.
//
// Thread safety: constant data and pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "stemedb/config/metric_names.h"

namespace stemedb::metrics {

enum class Type { kGauge, kCounter };

// How old a value may be at scrape time; the HELP text says so.
enum class Freshness {
  kLive,          // as of the rendering (or the scrape)
  kCachedWalk,    // as of the last complete background walk
  kCachedStatfs,  // as of the last background statfs
};

// The sections of docs/metrics.md, in this order.
enum class Group {
  kComponents,
  kComponentSegments,
  kFilesystems,
  kCleanup,
  kWalks,
  kWatch,
  kExporter,
  kProcess,
};

// The exporter's own metrics, left out by --web.disable-exporter-metrics
// (as node_exporter's leaves out process_* and go_*): how watch mode does
// its work and the process. What the disk holds, the walks' success (what
// `up`-style alerts read), the build and the reload status stay.
constexpr bool IsExporterMetric(Group group) {
  return group == Group::kWatch || group == Group::kProcess;
}

inline constexpr size_t kMaxLabels = 5;

struct Family {
  std::string_view name;
  Type type;
  Group group;
  // Label names in the order the docs list them; unused slots are empty.
  std::array<std::string_view, kMaxLabels> labels;
  Freshness freshness;
  // The HELP text without the freshness sentence (FullHelp adds it).
  std::string_view help;
  // Docs only: what a reader needs beyond the HELP text (label values,
  // which one alerts use). Markdown; may be empty.
  std::string_view notes = {};
};

inline constexpr Family kFamilies[] = {
    // Components.
    {kComponentAllocatedBytes,
     Type::kGauge,
     Group::kComponents,
     {kComponent},
     Freshness::kCachedWalk,
     "Bytes allocated on disk by the component's tree (st_blocks*512, hard "
     "links once; what du reports).",
     "Equals `du -s --block-size=1`. **Alerts use this.**"},
    {kComponentApparentBytes,
     Type::kGauge,
     Group::kComponents,
     {kComponent},
     Freshness::kCachedWalk,
     "Apparent size in bytes of the component's tree (st_size; what du -b "
     "reports).",
     "Equals `du -s -b`."},
    {kComponentFiles,
     Type::kGauge,
     Group::kComponents,
     {kComponent},
     Freshness::kCachedWalk,
     "Non-directory entries in the component's tree.",
     "Regular files, symlinks, FIFOs and sockets; each hard link counts."},
    {kComponentDirectories,
     Type::kGauge,
     Group::kComponents,
     {kComponent},
     Freshness::kCachedWalk,
     "Directories in the component's tree, itself included."},
    {kComponentPresent,
     Type::kGauge,
     Group::kComponents,
     {kComponent},
     Freshness::kCachedWalk,
     "1 if the component directory exists, 0 if not."},
    // Segments.
    {kSegments,
     Type::kGauge,
     Group::kComponentSegments,
     {kComponent},
     Freshness::kCachedWalk,
     "Entries directly in the component directory matching its segment "
     "pattern (WAL segments, backup sets).",
     "Only for components with a `segment_pattern` (`*.log`, "
     "`stemedb-backup-*`)."},
    {kSegmentAllocatedBytes,
     Type::kGauge,
     Group::kComponentSegments,
     {kComponent},
     Freshness::kCachedWalk,
     "Bytes allocated by the component's segments.",
     "A segment that is a directory (a backup set) counts with everything "
     "below it."},
    {kOldestSegmentTimestamp,
     Type::kGauge,
     Group::kComponentSegments,
     {kComponent},
     Freshness::kCachedWalk,
     "Modification time of the oldest segment, unix seconds; absent while "
     "there is no segment.",
     "Its age in PromQL: `time() - x`."},
    {kNewestSegmentTimestamp,
     Type::kGauge,
     Group::kComponentSegments,
     {kComponent},
     Freshness::kCachedWalk,
     "Modification time of the newest segment, unix seconds; absent while "
     "there is no segment."},
    // Filesystems.
    {kFilesystemSizeBytes,
     Type::kGauge,
     Group::kFilesystems,
     {kMountpoint, kDevice, kFstype},
     Freshness::kCachedStatfs,
     "Filesystem size in bytes."},
    {kFilesystemFreeBytes,
     Type::kGauge,
     Group::kFilesystems,
     {kMountpoint, kDevice, kFstype},
     Freshness::kCachedStatfs,
     "Filesystem free space in bytes, including the space reserved for "
     "root."},
    {kFilesystemAvailBytes,
     Type::kGauge,
     Group::kFilesystems,
     {kMountpoint, kDevice, kFstype},
     Freshness::kCachedStatfs,
     "Filesystem space available to non-root users in bytes (what alerts "
     "use)."},
    {kFilesystemFiles,
     Type::kGauge,
     Group::kFilesystems,
     {kMountpoint, kDevice, kFstype},
     Freshness::kCachedStatfs,
     "Filesystem total inodes; 0 where the filesystem has no fixed inode "
     "table.",
     "0 does not mean \"0 % free\": inode alerts skip such filesystems."},
    {kFilesystemFilesFree,
     Type::kGauge,
     Group::kFilesystems,
     {kMountpoint, kDevice, kFstype},
     Freshness::kCachedStatfs,
     "Filesystem free inodes."},
    {kFilesystemReadonly,
     Type::kGauge,
     Group::kFilesystems,
     {kMountpoint, kDevice, kFstype},
     Freshness::kCachedStatfs,
     "1 if the filesystem itself is read-only (not merely the exporter's "
     "view of it).",
     "The superblock's `ro`. A read-only view of a writable disk (a ro bind "
     "mount, systemd's `ProtectSystem=strict`, a Kubernetes `readOnly` "
     "volume) is 0, so its alerts stay on."},
    {kFilesystemStatSuccess,
     Type::kGauge,
     Group::kFilesystems,
     {kMountpoint, kDevice, kFstype},
     Freshness::kLive,
     "1 if the last statfs of the filesystem answered within the timeout; 0 "
     "if it failed or hung (values are older).",
     "The timeout is `scan.statfs_timeout`."},
    {kFilesystemAccountedBytes,
     Type::kGauge,
     Group::kFilesystems,
     {kMountpoint, kDevice, kFstype, kPart},
     Freshness::kCachedWalk,
     "Allocated bytes on the filesystem that the exporter accounts for: "
     "part=components (the component trees) or part=cleanup_roots (the "
     "cleanup rules' directories outside the components).",
     "Sums of `stemedb_disk_component_allocated_bytes` (and of the extra "
     "roots' walks) per filesystem, so no join is needed. Present once every "
     "tree of that part on the filesystem has been walked completely; 0 for "
     "a part with no tree there."},
    {kFilesystemOtherBytes,
     Type::kGauge,
     Group::kFilesystems,
     {kMountpoint, kDevice, kFstype},
     Freshness::kCachedWalk,
     "Used bytes of the filesystem (size - free) that neither a component "
     "nor a cleanup rule's directory holds: other data, filesystem metadata, "
     "and deleted files still open.",
     "`size - free - accounted{part=\"components\"} - "
     "accounted{part=\"cleanup_roots\"}`, clamped at 0 (hard links between "
     "trees, or trees walked at another moment than the statfs, can make the "
     "difference negative). Absent until both parts are known. Deleted files "
     "still open are part of it: see "
     "`stemedb_disk_filesystem_deleted_open_bytes`."},
    {kFilesystemDeletedOpenBytes,
     Type::kGauge,
     Group::kFilesystems,
     {kMountpoint, kDevice, kFstype},
     Freshness::kCachedStatfs,
     "Bytes allocated on the filesystem by deleted files that a process still "
     "holds open (what df counts and du cannot see; lsof +L1), from "
     "/proc/*/fd.",
     "Each inode counted once, st_blocks*512. **Absent when unknown**: when "
     "the exporter could not read some process's descriptors (see "
     "`stemedb_disk_deleted_open_unreadable_processes`; the service needs "
     "CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH to read other users' processes) "
     "or the scan hit its limits; never a 0 that means \"could not look\"."},
    {kDeletedOpenScanSuccess,
     Type::kGauge,
     Group::kFilesystems,
     {},
     Freshness::kCachedStatfs,
     "1 if the last /proc scan for deleted-but-open files read every "
     "process's descriptors within its limits; 0 if not (the bytes are then "
     "unknown and not exported)."},
    {kDeletedOpenUnreadableProcesses,
     Type::kGauge,
     Group::kFilesystems,
     {},
     Freshness::kCachedStatfs,
     "Processes whose open files the last /proc scan could not read "
     "(permission): deleted-but-open bytes they hold are unknown."},
    {kDeletedOpenScanDurationSeconds,
     Type::kGauge,
     Group::kFilesystems,
     {},
     Freshness::kCachedStatfs,
     "Wall time of the last /proc scan for deleted-but-open files."},
    {kComponentFilesystemInfo,
     Type::kGauge,
     Group::kFilesystems,
     {kComponent, kMountpoint, kDevice},
     Freshness::kLive,
     "Joins a component to the filesystem holding it; always 1."},
    // Cleanup rules.
    {kReclaimableBytes,
     Type::kGauge,
     Group::kCleanup,
     {kRule},
     Freshness::kCachedWalk,
     "Bytes allocated (as du counts, hard links once) by the entries the "
     "cleanup rule would delete now.",
     "A matched directory counts with everything below it."},
    {kReclaimableEntries,
     Type::kGauge,
     Group::kCleanup,
     {kRule},
     Freshness::kCachedWalk,
     "Entries (as find lists them) the cleanup rule would delete now."},
    {kReclaimableOldestTimestampSeconds,
     Type::kGauge,
     Group::kCleanup,
     {kRule},
     Freshness::kCachedWalk,
     "Modification time of the oldest entry the cleanup rule would delete, "
     "unix seconds; absent while none."},
    {kCleanupRuleInfo,
     Type::kGauge,
     Group::kCleanup,
     {kRule, kSection, kPath, kMountpoint, kDevice},
     Freshness::kLive,
     "A cleanup rule: its runbook section, directory and the filesystem "
     "holding it; always 1.",
     "The filesystem is the one holding the directory, or the mount above "
     "its path while it is absent, labelled as the filesystem series are, "
     "so alerts join reclaimable bytes to a filesystem."},
    // Walks.
    {kScanSuccess,
     Type::kGauge,
     Group::kWalks,
     {kComponent},
     Freshness::kLive,
     "1 if the last walk of the component completed (directory readable, "
     "within the timeout)."},
    {kScanDurationSeconds,
     Type::kGauge,
     Group::kWalks,
     {kComponent},
     Freshness::kLive,
     "Wall time of the last walk of the component."},
    {kLastScanSuccessTimestamp,
     Type::kGauge,
     Group::kWalks,
     {kComponent},
     Freshness::kLive,
     "Unix time the last successful walk of the component ended."},
    {kScanErrorsTotal,
     Type::kCounter,
     Group::kWalks,
     {kComponent, kReason},
     Freshness::kLive,
     "Entries that could not be accounted for during walks, by reason; the "
     "walk goes on past them.",
     "Reasons: `permission`, `vanished`, `loop` (a symlink loop, or deeper "
     "than `scan.max_depth`), `timeout`, `other`."},
    {kScanUnaccountedEntries,
     Type::kGauge,
     Group::kWalks,
     {kComponent, kReason},
     Freshness::kCachedWalk,
     "Entries the component's current numbers leave out, by reason (a "
     "directory that could not be opened counts 1, its contents unknown): "
     "the numbers are a lower bound while any is above 0.",
     "The state of the current numbers, not a count of events: in watch mode "
     "an unreadable directory stays here until a walk or an event reads it. "
     "Every reason but `vanished` (a vanished entry is gone, so the numbers "
     "are exact) is exported, 0 when the numbers are complete: alert on "
     "`> 0`. The directories are in the log and in `diagnose`; the usual fix "
     "is the service user's group membership or the directories' "
     "permissions."},
    // Watch mode.
    {kScanMode,
     Type::kGauge,
     Group::kWatch,
     {kComponent, kMode},
     Freshness::kLive,
     "1 for how the component's numbers are kept now: watch (inotify, fresh "
     "within seconds) or walk (a full walk every scan.interval); 0 for the "
     "other.",
     "In watch mode a component on nfs, cifs, smb3, fuse, 9p and the like, "
     "or one that ran out of inotify watches, is walked."},
    {kWatchReconcilesTotal,
     Type::kCounter,
     Group::kWatch,
     {kComponent},
     Freshness::kLive,
     "Reconcile walks in watch mode whose totals were compared with the "
     "watched ones.",
     "One every `scan.reconcile_interval`; one that an event overlapped is "
     "not counted."},
    {kWatchReconcileDifferenceBytes,
     Type::kGauge,
     Group::kWatch,
     {kComponent},
     Freshness::kLive,
     "Absolute difference in allocated bytes found by the last reconcile "
     "walk (0 before one).",
     "Anything but 0 is a bug; the component is walked again."},
    {kWatchReconcileDifferenceEntries,
     Type::kGauge,
     Group::kWatch,
     {kComponent},
     Freshness::kLive,
     "Absolute difference in files plus directories found by the last "
     "reconcile walk."},
    {kWatchRewalksTotal,
     Type::kCounter,
     Group::kWatch,
     {kComponent, kReason},
     Freshness::kLive,
     "Full walks in watch mode forced by a kernel queue overflow, the "
     "inotify watch limit (the component then falls back to walks), a "
     "reconcile difference (error) or the component path naming another "
     "directory (replaced).",
     "Reasons: `overflow`, `watch_limit`, `error`, `replaced`."},
    {kWatchDirectoryReadsTotal,
     Type::kCounter,
     Group::kWatch,
     {kComponent, kKind},
     Freshness::kLive,
     "Directories read again in watch mode after events: whole (every entry "
     "stat'ed) or named (only the entries the events named).",
     "Kinds: `whole`, `named` (directories of 256 entries and more)."},
    {kWatchEventsTotal,
     Type::kCounter,
     Group::kWatch,
     {},
     Freshness::kLive,
     "inotify events read in watch mode."},
    {kWatchDirectories,
     Type::kGauge,
     Group::kWatch,
     {},
     Freshness::kLive,
     "Directories watched (inotify watches held)."},
    // The exporter itself.
    {kConfigReloadSuccess,
     Type::kGauge,
     Group::kExporter,
     {},
     Freshness::kLive,
     "1 if the last configuration reload (the config and the web config) "
     "succeeded.",
     "A reload is SIGHUP; a bad file is logged and the running one kept."},
    {kConfigReloadFailuresTotal,
     Type::kCounter,
     Group::kExporter,
     {},
     Freshness::kLive,
     "Configuration reloads (SIGHUP) that failed and kept the previous "
     "config or web config."},
    {kThreshold,
     Type::kGauge,
     Group::kExporter,
     {kThresholdKey, kSource},
     Freshness::kLive,
     "Every threshold in force, by its dotted key under thresholds: in the "
     "config, in base units (seconds, bytes, counts, ratios).",
     "`source` is `config` (set in the YAML config), `stemedb` (from "
     "StemeDB's config.toml, key `stemedb_config`: `[wal] retention_days`, "
     "`max_segments`, `[backup] retention_days`) or `default`. As of the "
     "last (re)load; see docs/configuration.md."},
    {kStemedbConfigLoaded,
     Type::kGauge,
     Group::kExporter,
     {},
     Freshness::kLive,
     "1 if StemeDB's config.toml (config key stemedb_config) was read at the "
     "last (re)load, 0 if it does not exist.",
     "No series when `stemedb_config` is null or empty."},
    {kPreventionCheck,
     Type::kGauge,
     Group::kExporter,
     {kCheck},
     Freshness::kLive,
     "1 if a check of the runbook's Prevention section fails (its advice is "
     "not followed), 0 if it passes.",
     "`check`: `compaction_disabled`, `wal_retention_above_advice`, "
     "`backup_retention_above_advice` (these three need config.toml), "
     "`segments_over_max` (WAL segments above config.toml's `max_segments`; "
     "as of the last walk), `journald_no_size_cap` (no `SystemMaxUse=` in "
     "journald.conf or its drop-ins). A check that cannot be made has no "
     "series. Files are read at start and at each reload."},
    {kBuildInfo,
     Type::kGauge,
     Group::kExporter,
     {kVersion, kRevision},
     Freshness::kLive,
     "A metric with a constant 1 value labeled by the exporter's version and "
     "revision."},
    {kInvalidUtf8Total,
     Type::kCounter,
     Group::kExporter,
     {},
     Freshness::kLive,
     "Label values and log fields whose bytes were not valid UTF-8 (a "
     "mountpoint, device or path name); each invalid byte was written as a "
     "visible hex escape.",
     "The escape is `\\xNN` (`/tmp/x/mnt\\xffz`), so the scrape stays valid "
     "and two such names stay two series. Counted per rendering (after each "
     "walk and capacity pass) and per log line."},
    // Process.
    {kProcessCpuSecondsTotal,
     Type::kCounter,
     Group::kProcess,
     {},
     Freshness::kLive,
     "Total user and system CPU time spent in seconds."},
    {kProcessMaxFds,
     Type::kGauge,
     Group::kProcess,
     {},
     Freshness::kLive,
     "Maximum number of open file descriptors."},
    {kProcessOpenFds,
     Type::kGauge,
     Group::kProcess,
     {},
     Freshness::kLive,
     "Number of open file descriptors."},
    {kProcessResidentMemoryBytes,
     Type::kGauge,
     Group::kProcess,
     {},
     Freshness::kLive,
     "Resident memory size in bytes."},
    {kProcessStartTimeSeconds,
     Type::kGauge,
     Group::kProcess,
     {},
     Freshness::kLive,
     "Start time of the process since unix epoch in seconds."},
    {kProcessVirtualMemoryBytes,
     Type::kGauge,
     Group::kProcess,
     {},
     Freshness::kLive,
     "Virtual memory size in bytes."},
};

// The docs' sections: a title and what the families have in common.
struct GroupDoc {
  Group group;
  std::string_view title;
  std::string_view intro;  // Markdown
};

inline constexpr GroupDoc kGroups[] = {
    {Group::kComponents, "Components",
     "Per component of the config (label `component`), as of the last "
     "complete walk; a component never walked yet has no series, a removed "
     "one none at all."},
    {Group::kComponentSegments, "Segments",
     "Per component with a `segment_pattern` (label `component`): the "
     "entries directly in its directory that match it (WAL segments "
     "`*.log`, backup sets `stemedb-backup-*`)."},
    {Group::kFilesystems, "Filesystems",
     "Per filesystem holding a component (labels `mountpoint`, `device`, "
     "`fstype`), as node_exporter reports "
     "them. Filesystems are deduplicated by device: components sharing a "
     "filesystem, and bind mounts of one device, give one series (named by "
     "the smallest mountpoint). With `scan.one_filesystem: false`, mounts "
     "below a component are walked and reported too. Capacity is read "
     "(statfs) every `min(scan.interval, 10s)`."},
    {Group::kCleanup, "Cleanup rules",
     "Per rule of `cleanup.rules` (label `rule`): what the runbook's cleanup "
     "step would free now. Measured by the walks that measure the "
     "components, never deleted; a rule whose directories have not been "
     "walked completely yet has only its info series."},
    {Group::kWalks, "Walks",
     "Per component (label `component`), on every scrape, also when a walk "
     "failed."},
    {Group::kWatch, "Watch mode",
     "How watch mode (`scan.mode: watch`: one walk, then inotify keeps the "
     "numbers current within seconds) keeps each component; served in walk "
     "mode too. Left out by `--web.disable-exporter-metrics`."},
    {Group::kExporter, "The exporter",
     "Its build, its configuration reloads and the label values it had to "
     "repair."},
    {Group::kProcess, "Process",
     "Named as every Go exporter's (client_golang's process collector), so "
     "dashboards and alerts written for those work unchanged; read from "
     "`/proc/self` at most once a second, served on `/metrics` (not by "
     "`--once`). Left out by `--web.disable-exporter-metrics`."},
};

// The family named `name`; a name missing from kFamilies does not compile.
consteval const Family& Get(std::string_view name) {
  for (const Family& f : kFamilies) {
    if (f.name == name) return f;
  }
  throw "metric family missing from kFamilies";
}

// The family named `name`, or nullptr.
const Family* Find(std::string_view name);

// f.labels without the empty slots.
std::span<const std::string_view> Labels(const Family& f);

// The HELP text as served: f.help plus the freshness sentence.
std::string FullHelp(const Family& f);

// "gauge" or "counter", as in a # TYPE line.
std::string_view TypeName(Type type);

}  // namespace stemedb::metrics
