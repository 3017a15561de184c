// The config file's schema as a table: each key bound to where its value
// goes and how it is checked (config/default.yaml documents it).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "stemedb/base/error.h"
#include "stemedb/config/config.h"

namespace stemedb::detail {

// Reads `document` onto `*config`, which already holds the defaults, then
// resolves its paths and checks the rules that relate keys. Errors carry
// `source`:line:column and the key path. May throw what yaml-cpp and Boost
// throw (ParseOnto in config.cc catches it). REQUIRES: base_dir is absolute.
// With `read_host_files`, also reads the files the config names
// (host_settings.h); the embedded default is parsed without.
Status ParseDocument(const YAML::Node& document, const std::string& source,
                     const std::string& base_dir, bool read_host_files,
                     Config* config);

}  // namespace stemedb::detail
