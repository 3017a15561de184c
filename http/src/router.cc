#include "stemedb/http/router.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>

#include "stemedb/base/strings.h"
#include "stemedb/collector/process_metrics.h"

namespace stemedb::exporter {
namespace {

constexpr std::string_view kTextType = "text/plain; charset=utf-8";
constexpr std::string_view kExpositionType =
    "text/plain; version=0.0.4; charset=utf-8";

std::shared_ptr<const std::string> Text(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

const std::shared_ptr<const std::string>& Body(int status) {
  static const auto kNotFound = Text("404 page not found\n");
  static const auto kMethod = Text("405 method not allowed\n");
  static const auto kUnauthorized = Text("Unauthorized\n");
  static const auto kBusy =
      Text("Too many authentication attempts in progress; retry.\n");
  static const auto kBad = Text("400 bad request\n");
  static const auto kNotImplemented = Text("501 not implemented\n");
  static const auto kTooLarge = Text("request too large\n");
  static const auto kNotReady =
      Text("Not ready: the first scan has not finished.\n");
  switch (status) {
    case 404:
      return kNotFound;
    case 405:
      return kMethod;
    case 401:
      return kUnauthorized;
    case 429:
      return kBusy;
    case 413:
    case 431:
      return kTooLarge;
    case 503:
      return kNotReady;
    case 501:
      return kNotImplemented;
    default:
      return kBad;
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

std::string_view Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

HttpReply Plain(int status, std::shared_ptr<const std::string> body = nullptr) {
  HttpReply r;
  r.status = status;
  r.content_type = kTextType;
  r.body = body ? std::move(body) : Body(status);
  return r;
}

// Calls `each` with every non-empty element of a comma-separated list
// (RFC 9110 5.6.1: empty elements are ignored), trimmed.
template <class F>
void ForEachElement(std::string_view list, F&& each) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view element = Trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view()
                                           : list.substr(comma + 1);
    if (!element.empty()) each(element);
  }
}

// A qvalue (RFC 9110 12.4.2) in thousandths, or -1 when malformed.
int ParseQvalue(std::string_view q) {
  if (q.empty() || q.size() > 5 || (q[0] != '0' && q[0] != '1')) return -1;
  int value = (q[0] - '0') * 1000;
  if (q.size() == 1) return value;
  if (q[1] != '.') return -1;
  int scale = 100;
  for (size_t i = 2; i < q.size(); ++i, scale /= 10) {
    if (!std::isdigit(static_cast<unsigned char>(q[i]))) return -1;
    value += (q[i] - '0') * scale;
  }
  return value > 1000 ? -1 : value;
}

// The q of one Accept-Encoding element ("gzip;q=0.5"), 1000 when it has
// none; its coding in *coding.
int ElementWeight(std::string_view element, std::string_view* coding) {
  const size_t semicolon = element.find(';');
  *coding = Trim(element.substr(0, semicolon));
  if (semicolon == std::string_view::npos) return 1000;
  std::string_view params = element.substr(semicolon + 1);
  int weight = 1000;
  while (!params.empty()) {
    const size_t next = params.find(';');
    const std::string_view param = params.substr(0, next);
    params = next == std::string_view::npos ? std::string_view()
                                            : params.substr(next + 1);
    const size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    if (EqualsIgnoringCase(Trim(param.substr(0, eq)), "q")) {
      weight = ParseQvalue(Trim(param.substr(eq + 1)));
    }
  }
  return weight;
}

// Bytes a Host value may hold: a reg-name, an IP literal in brackets, a
// port (RFC 3986 3.2.2), as Go's net/http allows them.
bool ValidHost(std::string_view host) {
  for (char c : host) {
    if (std::isalnum(static_cast<unsigned char>(c))) continue;
    if (std::string_view("!$%&'()*+,-.:;=@[]_~").find(c) ==
        std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// The path of an origin-form or absolute-form target, without its query.
std::string_view TargetPath(std::string_view target) {
  const size_t scheme_end = target.find("://");
  if (!target.empty() && target[0] != '/' &&
      scheme_end != std::string_view::npos &&
      (EqualsIgnoringCase(target.substr(0, scheme_end), "http") ||
       EqualsIgnoringCase(target.substr(0, scheme_end), "https"))) {
    // absolute-form: the authority ends at the path, the query or the end;
    // an empty path is "/" (RFC 9110 4.2.3).
    const std::string_view rest = target.substr(scheme_end + 3);
    const size_t path = rest.find_first_of("/?#");
    if (path == std::string_view::npos || rest[path] != '/') return "/";
    target = rest.substr(path);
  }
  return target.substr(0, target.find_first_of("?#"));
}

}  // namespace

bool AcceptsGzip(std::string_view value) {
  // Weights in thousandths; -1: the coding is not listed.
  int gzip = -1, identity = -1, any = -1;
  ForEachElement(value, [&](std::string_view element) {
    std::string_view coding;
    // A malformed q-value: the element accepts nothing.
    const int weight = std::max(0, ElementWeight(element, &coding));
    if (EqualsIgnoringCase(coding, "gzip") ||
        EqualsIgnoringCase(coding, "x-gzip")) {
      gzip = std::max(gzip, weight);
    } else if (EqualsIgnoringCase(coding, "identity")) {
      identity = std::max(identity, weight);
    } else if (coding == "*") {
      any = std::max(any, weight);
    }
  });
  if (gzip < 0) gzip = std::max(any, 0);
  return gzip > 0 && identity <= gzip;
}

int Router::Refusal(const HttpRequest& request) {
  if (request.host_fields > 1 ||
      (request.version >= 11 && request.host_fields == 0) ||
      !ValidHost(request.host)) {
    return 400;
  }
  if (request.transfer_encoding.empty()) return 0;
  // Only a lone chunked frames a body this server can read; with HTTP/1.0
  // the framing is faulty whatever it says (RFC 9112 6.1).
  if (request.version < 11) return 400;
  int chunked = 0, codings = 0;
  bool chunked_last = false;
  ForEachElement(request.transfer_encoding, [&](std::string_view element) {
    ++codings;
    chunked_last = EqualsIgnoringCase(
        Trim(element.substr(0, element.find(';'))), "chunked");
    chunked += chunked_last ? 1 : 0;
  });
  if (!chunked_last || chunked > 1) return 400;
  return codings > 1 ? 501 : 0;
}

std::string Gzip(std::string_view text) {
  z_stream z{};
  // 15 window bits + 16: a gzip header and trailer, not zlib's.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return {};
  }
  std::string out(deflateBound(&z, text.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : std::string();
}

Router::Router(std::string telemetry_path, const ExporterView* view,
               bool process_metrics)
    : telemetry_path_(std::move(telemetry_path)),
      view_(view),
      process_metrics_(process_metrics),
      landing_(Text("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                    "<title>StemeDB disk exporter</title></head><body>\n"
                    "<h1>StemeDB disk exporter</h1>\n"
                    "<p>Per-component disk usage, WAL segments and filesystem "
                    "capacity of a StemeDB data layout, scanned in the "
                    "background.</p>\n<ul>\n<li><a href=\"" +
                    HtmlEscape(telemetry_path_) + "\">Metrics</a></li>\n" +
                    "<li><a href=\"/diagnose\">Diagnosis</a> (the "
                    "runbook's Quick Diagnosis, JSON)</li>\n"
                    "<li><a href=\"/-/healthy\">Health</a></li>\n"
                    "<li><a href=\"/-/ready\">Readiness</a> (after the first "
                    "scan)</li>\n</ul>\n</body></html>\n")) {}

std::shared_ptr<const std::string> Router::MetricsBody(bool gzip) const {
  auto exposition = view_->Exposition();
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (metrics_.text == nullptr || metrics_.exposition != exposition ||
      now - metrics_.built >= std::chrono::seconds(1)) {
    auto text = std::make_shared<std::string>();
    text->reserve(exposition->size() + 2048);
    *text = *exposition;
    if (process_metrics_) AppendProcessMetrics(text.get());
    metrics_ = Metrics{std::move(exposition), now, std::move(text), nullptr};
  }
  if (!gzip) return metrics_.text;
  if (metrics_.gzip == nullptr) metrics_.gzip = Text(Gzip(*metrics_.text));
  return metrics_.gzip;
}

HttpReply Router::Route(const HttpRequest& request, AuthResult auth) const {
  if (const int refusal = Refusal(request)) return Error(refusal);
  if (auth == AuthResult::kDenied) {
    HttpReply r = Plain(401);
    r.extra = "WWW-Authenticate: Basic\r\n";
    return r;
  }
  if (auth == AuthResult::kBusy) {
    HttpReply r = Plain(429);
    r.extra = "Retry-After: 1\r\n";
    return r;
  }
  const bool head = request.method == "HEAD";
  if (request.method != "GET" && !head) {
    HttpReply r = Plain(405);
    r.extra = "Allow: GET, HEAD\r\n";
    return r;
  }
  const std::string_view path = TargetPath(request.target);
  HttpReply r;
  if (path == telemetry_path_) {
    const bool gzip = AcceptsGzip(request.accept_encoding);
    r.content_type = kExpositionType;
    r.body = MetricsBody(gzip);
    r.gzip = gzip && !r.body->empty();
    if (r.body->empty()) r.body = MetricsBody(false);  // zlib failed
  } else if (path == "/") {
    r.content_type = "text/html; charset=utf-8";
    r.body = landing_;
  } else if (path == "/diagnose") {
    // Built per request from the last snapshot: no I/O, and asked for by
    // an on-call's `diagnose --from`, not by every scrape.
    r.content_type = "application/json";
    r.body = Text(view_->DiagnoseJson());
  } else if (path == "/diagnose/growth") {
    // Likewise: what is growing, for `diagnose --from`.
    std::string growth = view_->GrowthJson();
    if (growth.empty()) {
      r = Plain(404);
    } else {
      r.content_type = "application/json";
      r.body = Text(std::move(growth));
    }
  } else if (path == "/-/healthy") {
    static const auto kHealthy = Text("Healthy.\n");
    r = Plain(200, kHealthy);
  } else if (path == "/-/ready") {
    static const auto kReady = Text("Ready.\n");
    r = view_->Ready() ? Plain(200, kReady) : Plain(503);
  } else {
    r = Plain(404);
  }
  r.head_only = head;
  return r;
}

HttpReply Router::Error(int status) {
  HttpReply r = Plain(status);
  r.close = true;
  return r;
}

std::string Router::RenderHead(
    const HttpReply& reply, bool keep_alive, unsigned http_version,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string head;
  head.reserve(256);
  head += http_version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  head += std::to_string(reply.status);
  head += ' ';
  head += Reason(reply.status);
  head += "\r\nContent-Type: ";
  head += reply.content_type;
  head += "\r\nContent-Length: ";
  head += std::to_string(reply.body->size());
  head += "\r\n";
  if (reply.gzip) head += "Content-Encoding: gzip\r\n";
  if (reply.content_type == kExpositionType) {
    head += "Vary: Accept-Encoding\r\n";
  }
  head += "Cache-Control: no-store\r\n";
  if (!keep_alive) {
    head += "Connection: close\r\n";
  } else if (http_version == 10) {
    head += "Connection: keep-alive\r\n";
  }
  head += reply.extra;
  for (const auto& [name, value] : headers) {
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  head += "\r\n";
  return head;
}

}  // namespace stemedb::exporter
