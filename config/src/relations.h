// The rules that relate keys of the config: a threshold's component exists
// (with a segment pattern where its alerts count segments), a warning is
// looser than its critical, the emergency beyond the critical, a prediction
// window no shorter than its `for`. Each error is reported where the file
// set one of the keys involved.
#pragma once

#include "stemedb/base/error.h"
#include "stemedb/config/config.h"
#include "stemedb/config/yaml_reader.h"

namespace stemedb::detail {

// REQUIRES: `reader` read the document `config` came from (it knows where
// each key was set).
Status CheckRelations(const YamlReader& reader, const Config& config);

}  // namespace stemedb::detail
