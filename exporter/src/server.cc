#include "stemedb/exporter/server.h"

#include <CivetServer.h>
#include <arpa/inet.h>
#include <civetweb.h>

#include <charconv>
#include <cstring>
#include <string_view>

#include "stemedb/exporter/log.h"

namespace stemedb::exporter {
namespace {

constexpr std::string_view kExpositionType =
    "text/plain; version=0.0.4; charset=utf-8";

void Send(mg_connection* conn, int status, std::string_view content_type,
          std::string_view body) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %.*s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\n\r\n",
            status, mg_get_response_code_text(conn, status),
            static_cast<int>(content_type.size()), content_type.data(),
            body.size());
  const auto* info = mg_get_request_info(conn);
  if (std::strcmp(info->request_method, "HEAD") != 0) {
    mg_write(conn, body.data(), body.size());
  }
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Every endpoint sits behind the same optional basic auth.
class Handler : public CivetHandler {
 public:
  bool handleGet(CivetServer*, mg_connection* conn) final {
    if (auth_ && !auth_->Check(mg_get_header(conn, "Authorization"))) {
      mg_printf(conn,
                "HTTP/1.1 401 Unauthorized\r\n"
                "WWW-Authenticate: Basic realm=\"stemedb_disk_exporter\"\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Length: 13\r\n\r\nUnauthorized\n");
      return true;
    }
    Serve(conn);
    return true;
  }
  bool handleHead(CivetServer* s, mg_connection* c) final {
    return handleGet(s, c);
  }
  void set_auth(std::shared_ptr<const BasicAuth> auth) {
    auth_ = std::move(auth);
  }

 protected:
  virtual void Serve(mg_connection* conn) = 0;

 private:
  std::shared_ptr<const BasicAuth> auth_;
};

class MetricsHandler : public Handler {
 public:
  MetricsHandler(const Exporter* e, std::string path)
      : exporter_(e), path_(std::move(path)) {}
  void Serve(mg_connection* conn) override {
    // civetweb matches handlers by prefix; /metricsfoo is not /metrics.
    if (path_ != mg_get_request_info(conn)->local_uri) {
      Send(conn, 404, "text/plain; charset=utf-8", "404 page not found\n");
      return;
    }
    // The text was rendered when the last scan finished; a scrape only
    // copies it, whatever the size of the tree.
    auto text = exporter_->Exposition();
    Send(conn, 200, kExpositionType, *text);
  }

 private:
  const Exporter* exporter_;
  const std::string path_;
};

class HealthyHandler : public Handler {
 public:
  void Serve(mg_connection* conn) override {
    Send(conn, 200, "text/plain; charset=utf-8", "Healthy.\n");
  }
};

class ReadyHandler : public Handler {
 public:
  explicit ReadyHandler(const Exporter* e) : exporter_(e) {}
  void Serve(mg_connection* conn) override {
    if (exporter_->Ready()) {
      Send(conn, 200, "text/plain; charset=utf-8", "Ready.\n");
    } else {
      Send(conn, 503, "text/plain; charset=utf-8",
           "Not ready: the first scan has not finished.\n");
    }
  }

 private:
  const Exporter* exporter_;
};

class LandingHandler : public Handler {
 public:
  explicit LandingHandler(std::string telemetry_path)
      : page_(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            "<title>StemeDB disk exporter</title></head><body>\n"
            "<h1>StemeDB disk exporter</h1>\n"
            "<p>Per-component disk usage, WAL segments and filesystem "
            "capacity of a StemeDB data layout, scanned in the "
            "background.</p>\n<ul>\n<li><a href=\"" +
            HtmlEscape(telemetry_path) + "\">Metrics</a></li>\n" +
            "<li><a href=\"/-/healthy\">Health</a></li>\n"
            "<li><a href=\"/-/ready\">Readiness</a> (after the first "
            "scan)</li>\n</ul>\n</body></html>\n") {}
  void Serve(mg_connection* conn) override {
    // civetweb routes every unmatched URI to the "/" handler.
    if (std::strcmp(mg_get_request_info(conn)->local_uri, "/") != 0) {
      Send(conn, 404, "text/plain; charset=utf-8", "404 page not found\n");
      return;
    }
    Send(conn, 200, "text/html; charset=utf-8", page_);
  }

