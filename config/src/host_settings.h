// The settings the loader reads beyond the YAML: StemeDB's config.toml (whose
// values become threshold defaults) and journald's config.
#pragma once

#include <string>

#include "stemedb/base/error.h"
#include "stemedb/config/config.h"
#include "stemedb/config/yaml_reader.h"

namespace stemedb::detail {

// Reads config->stemedb.path (relative to `base_dir`) and the journald
// config, records which thresholds `reader` saw set explicitly, and gives
// every other threshold with a config.toml key the TOML's value. Errors
// carry the file read and its position. REQUIRES: `reader` has read the
// document; base_dir is absolute.
Status ApplyHostSettings(const YamlReader& reader, const std::string& base_dir,
                         Config* config);

}  // namespace stemedb::detail
