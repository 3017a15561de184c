// --web.config.file: the exporter-toolkit web configuration format that
// Prometheus exporters share, so an SRE's existing file works here.
// Supported: basic_auth_users (bcrypt hashes). tls_server_config is refused
// with a clear error: Debian's civetweb cannot load a separate key file.
//
// Thread safety: LoadWebConfig is reentrant; BasicAuth::Check is safe from
// any thread.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "stemedb/config.h"

namespace stemedb::exporter {

struct WebConfig {
  std::map<std::string, std::string> basic_auth_users;  // user -> bcrypt hash
};

// Strict like the exporter-toolkit: unknown keys are errors, with position.
std::optional<ConfigError> LoadWebConfig(const std::string& path,
                                         WebConfig* out);

class BasicAuth {
 public:
  explicit BasicAuth(std::map<std::string, std::string> users);

  // True when `authorization` (the Authorization header, may be null) holds
  // Basic credentials of a configured user. bcrypt is deliberately slow, so
  // verified credentials are remembered: a scrape every 15 s must not cost
  // a bcrypt each.
  bool Check(const char* authorization) const;

 private:
  const std::map<std::string, std::string> users_;
  mutable std::mutex mu_;
  mutable std::unordered_set<std::string> verified_;  // GUARDED_BY(mu_)
};

}  // namespace stemedb::exporter
