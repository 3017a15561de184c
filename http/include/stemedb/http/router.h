// What the exporter answers to an HTTP request, as a pure function of the
// parsed request, the auth decision and the engine's current state (an
// ExporterView): no
// sockets, so the server, the unit tests and the fuzz harness all call the
// same code.
//
// Endpoints: the telemetry path (default /metrics; the exposition plus
// process_* metrics, gzip when asked for), "/" (landing page), /diagnose
// (the runbook's Quick Diagnosis of the last snapshot as JSON, the schema of
// `diagnose --format json`), /-/healthy, /-/ready. Paths match exactly (a query
// string is ignored), whether the target is in origin form ("/metrics") or in
// absolute form ("http://host/metrics", RFC 9112 3.2.2); anything else is 404;
// methods other than GET and HEAD are 405 with "Allow: GET, HEAD". A request
// that breaks HTTP/1.1's framing or Host rules is refused before auth (see
// Router::Refusal).
//
// Thread safety: Router's methods may be called from any thread; its caches
// are guarded by a mutex.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stemedb/http/basic_auth.h"
#include "stemedb/http/exporter_view.h"

namespace stemedb::exporter {

// The parts of a request the router looks at, as the client sent them.
struct HttpRequest {
  std::string_view method;  // e.g. "GET"
  // Origin form ("/metrics?x=1") or absolute form ("http://h/metrics").
  std::string_view target;
  unsigned version = 11;   // 10: HTTP/1.0, 11: HTTP/1.1
  size_t host_fields = 1;  // how many Host field lines came
  std::string_view host;   // the first one's value
  // Every Transfer-Encoding line's value, joined with ", "; empty for none.
  std::string_view transfer_encoding;
  std::string_view accept_encoding;
};

struct HttpReply {
  int status = 200;
  std::string_view content_type;
  // Never null. Shared: the exposition is not copied per request.
  std::shared_ptr<const std::string> body;
  bool gzip = false;       // body is gzip-compressed
  std::string_view extra;  // complete extra header lines ("Allow: ...\r\n")
  bool head_only = false;  // HEAD: send the head, not the body
  bool close = false;      // the connection must close after this reply
};

class Router {
 public:
  // `view` must outlive the router. `process_metrics`: /metrics appends the
  // process_* families.
  Router(std::string telemetry_path, const ExporterView* view,
         bool process_metrics = true);

  // `auth` is the auth decision for the request (kOk when no auth is
  // configured). A request that Refusal refuses gets that refusal, whatever
  // `auth` says.
  HttpReply Route(const HttpRequest& request, AuthResult auth) const;

  // The status a request earns before auth and routing, or 0 when it may go
  // on: 400 for HTTP/1.1 without exactly one Host, for several Host lines or
  // a Host value that is no host[:port] (RFC 9112 3.2), for a
  // Transfer-Encoding that does not end in one chunked or comes with
  // HTTP/1.0 (6.1); 501 for a transfer coding other than chunked. The
  // connection closes after either: its framing cannot be trusted.
  static int Refusal(const HttpRequest& request);

  // An error reply for a request that could not be parsed or was refused
  // (400, 413, 431, 501).
  static HttpReply Error(int status);

  // The status line and headers for `reply`, ending in the blank line.
  // `headers` are the web config's extra response headers.
  static std::string RenderHead(
      const HttpReply& reply, bool keep_alive, unsigned http_version,
      const std::vector<std::pair<std::string, std::string>>& headers);

  const std::string& telemetry_path() const { return telemetry_path_; }

 private:
  struct Metrics {
    std::shared_ptr<const std::string> exposition;  // what it was built from
    std::chrono::steady_clock::time_point built;
    std::shared_ptr<const std::string> text;  // exposition + process metrics
    std::shared_ptr<const std::string> gzip;  // of text; null until asked
  };
  // The body of the telemetry path: rebuilt when the exposition changes or
  // the process metrics are older than a second; gzip made once per body.
  std::shared_ptr<const std::string> MetricsBody(bool gzip) const;

  const std::string telemetry_path_;
  const ExporterView* const view_;
  const bool process_metrics_;
  const std::shared_ptr<const std::string> landing_;
  mutable std::mutex mu_;
  mutable Metrics metrics_;  // GUARDED_BY(mu_)
};

// True when the reply should be gzip under an Accept-Encoding value (RFC 9110
// 12.5.3): gzip (or x-gzip, else "*") has a q-value above 0 and identity is
// not listed with a higher one. q=0 means "not acceptable"; a malformed
// q-value makes its coding unacceptable; names are case-insensitive.
bool AcceptsGzip(std::string_view accept_encoding);

// gzip (RFC 1952) of `text`.
std::string Gzip(std::string_view text);

}  // namespace stemedb::exporter
