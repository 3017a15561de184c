// The process_* metrics every Go exporter serves (CPU seconds, resident and
// virtual memory, open and max file descriptors, start time), read from
// /proc/self. Reading costs a few small procfs reads and one directory
// listing of /proc/self/fd; the router does it at most once a second.
//
// Thread safety: reentrant.
#pragma once

#include <string>

namespace stemedb::exporter {

struct ProcessStats {
  double cpu_seconds = 0;         // user + system
  double resident_bytes = 0;      // RSS
  double virtual_bytes = 0;       // VSZ
  double open_fds = 0;            // entries of /proc/self/fd
  double max_fds = 0;             // RLIMIT_NOFILE soft limit
  double start_time_seconds = 0;  // since the Unix epoch
};

// False when /proc/self/stat cannot be read (then *out is unchanged).
bool ReadProcessStats(ProcessStats* out);

// Appends the process_* families in the Prometheus text format (0.0.4);
// appends nothing when /proc is unreadable.
void AppendProcessMetrics(std::string* text);

}  // namespace stemedb::exporter
