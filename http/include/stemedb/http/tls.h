// TLS for the HTTP front: an OpenSSL server context built from the web
// config's tls_server_config, re-built when the certificate, key or client
// CA file changes on disk, so a renewed certificate needs no restart.
//
// Thread safety: TlsContextProvider::Current may be called from any thread;
// a context it returns is immutable once handed out and shared by the
// connections that use it.
#pragma once

#include <openssl/ssl.h>
#include <sys/stat.h>

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "stemedb/http/web_config.h"

namespace stemedb::exporter {

// Builds a server context into *out; an error naming the file on failure
// (*out unchanged).
Status MakeServerContext(const TlsServerConfig& config,
                         std::shared_ptr<boost::asio::ssl::context>* out);

// True when the peer's certificate carries one of `allowed` among its
// subject alternative names (DNS, email, IP, URI), or `allowed` is empty.
bool PeerSanAllowed(SSL* ssl, const std::vector<std::string>& allowed);

class TlsContextProvider {
 public:
  // Loads the certificates now into a new provider (*out); an error naming
  // the file when they cannot be used.
  static Status Create(TlsServerConfig config,
                       std::shared_ptr<TlsContextProvider>* out);

  // The context for the next handshake. At most once a second, checks the
  // files' identity (inode, size, mtime); when one changed, builds a new
  // context and uses it from now on. A new set that does not load (a
  // half-written certificate, a key that does not match) is logged once per
  // change and the previous context stays.
  std::shared_ptr<boost::asio::ssl::context> Current();

  const TlsServerConfig& config() const { return config_; }

 private:
  struct FileId {
    ino_t inode = 0;
    off_t size = -1;
    timespec mtime{};
    bool operator==(const FileId& o) const;
  };
  explicit TlsContextProvider(TlsServerConfig config);
  std::vector<FileId> Identify() const;

  const TlsServerConfig config_;
  std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> context_;  // GUARDED_BY(mu_)
  std::vector<FileId> loaded_;                          // GUARDED_BY(mu_)
  std::vector<FileId> failed_;                          // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point checked_;       // GUARDED_BY(mu_)
};

}  // namespace stemedb::exporter
