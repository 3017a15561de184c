// `diagnose --prometheus URL`: time until full per filesystem (bytes and
// inodes), read from a Prometheus that evaluates the recording rules the
// alerts and the dashboard use:
//   stemedb_disk:filesystem_time_until_full:seconds
//   stemedb_disk:filesystem_inodes_time_until_full:seconds
// matched to this node by their `instance` label. Whether a rule exists is
// asked of GET /api/v1/rules (a guarded prediction has no series while a
// filesystem is not filling, which is not the same as no rule); the values
// of GET /api/v1/query. Informational: it never changes the exit status.
//
// AskPrometheus (ask_prometheus.h) asks; this header is what it reads and
// how it is shown.
//
// Thread safety: reentrant.
#pragma once

#include <string>
#include <vector>

#include "stemedb/base/error.h"

namespace stemedb::diagnose {

inline constexpr char kTimeUntilFullRule[] =
    "stemedb_disk:filesystem_time_until_full:seconds";
inline constexpr char kInodesTimeUntilFullRule[] =
    "stemedb_disk:filesystem_inodes_time_until_full:seconds";

struct FilesystemTimeUntilFull {
  std::string mountpoint;
  bool bytes_known = false;  // a series of the bytes rule for it
  double bytes_seconds = 0;
  bool inodes_known = false;
  double inodes_seconds = 0;
};

struct TimeUntilFull {
  std::string url;
  std::string instance;     // the instance label matched
  bool reached = false;     // Prometheus answered
  std::string error;        // why not, when !reached
  bool bytes_rule = false;  // the recording rule is loaded
  bool inodes_rule = false;
  // Other instances the rules have series for, when none is `instance`
  // (sorted, at most 10): the likely right --prometheus.instance.
  std::vector<std::string> other_instances;
  std::vector<FilesystemTimeUntilFull> filesystems;  // by mountpoint
};

// The parts of AskPrometheus that read answers (for tests): the rule names
// of a /api/v1/rules answer, and the series of a /api/v1/query answer into
// `out` (bytes or inodes).
stemedb::Status ReadRuleNames(const std::string& body,
                              std::vector<std::string>* names);
stemedb::Status ReadTimeSeries(const std::string& body, bool inodes,
                               TimeUntilFull* out);

// The "Time until full" section of the text report.
std::string RenderTimeUntilFullText(const TimeUntilFull& t);
// The same as a JSON object (for --format json).
std::string TimeUntilFullJson(const TimeUntilFull& t);

}  // namespace stemedb::diagnose
