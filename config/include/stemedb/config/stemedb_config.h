// StemeDB's own config.toml as a source of threshold defaults, and the host
// settings the runbook's Prevention section asks for (compaction, WAL and
// backup retention, a journald size cap).
//
// The loader (config.h) reads them at start and at every reload: the TOML's
// [wal] retention_days, max_segments and [backup] retention_days become the
// defaults of thresholds.wal.retention, thresholds.wal.max_segments and
// thresholds.backups.retention; a key the YAML sets explicitly wins.
//
// Thread safety: plain values and reentrant functions.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stemedb/base/error.h"

namespace stemedb {

// The keys of StemeDB's config.toml this project reads (the runbook's
// spelling); nullopt: not in the file. Every other key is StemeDB's own
// business and ignored.
struct StemedbSettings {
  std::optional<int64_t> wal_retention_days;     // [wal] retention_days
  std::optional<int64_t> wal_max_segments;       // [wal] max_segments
  std::optional<int64_t> wal_segment_size_mb;    // [wal] segment_size_mb
  std::optional<int64_t> backup_retention_days;  // [backup] retention_days
  std::optional<bool> compaction_enabled;        // [storage] compaction_enabled
  std::optional<int64_t> compaction_interval_hours;  // [storage]
  std::optional<int64_t> compaction_threshold_mb;    // [storage]
};

// Config key `stemedb_config` and what the loader found there.
struct StemedbConfig {
  enum class State { kDisabled, kAbsent, kLoaded };
  std::string path = "/etc/stemedb/config.toml";  // "" (or null): disabled
  std::string resolved_path;                      // absolute; set by the loader
  State state = State::kDisabled;                 // set by the loader
  StemedbSettings settings;                       // when kLoaded
};

// Config section `prevention`: where the checks look and what they advise.
struct PreventionOptions {
  // systemd-journald's config; its drop-ins are <this>.d/*.conf. "": the
  // journald check is not made.
  std::string journald_config = "/etc/systemd/journald.conf";
  // Prevention 1: "7 days for pilot, 3 days for production".
  std::chrono::milliseconds wal_retention_advice{std::chrono::hours(24 * 7)};
  // Prevention 3: "retain last 7 daily backups only".
  std::chrono::milliseconds backup_retention_advice{std::chrono::hours(24 * 7)};
  // Set by the loader when journald_config is not "": the SystemMaxUse= in
  // force ("" when none) and where it is set ("file:line").
  bool journald_read = false;
  std::string journald_system_max_use;
  std::string journald_system_max_use_where;
};

// Where a threshold in force came from: the built-in default, the YAML
// config (set explicitly), or StemeDB's config.toml.
enum class ThresholdSource { kDefault, kConfig, kStemedb };

// "default", "config", "stemedb": the label value source=.
std::string_view ThresholdSourceName(ThresholdSource source);

// The most bytes of config.toml read; StemeDB's is a few hundred bytes.
inline constexpr size_t kMaxStemedbConfigBytes = size_t{256} << 10;
// The most '.' outside strings and comments: toml++ builds one nested table
// per dotted-key part and frees them recursively, so an unbounded chain
// (a.a.a.…) would overflow the stack; with this bound the depth stays under
// ~1,300 (its own nesting limit for arrays and inline tables is 256).
inline constexpr size_t kMaxStemedbConfigDots = 1024;

// Parses config.toml text. `source` names it in errors, which carry
// source:line:column and the key ("wal.retention_days"). Errors: malformed
// TOML, a known key of the wrong type or out of range, input over the
// bounds above. On error *out is untouched.
Status ParseStemedbToml(std::string_view text, const std::string& source,
                        StemedbSettings* out);

// Reads and parses `path`. A file that does not exist sets *found = false
// and is not an error; any other failure to read it is.
Status LoadStemedbToml(const std::string& path, StemedbSettings* out,
                       bool* found);

// The SystemMaxUse= in force after `journald_conf` and its drop-ins
// (<journald_conf>.d/*.conf in name order, later wins, an empty assignment
// resets), in section [Journal]. Missing files are fine; an unreadable one
// is an error. *value "" when none.
Status ReadJournaldSystemMaxUse(const std::string& journald_conf,
                                std::string* value, std::string* where);

}  // namespace stemedb
