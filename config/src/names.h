// The names the config accepts: component, rule, dashboard uid and the
// labels an alert may carry. Pure functions.
#pragma once

#include <string_view>

namespace stemedb::detail {

inline bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(char c) { return IsLower(c) || (c >= 'A' && c <= 'Z'); }

// [a-z][a-z0-9_]*: the name is a label value and appears in PromQL and
// dashboard queries unquoted-safe.
bool IsValidComponentName(std::string_view name);

// Grafana's uid rule: [a-zA-Z0-9_-]{1,40}.
bool IsValidDashboardUid(std::string_view uid);

// [a-z0-9_]+: the rule name is the `rule` label value.
bool IsValidRuleName(std::string_view name);

// The labels that tell apart the series the alerts are computed from (job,
// instance, mountpoint, device, fstype, component), which an alert label
// must not override.
bool IsIdentityLabel(std::string_view name);

}  // namespace stemedb::detail
