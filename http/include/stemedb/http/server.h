// The HTTP front: an event-driven HTTP/1.1 server (Boost.Beast's parser over
// Boost.Asio, OpenSSL for TLS) serving what Router answers. A connection
// costs a file descriptor and a few KiB, never a thread: one io_context runs
// on a small fixed set of threads, so idle and slow clients cannot take the
// scrape's turn.
//
// Limits (ServerOptions): a request's header must arrive within
// read_header_timeout from its first byte (and a new connection's TLS
// handshake within it too); a connection waits at most idle_timeout for its
// next request; at most max_connections are open: beyond it the connection
// idle the longest is closed first (then the oldest TLS handshake, the
// slowest half-sent request, the reply longest without progress: a peer
// that stopped reading), so a scrape always gets in; a request larger than
// max_request_bytes is refused (431/413). TLS: a connection takes OpenSSL's
// memory only once its ClientHello has arrived whole, and at most
// max_tls_handshakes handshakes are in OpenSSL at once (the oldest makes
// way), so half-open handshakes cost a socket each and no more.
//
// Thread safety: Start, Ports, SetWebSettings, Connections and Counts may be
// called from any thread. The destructor stops accepting, closes every
// connection, and joins all the server's threads before it returns; no callback
// runs after it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stemedb/http/basic_auth.h"
#include "stemedb/http/exporter_view.h"
#include "stemedb/http/tls.h"
#include "stemedb/http/web_config.h"

namespace stemedb::exporter {

// What --web.config.file sets, ready to serve with; swapped whole on reload.
struct WebSettings {
  std::shared_ptr<const BasicAuth> auth;    // null: no basic auth
  std::shared_ptr<TlsContextProvider> tls;  // null: plain HTTP
  std::vector<std::pair<std::string, std::string>> headers;
};

// Loads the certificates and builds the auth of `config` into *out; the
// error names the file when a certificate or key cannot be used.
Status MakeWebSettings(const WebConfig& config, WebSettings* out);

struct ServerOptions {
  // Prometheus' forms: "host:port", ":port" (every interface, IPv4 and IPv6
  // where the host has IPv6), "[::1]:port", "[::]:port".
  std::vector<std::string> listen_addresses = {":19180"};
  // Serve on the sockets systemd passed (LISTEN_FDS) instead.
  bool systemd_socket = false;
  std::string telemetry_path = "/metrics";
  // False: /metrics leaves out the process_* families
  // (--web.disable-exporter-metrics).
  bool process_metrics = true;
  std::chrono::milliseconds read_header_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds idle_timeout = std::chrono::minutes(2);
  int max_connections = 4096;
  // TLS handshakes in OpenSSL at once, each up to about 50 KiB (its record
  // and message buffers, key shares, transcript): 2 MiB at the most in all.
  int max_tls_handshakes = 40;
  size_t max_request_bytes = 64 * 1024;
  // One, as node_exporter's GOMAXPROCS: serving never takes more than one
  // core from the database, even under a flood of requests; and with the
  // CPU shared, the client's own threads get it back sooner (bench/serve.py:
  // HTTP p99 1.2-1.3 ms with one, 1.8-2.1 ms with two).
  int io_threads = 1;
  int auth_threads = 2;    // bcrypt workers
  size_t auth_queue = 64;  // bcrypt checks waiting at most
  WebSettings web;
};

// Connections open now, and how many are in the states tests wait for.
struct ConnectionCounts {
  size_t open = 0;
  size_t handshaking = 0;  // TLS handshakes holding OpenSSL state
  size_t writing = 0;      // replies being sent
};

// One parsed listen address. family: 4, 6, or 0 for "every interface".
struct ListenSpec {
  std::string host;  // IP address text without brackets; empty for any
  int family = 0;
  uint16_t port = 0;
};
// Parses a --web.listen-address value into *out; the reason on error.
Status ParseListenAddress(const std::string& address, ListenSpec* out);

// True when this host can open and bind an IPv6 socket on ::1.
bool HostHasIpv6();

class Server {
 public:
  // Starts serving `view` (which must outlive the server) into *out. The
  // error names the flag and address on a bad address or a port already in
  // use (*out unchanged).
  static Status Start(const ServerOptions& options, const ExporterView* view,
                      std::unique_ptr<Server>* out);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound ports, in listen order (the real one when asked for port 0).
  std::vector<int> Ports() const;
  // From the next request (auth, headers) or connection (TLS) on.
  void SetWebSettings(WebSettings settings);
  // Connections open now (for tests and logs).
  size_t Connections() const;
  // Blocks until at most `n` connections are open (each close wakes it);
  // false if `timeout` passed first. For tests: a closed connection is
  // freed on its I/O thread, after the peer has seen the close.
  bool WaitForConnectionsAtMost(size_t n,
                                std::chrono::milliseconds timeout) const;
  ConnectionCounts Counts() const;
  // Blocks until `done(Counts())` holds (each change of a connection's state
  // wakes it); false if `timeout` passed first.
  bool WaitForCounts(std::function<bool(const ConnectionCounts&)> done,
                     std::chrono::milliseconds timeout) const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stemedb::exporter
