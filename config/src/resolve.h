// Where the config's relative paths point: components and cleanup rules
// resolved against the root, and components whose trees overlap refused.
#pragma once

#include <string>

#include "stemedb/base/error.h"
#include "stemedb/config/config.h"
#include "stemedb/config/yaml_reader.h"

namespace stemedb::detail {

// `command` with every "<path>" replaced by `path`.
std::string SubstitutePath(const std::string& command, const std::string& path);

// `path` if absolute, else `base`/`path`, lexically normal.
// REQUIRES: base is absolute.
std::string ResolvePath(const std::string& base, const std::string& path);

// `dir` made absolute against the current directory. May throw
// boost::filesystem::filesystem_error when the current directory is gone.
std::string AbsoluteDir(const std::string& dir);

// Fills resolved_path of every component and rejects two components whose
// trees overlap: the same directory, one inside the other, lexically or
// through symlinks. The error is placed by `reader` at the component's path.
Status ResolveComponents(const YamlReader& reader, Config* config);

// Fills resolved_path and resolved_command of every cleanup rule.
// REQUIRES: components resolved; a rule's component exists.
void ResolveCleanupRules(Config* config);

}  // namespace stemedb::detail
