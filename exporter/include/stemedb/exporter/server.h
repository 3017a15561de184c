// HTTP serving over civetweb: the telemetry path, a landing page at "/",
// /-/healthy and /-/ready. Every response is built from memory the Exporter
// already holds; no request touches the disk.
//
// Thread safety: civetweb calls the handlers on its worker threads; the
// handlers only call Exporter's thread-safe readers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "stemedb/exporter/exporter.h"
#include "stemedb/exporter/web_config.h"

namespace stemedb::exporter {

struct ServerOptions {
  // Prometheus' form: "host:port", ":port" for every IPv4 interface.
  std::string listen_address = ":19180";
  std::string telemetry_path = "/metrics";
  // Worker threads; each keep-alive connection holds one while open.
  int threads = 16;
  // When set, every path asks for HTTP basic auth (as the exporter-toolkit
  // does with basic_auth_users).
  std::shared_ptr<const BasicAuth> auth;
};

class Server {
 public:
  // Starts serving `exporter` (which must outlive the server). Returns null
  // and sets *error on a bad address or a port already in use.
  static std::unique_ptr<Server> Start(const ServerOptions& options,
                                       const Exporter* exporter,
                                       std::string* error);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound ports (the real one when asked for port 0).
  std::vector<int> Ports() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Converts a Prometheus-style listen address to civetweb's listening_ports
// value ("127.0.0.1:9100", ":9100" -> "0.0.0.0:9100"). Returns false with a
// reason for anything civetweb (built without IPv6 in Debian) cannot bind.
bool ToCivetwebPorts(const std::string& address, std::string* out,
                     std::string* error);

}  // namespace stemedb::exporter
