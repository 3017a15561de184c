#include "stemedb/exporter/http_handler.h"

#include <zlib.h>

#include <cctype>

#include "stemedb/exporter/diagnose_numbers.h"
#include "stemedb/exporter/process_metrics.h"

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

}  // namespace

bool AcceptsGzip(std::string_view value) {
  // Codings are comma-separated, each maybe with ";q=...".
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view()
                                            : value.substr(comma + 1);
    std::string_view coding = item.substr(0, item.find(';'));
    while (!coding.empty() && std::isspace((unsigned char)coding.front())) {
      coding.remove_prefix(1);
    }
    while (!coding.empty() && std::isspace((unsigned char)coding.back())) {
      coding.remove_suffix(1);
    }
    std::string lower;
    for (char c : coding) lower += (char)std::tolower((unsigned char)c);
    if (lower != "gzip" && lower != "*") continue;
    const size_t q = item.find("q=");
    if (q == std::string_view::npos) return true;
    // q=0, q=0.0, q=0.000 refuse; anything else accepts.
    std::string_view qv = item.substr(q + 2);
    bool zero = !qv.empty() && qv[0] == '0';
    for (size_t i = 1; zero && i < qv.size(); ++i) {
      const char c = qv[i];
      if (std::isspace((unsigned char)c)) break;
      zero = c == '.' || c == '0';
    }
    if (!zero) return true;
  }
  return false;
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

Router::Router(std::string telemetry_path, const Exporter* exporter)
    : telemetry_path_(std::move(telemetry_path)),
      exporter_(exporter),
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
  auto exposition = exporter_->Exposition();
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (metrics_.text == nullptr || metrics_.exposition != exposition ||
      now - metrics_.built >= std::chrono::seconds(1)) {
    auto text = std::make_shared<std::string>();
    text->reserve(exposition->size() + 2048);
    *text = *exposition;
    AppendProcessMetrics(text.get());
    metrics_ = Metrics{std::move(exposition), now, std::move(text), nullptr};
  }
  if (!gzip) return metrics_.text;
  if (metrics_.gzip == nullptr) metrics_.gzip = Text(Gzip(*metrics_.text));
  return metrics_.gzip;
}

HttpReply Router::Route(const HttpRequest& request, AuthResult auth) const {
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
  std::string_view path = request.target.substr(0, request.target.find('?'));
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
    r.body = Text(DiagnoseJson(*exporter_->CurrentSnapshot(),
                               exporter_->CurrentConfig()));
  } else if (path == "/-/healthy") {
    static const auto kHealthy = Text("Healthy.\n");
    r = Plain(200, kHealthy);
  } else if (path == "/-/ready") {
    static const auto kReady = Text("Ready.\n");
    r = exporter_->Ready() ? Plain(200, kReady) : Plain(503);
  } else {
    r = Plain(404);
  }
  r.head_only = head;
  return r;
}

HttpReply Router::Error(int status) { return Plain(status); }

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
