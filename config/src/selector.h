// The node_exporter selector of alerting.node_exporter_selector: PromQL
// label matchers, read in one pass and checked for what the generated rules
// and their tests need. Pure functions.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "stemedb/base/error.h"
#include "stemedb/config/config.h"
#include "stemedb/config/pattern.h"

namespace stemedb::detail {

// The longest node_exporter_selector: it is repeated in every generated
// node_filesystem_* selector.
constexpr size_t kMaxSelectorBytes = kMaxRegexBytes;

// Reads `text` (`a="x", b!~'y'`, PromQL's escapes, a trailing comma) into
// *out. The error (a message only) says why it cannot be read or used, with
// the offset in the selector. REQUIRES: text.size() <= kMaxSelectorBytes.
Status ParseSelector(std::string_view text, std::vector<LabelMatcher>* out);

}  // namespace stemedb::detail