 private:
  std::string page_;
};

}  // namespace

bool ToCivetwebPorts(const std::string& address, std::string* out,
                     std::string* error) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    *error = "want host:port or :port, got \"" + address + "\"";
    return false;
  }
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  int port_number = -1;
  auto [p, ec] =
      std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() ||
      port_number < 0 || port_number > 65535) {
    *error = "port \"" + port + "\" is not a number from 0 to 65535";
    return false;
  }
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  if (!host.empty() && host.front() == '[') {
    *error =
        "IPv6 addresses are not supported (Debian's civetweb is built "
        "without IPv6)";
    return false;
  }
  in_addr parsed{};
  if (inet_pton(AF_INET, host.c_str(), &parsed) != 1) {
    *error = "host \"" + host + "\" is not an IPv4 address";
    return false;
  }
  *out = host + ":" + std::to_string(port_number);
  return true;
}

struct Server::Impl {
  std::unique_ptr<CivetServer> server;
  std::unique_ptr<MetricsHandler> metrics;
  std::unique_ptr<HealthyHandler> healthy;
  std::unique_ptr<ReadyHandler> ready;
  std::unique_ptr<LandingHandler> landing;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  if (impl_ && impl_->server) impl_->server->close();
}

std::unique_ptr<Server> Server::Start(const ServerOptions& options,
                                      const Exporter* exporter,
                                      std::string* error) {
  std::string ports;
  if (!ToCivetwebPorts(options.listen_address, &ports, error)) {
    *error = "--web.listen-address: " + *error;
    return nullptr;
  }
  if (options.telemetry_path.empty() || options.telemetry_path[0] != '/' ||
      options.telemetry_path == "/" ||
      options.telemetry_path.rfind("/-/", 0) == 0) {
    *error = "--web.telemetry-path: \"" + options.telemetry_path +
             "\" must start with / and not be / or under /-/";
    return nullptr;
  }
  std::vector<std::string> civet_options = {
      "listening_ports",
      ports,
      "num_threads",
      std::to_string(options.threads),
      "enable_keep_alive",
      "yes",
      "keep_alive_timeout_ms",
      "30000",
      // Slow or silent clients must not hold worker threads forever.
      "request_timeout_ms",
      "10000",
      "tcp_nodelay",
      "1",
  };
  auto impl = std::make_unique<Impl>();
  try {
    impl->server = std::make_unique<CivetServer>(civet_options);
  } catch (const CivetException& e) {
    *error = "--web.listen-address: cannot listen on " +
             options.listen_address + ": " + e.what() +
             " (address in use or not local?)";
    return nullptr;
  }
  impl->metrics =
      std::make_unique<MetricsHandler>(exporter, options.telemetry_path);
  impl->healthy = std::make_unique<HealthyHandler>();
  impl->ready = std::make_unique<ReadyHandler>(exporter);
  impl->landing = std::make_unique<LandingHandler>(options.telemetry_path);
  for (Handler* h : std::initializer_list<Handler*>{
           impl->metrics.get(), impl->healthy.get(), impl->ready.get(),
           impl->landing.get()}) {
    h->set_auth(options.auth);
  }
  impl->server->addHandler(options.telemetry_path, impl->metrics.get());
  impl->server->addHandler("/-/healthy", impl->healthy.get());
  impl->server->addHandler("/-/ready", impl->ready.get());
  impl->server->addHandler("/", impl->landing.get());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::vector<int> Server::Ports() const {
  return impl_->server->getListeningPorts();
}

}  // namespace stemedb::exporter
