#include "names.h"

#include "stemedb/config/config.h"
#include "stemedb/config/metric_names.h"

namespace stemedb {
namespace detail {

// [a-z][a-z0-9_]*: the name is a label value and appears in PromQL and
// dashboard queries unquoted-safe.
bool IsValidComponentName(std::string_view name) {
  if (name.empty() || !IsLower(name[0])) return false;
  for (const char c : name) {
    if (!IsLower(c) && !IsDigit(c) && c != '_') return false;
  }
  return true;
}

// Grafana's uid rule: [a-zA-Z0-9_-]{1,40}.
bool IsValidDashboardUid(std::string_view uid) {
  if (uid.empty() || uid.size() > 40) return false;
  for (const char c : uid) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

// [a-z0-9_]+: the rule name is the `rule` label value.
bool IsValidRuleName(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!IsLower(c) && !IsDigit(c) && c != '_') return false;
  }
  return true;
}

// The labels that tell apart the series the alerts are computed from, and
// that the Alertmanager inhibit rules compare (`equal:`). An alert label
// overrides the series' own, so one of these in alerting.labels would give
// every host's (or filesystem's) alert the same labelset: Prometheus then
// fails the rule ("vector contains metrics with the same labelset after
// applying alert labels") and no alert fires anywhere.
bool IsIdentityLabel(std::string_view name) {
  for (const std::string_view identity :
       {std::string_view("job"), std::string_view("instance"),
        metrics::kMountpoint, metrics::kDevice, metrics::kFstype,
        metrics::kComponent}) {
    if (name == identity) return true;
  }
  return false;
}

}  // namespace detail

using detail::IsAlpha;
using detail::IsDigit;

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  if (!IsAlpha(name[0]) && name[0] != '_') return false;
  for (const char c : name) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '_') return false;
  }
  return true;
}

}  // namespace stemedb
