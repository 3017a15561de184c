// The exporter's metric contract: every metric and label name, once. The
// exporter emits them; the rule generator and dashboard query them. Each
// family's type, labels and HELP text are in metrics.h.
#pragma once

#include <string_view>

namespace stemedb::metrics {

inline constexpr std::string_view kPrefix = "stemedb_disk_";

// Per component (label kComponent).
inline constexpr std::string_view kComponentAllocatedBytes =
    "stemedb_disk_component_allocated_bytes";
inline constexpr std::string_view kComponentApparentBytes =
    "stemedb_disk_component_apparent_bytes";
inline constexpr std::string_view kComponentFiles =
    "stemedb_disk_component_files";
inline constexpr std::string_view kComponentDirectories =
    "stemedb_disk_component_directories";
inline constexpr std::string_view kComponentPresent =
    "stemedb_disk_component_present";

// Per component with a segment pattern (label kComponent).
inline constexpr std::string_view kSegments = "stemedb_disk_segments";
inline constexpr std::string_view kSegmentAllocatedBytes =
    "stemedb_disk_segment_allocated_bytes";
inline constexpr std::string_view kOldestSegmentTimestamp =
    "stemedb_disk_oldest_segment_timestamp_seconds";
inline constexpr std::string_view kNewestSegmentTimestamp =
    "stemedb_disk_newest_segment_timestamp_seconds";

// Per filesystem (labels kMountpoint, kDevice, kFstype).
inline constexpr std::string_view kFilesystemSizeBytes =
    "stemedb_disk_filesystem_size_bytes";
inline constexpr std::string_view kFilesystemFreeBytes =
    "stemedb_disk_filesystem_free_bytes";
inline constexpr std::string_view kFilesystemAvailBytes =
    "stemedb_disk_filesystem_avail_bytes";
inline constexpr std::string_view kFilesystemFiles =
    "stemedb_disk_filesystem_files";
inline constexpr std::string_view kFilesystemFilesFree =
    "stemedb_disk_filesystem_files_free";
inline constexpr std::string_view kFilesystemReadonly =
    "stemedb_disk_filesystem_readonly";
// 1 when the last statfs answered within the timeout (the filesystem
// labels).
inline constexpr std::string_view kFilesystemStatSuccess =
    "stemedb_disk_filesystem_stat_success";
// Every byte of a filesystem: what the components and the cleanup rules'
// extra roots hold (label kPart), the rest, and deleted files still open.
inline constexpr std::string_view kFilesystemAccountedBytes =
    "stemedb_disk_filesystem_accounted_bytes";
inline constexpr std::string_view kFilesystemOtherBytes =
    "stemedb_disk_filesystem_other_bytes";
inline constexpr std::string_view kFilesystemDeletedOpenBytes =
    "stemedb_disk_filesystem_deleted_open_bytes";
// The /proc scan behind kFilesystemDeletedOpenBytes (no labels).
inline constexpr std::string_view kDeletedOpenScanSuccess =
    "stemedb_disk_deleted_open_scan_success";
inline constexpr std::string_view kDeletedOpenUnreadableProcesses =
    "stemedb_disk_deleted_open_unreadable_processes";
inline constexpr std::string_view kDeletedOpenScanDurationSeconds =
    "stemedb_disk_deleted_open_scan_duration_seconds";
// Join: labels kComponent, kMountpoint, kDevice; value 1.
inline constexpr std::string_view kComponentFilesystemInfo =
    "stemedb_disk_component_filesystem_info";

// Per cleanup rule (label kRule; config cleanup.rules): what the runbook's
// cleanup step would free now. Bytes are allocated bytes, as du counts.
inline constexpr std::string_view kReclaimableBytes =
    "stemedb_disk_reclaimable_bytes";
inline constexpr std::string_view kReclaimableEntries =
    "stemedb_disk_reclaimable_entries";
inline constexpr std::string_view kReclaimableOldestTimestampSeconds =
    "stemedb_disk_reclaimable_oldest_timestamp_seconds";
// Join: labels kRule, kSection, kPath, kMountpoint, kDevice; value 1.
inline constexpr std::string_view kCleanupRuleInfo =
    "stemedb_disk_cleanup_rule_info";

// Self metrics.
inline constexpr std::string_view kScanSuccess = "stemedb_disk_scan_success";
inline constexpr std::string_view kScanDurationSeconds =
    "stemedb_disk_scan_duration_seconds";
inline constexpr std::string_view kLastScanSuccessTimestamp =
    "stemedb_disk_last_scan_success_timestamp_seconds";
inline constexpr std::string_view kScanErrorsTotal =
    "stemedb_disk_scan_errors_total";
inline constexpr std::string_view kScanUnaccountedEntries =
    "stemedb_disk_scan_unaccounted_entries";
// Watch mode (scan.mode: watch).
inline constexpr std::string_view kScanMode = "stemedb_disk_scan_mode";
inline constexpr std::string_view kWatchReconcilesTotal =
    "stemedb_disk_watch_reconciles_total";
inline constexpr std::string_view kWatchReconcileDifferenceBytes =
    "stemedb_disk_watch_reconcile_difference_bytes";
inline constexpr std::string_view kWatchReconcileDifferenceEntries =
    "stemedb_disk_watch_reconcile_difference_entries";
inline constexpr std::string_view kWatchRewalksTotal =
    "stemedb_disk_watch_rewalks_total";
inline constexpr std::string_view kWatchDirectoryReadsTotal =
    "stemedb_disk_watch_directory_reads_total";
inline constexpr std::string_view kWatchEventsTotal =
    "stemedb_disk_watch_events_total";
inline constexpr std::string_view kWatchDirectories =
    "stemedb_disk_watch_directories";
inline constexpr std::string_view kBuildInfo =
    "stemedb_disk_exporter_build_info";
inline constexpr std::string_view kConfigReloadSuccess =
    "stemedb_disk_config_last_reload_successful";
inline constexpr std::string_view kConfigReloadFailuresTotal =
    "stemedb_disk_config_reload_failures_total";
// The thresholds in force (label kThresholdKey, kSource), StemeDB's
// config.toml read or not, and the runbook's Prevention checks (kCheck).
inline constexpr std::string_view kThreshold = "stemedb_disk_threshold";
inline constexpr std::string_view kStemedbConfigLoaded =
    "stemedb_disk_stemedb_config_loaded";
inline constexpr std::string_view kPreventionCheck =
    "stemedb_disk_prevention_check";
// Label values and log fields that held invalid UTF-8, written as \xNN.
inline constexpr std::string_view kInvalidUtf8Total =
    "stemedb_disk_invalid_utf8_total";

// Process metrics, named as every Go exporter's (client_golang's process
// collector), so dashboards and alerts written for those work unchanged.
inline constexpr std::string_view kProcessCpuSecondsTotal =
    "process_cpu_seconds_total";
inline constexpr std::string_view kProcessResidentMemoryBytes =
    "process_resident_memory_bytes";
inline constexpr std::string_view kProcessVirtualMemoryBytes =
    "process_virtual_memory_bytes";
inline constexpr std::string_view kProcessOpenFds = "process_open_fds";
inline constexpr std::string_view kProcessMaxFds = "process_max_fds";
inline constexpr std::string_view kProcessStartTimeSeconds =
    "process_start_time_seconds";

// Recording rules written by stemedb_rulegen (level:metric:operations).
inline constexpr std::string_view kRecordFilesystemUsedRatio =
    "stemedb_disk:filesystem_used:ratio";
inline constexpr std::string_view kRecordFilesystemAvailRatio =
    "stemedb_disk:filesystem_avail:ratio";
inline constexpr std::string_view kRecordFilesystemInodesFreeRatio =
    "stemedb_disk:filesystem_files_free:ratio";
// Seconds until a filesystem's bytes (inodes) run out at the recent rate;
// present only where it is filling and has enough history.
inline constexpr std::string_view kRecordFilesystemTimeUntilFull =
    "stemedb_disk:filesystem_time_until_full:seconds";
inline constexpr std::string_view kRecordFilesystemInodesTimeUntilFull =
    "stemedb_disk:filesystem_inodes_time_until_full:seconds";
inline constexpr std::string_view kRecordComponentGrowthRate =
    "stemedb_disk:component_allocated_bytes:deriv1h";

// Label names.
inline constexpr std::string_view kComponent = "component";
inline constexpr std::string_view kMountpoint = "mountpoint";
inline constexpr std::string_view kDevice = "device";
inline constexpr std::string_view kFstype = "fstype";
inline constexpr std::string_view kReason = "reason";
inline constexpr std::string_view kMode = "mode";
inline constexpr std::string_view kKind = "kind";
inline constexpr std::string_view kPart = "part";
inline constexpr std::string_view kRule = "rule";
inline constexpr std::string_view kSection = "section";
inline constexpr std::string_view kPath = "path";
inline constexpr std::string_view kVersion = "version";
inline constexpr std::string_view kRevision = "revision";
inline constexpr std::string_view kThresholdKey = "threshold";
inline constexpr std::string_view kSource = "source";
inline constexpr std::string_view kCheck = "check";

}  // namespace stemedb::metrics
