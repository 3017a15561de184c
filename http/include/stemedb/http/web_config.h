// --web.config.file: the exporter-toolkit web configuration format that
// Prometheus exporters share (node_exporter reads the same file), so an SRE's
// existing file works here: tls_server_config (TLS and mTLS),
// http_server_config (extra response headers; http2 accepted and ignored,
// this server speaks HTTP/1.1) and basic_auth_users (bcrypt hashes).
//
// The loader is strict: an unknown key, a duplicate key or user, a complex
// key, a wrong type or a bad value is an error naming file:line:column and
// the key path; a bcrypt cost outside kMinBcryptCost..kMaxBcryptCost is
// refused. Relative file names are relative to the web config's
// directory, as in the exporter-toolkit.
//
// Thread safety: LoadWebConfig is reentrant; a WebConfig is a plain value.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stemedb/config/config.h"

namespace stemedb::exporter {

// The five Go names of tls.ClientAuthType, in the same order.
enum class ClientAuth {
  kNoClientCert,
  kRequestClientCert,
  kRequireAnyClientCert,
  kVerifyClientCertIfGiven,
  kRequireAndVerifyClientCert,
};

struct TlsServerConfig {
  std::string cert_file;       // absolute after loading
  std::string key_file;        // absolute after loading
  std::string client_ca_file;  // absolute after loading; may be empty
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  // 10..13 for TLS10..TLS13 (the toolkit's names); defaults as the toolkit.
  int min_version = 12;
  int max_version = 13;
  // OpenSSL names of the Go cipher suites given (TLS <= 1.2 only; TLS 1.3
  // suites are fixed, in Go's order: see tls.cc). Empty: OpenSSL's
  // defaults.
  std::vector<std::string> cipher_suites;
  // OpenSSL group names of curve_preferences. Empty: OpenSSL's defaults.
  std::vector<std::string> curves;
  bool prefer_server_cipher_suites = true;
  // When non-empty, a client certificate must carry one of these SANs (DNS,
  // email, IP or URI), like the toolkit's client_allowed_sans.
  std::vector<std::string> client_allowed_sans;
};

struct WebConfig {
  std::optional<TlsServerConfig> tls;
  // Added to every response, in file order; only the headers the
  // exporter-toolkit allows.
  std::vector<std::pair<std::string, std::string>> headers;
  std::map<std::string, std::string> basic_auth_users;  // user -> bcrypt
};

// The bcrypt costs basic_auth_users may use. 4 is bcrypt's own minimum. The
// maximum is what can still log in: a check (the first request of a client;
// later ones are remembered) must fit well within Prometheus' default 10 s
// scrape timeout. Measured with crypt_r(3) on a 2-core build machine under
// load: cost 12 0.44 s, 13 0.83 s, 14 1.7 s, 15 3.8 s, 16 7.6 s; each step
// doubles. 14 keeps a check under a fifth of the timeout; 15 would leave
// too little room on a busy host. (htpasswd -B uses 5; Go's bcrypt 10.)
inline constexpr int kMinBcryptCost = 4;
inline constexpr int kMaxBcryptCost = 14;

// The cost of a bcrypt hash of the shape basic_auth_users accepts ("$2b$",
// two cost digits, "$", ...): "$2b$10$..." -> 10.
// REQUIRES: hash[4] and hash[5] are digits (the loader checked the shape).
inline int BcryptCost(std::string_view hash) {
  return (hash[4] - '0') * 10 + (hash[5] - '0');
}

// Reads and checks `path`; on success fills *out. Certificates are not read
// here (see tls.h), only the config's shape and values.
Status LoadWebConfig(const std::string& path, WebConfig* out);

// Parses web config text; `source` names it in errors and `base_dir`
// resolves relative file names. For the fuzz harness and tests.
Status ParseWebConfig(const std::string& text, const std::string& source,
                      const std::string& base_dir, WebConfig* out);

}  // namespace stemedb::exporter
