#ifndef STEMEDB_TESTS_RULEGEN_TEST_CONFIG_H_
#define STEMEDB_TESTS_RULEGEN_TEST_CONFIG_H_

// The rulegen tests' configs: tests/rulegen/data/NAME, loaded as the
// generator loads a user's file; a load error fails the calling test.

#include <gtest/gtest.h>

#include <string>

#include "stemedb/config/config.h"

namespace stemedb::testutil {

inline std::string DataPath(const std::string& name) {
  return std::string(STEMEDB_SOURCE_DIR) + "/tests/rulegen/data/" + name;
}

inline Config LoadTestConfig(const std::string& name) {
  Config config;
  auto err = LoadConfigFile(DataPath(name), &config);
  EXPECT_FALSE(err.has_value()) << err->ToString();
  return config;
}

}  // namespace stemedb::testutil

#endif  // STEMEDB_TESTS_RULEGEN_TEST_CONFIG_H_
