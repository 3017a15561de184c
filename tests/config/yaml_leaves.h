#ifndef STEMEDB_TESTS_CONFIG_YAML_LEAVES_H_
#define STEMEDB_TESTS_CONFIG_YAML_LEAVES_H_

// The dotted paths of a YAML document's leaves (scalars, sequences and empty
// maps), e.g. "thresholds.disk_space.warning.for": what the config tests
// compare with the schema's key lists.

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

namespace stemedb::testutil {

inline void CollectLeaves(const YAML::Node& node, const std::string& path,
                          std::set<std::string>* out) {
  if (!node.IsMap() || node.size() == 0) {
    out->insert(path);
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.Scalar();
    CollectLeaves(it->second, path.empty() ? key : path + "." + key, out);
  }
}

}  // namespace stemedb::testutil

#endif  // STEMEDB_TESTS_CONFIG_YAML_LEAVES_H_
