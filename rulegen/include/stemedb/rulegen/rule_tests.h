// Config + rules -> a promtool unit-test file (`promtool test rules`).
//
// For every alert: input series that stay healthy for five minutes and then
// cross the alert's threshold; the alert must be silent one evaluation before
// its `for` has elapsed and firing at it, with exact labels and annotation
// text. Disk and inode alerts also get a read-only filesystem, inode alerts a
// filesystem with files=0, component alerts a decoy component: all must stay
// silent. Expected annotation text is rendered here (RenderAlertTemplate);
// promtool, evaluating the real rules, is the independent judge.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>

#include "stemedb/config/config.h"
#include "stemedb/rulegen/rules.h"

namespace stemedb::rulegen {

// `rule_file` is written into rule_files as is: a path relative to the test
// file's directory (promtool resolves it from there). Fails when an alert has
// no scenario, a description cannot be predicted, or the node_exporter
// selector constrains labels in a way no test series can satisfy.
Status RenderRuleTests(const Config& config, const RuleSet& rules,
                       const std::string& rule_file, const std::string& header,
                       std::string* out);

}  // namespace stemedb::rulegen
