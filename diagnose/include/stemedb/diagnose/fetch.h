// `diagnose --from URL`: reads a running exporter's GET /diagnose instead of
// walking again. HTTP or HTTPS (Boost.Beast over OpenSSL, the exporter's
// own stack), basic auth, one request, one overall timeout.
//
// Thread safety: reentrant; each call owns its connection and threads.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "stemedb/base/error.h"

namespace stemedb::diagnose {

struct Url {
  bool https = false;
  std::string host;  // without brackets for IPv6
  std::string port;  // "80"/"443" when the URL has none
  std::string path;  // the prefix before /diagnose, "" or "/x" (no slash
                     // at the end)
};

// http://host[:port][/prefix] or https://... Credentials in the URL are
// refused (they would show in `ps`): use FetchOptions.
stemedb::Status ParseUrl(std::string_view text, Url* out);

struct FetchOptions {
  std::string user;  // basic auth when non-empty
  std::string password;
  std::string ca_file;    // https: trust these CAs instead of the system's
  std::string cert_file;  // https: a client certificate (mTLS), PEM chain
  std::string key_file;   // its private key, PEM
  std::chrono::milliseconds timeout{10000};  // connect to last byte
};

// GETs <url>/diagnose; on HTTP 200 fills *body and returns nullopt, else an
// error (a message only) that says what failed (connect, TLS, HTTP status).
stemedb::Status FetchDiagnosis(const std::string& url,
                               const FetchOptions& options, std::string* body);

// Likewise for <url><what>, `what` a path (and query) starting with '/',
// e.g. "/diagnose/growth" or "/api/v1/query?query=up".
stemedb::Status FetchPath(const std::string& url, const std::string& what,
                          const FetchOptions& options, std::string* body);

}  // namespace stemedb::diagnose
