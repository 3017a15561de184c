#include "stemedb/diagnose/fetch.h"

// clang-format off
#include <utility>  // first: Boost 1.74's asio/awaitable.hpp needs std::exchange
// clang-format on

#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <thread>

#include "stemedb/base/user_file.h"

namespace stemedb::diagnose {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A /diagnose document is a few KiB; anything much larger is not one.
constexpr size_t kMaxBody = 16 << 20;

std::string Base64(const std::string& s) {
  std::string out(beast::detail::base64::encoded_size(s.size()), '\0');
  out.resize(beast::detail::base64::encode(out.data(), s.data(), s.size()));
  return out;
}

// Runs the io_context on a thread of its own, so the calling thread can
// wait on futures; stops and joins on destruction.
class Runner {
 public:
  explicit Runner(asio::io_context& ioc)
      : ioc_(ioc),
        work_(asio::make_work_guard(ioc)),
        thread_([&] { ioc_.run(); }) {}
  ~Runner() {
    work_.reset();
    ioc_.stop();
    thread_.join();
  }

 private:
  asio::io_context& ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

template <typename Stream>
void Exchange(Stream& stream, const http::request<http::empty_body>& req,
              http::response_parser<http::string_body>* parser) {
  http::async_write(stream, req, asio::use_future).get();
  beast::flat_buffer buffer;
  http::async_read(stream, buffer, *parser, asio::use_future).get();
}

}  // namespace

stemedb::Status ParseUrl(std::string_view text, Url* out) {
  Url u;
  std::string_view rest = text;
  if (rest.substr(0, 7) == "http://") {
    rest.remove_prefix(7);
  } else if (rest.substr(0, 8) == "https://") {
    u.https = true;
    rest.remove_prefix(8);
  } else {
    return Error::Message(
        "\"" + std::string(text) +
        "\" is not an http:// or https:// URL (e.g. http://127.0.0.1:19180)");
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path =
      slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return Error::Message(
        "credentials in the URL would show in ps: give --from.user and "
        "--from.password-file instead");
  }
  if (path.find_first_of("?#") != std::string_view::npos) {
    return Error::Message("\"" + std::string(text) +
                          "\": no query or fragment, please");
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  u.path = std::string(path);
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Error::Message("unclosed [ in the URL's host");
    }
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return Error::Message("junk after ] in the URL's host");
      }
      port = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) {
    return Error::Message("\"" + std::string(text) + "\" has no host");
  }
  if (port.empty()) {
    u.port = u.https ? "443" : "80";
  } else {
    for (char c : port) {
      if (c < '0' || c > '9') {
        return Error::Message("bad port \"" + std::string(port) + "\"");
      }
    }
    if (port.size() > 5 || std::stoi(std::string(port)) > 65535 ||
        std::stoi(std::string(port)) == 0) {
      return Error::Message("bad port \"" + std::string(port) + "\"");
    }
    u.port = std::string(port);
  }
  *out = std::move(u);
  return std::nullopt;
}

namespace {

using Endpoints = tcp::resolver::results_type;
using Request = http::request<http::empty_body>;
using Parser = http::response_parser<http::string_body>;

Request MakeRequest(const std::string& target, const std::string& host_header,
                    const FetchOptions& options) {
  Request req{http::verb::get, target, 11};
  req.set(http::field::host, host_header);
  req.set(http::field::user_agent, "stemedb_disk_exporter diagnose");
  req.set(http::field::accept, "application/json");
  if (!options.user.empty()) {
    req.set(http::field::authorization,
            "Basic " + Base64(options.user + ":" + options.password));
  }
  return req;
}

// The trust and the client identity named in `options`. The files are read
// by the rule for user-named files (a FIFO would block until written), then
// handed to OpenSSL from memory. *stage names the file being loaded.
stemedb::Status ConfigureTls(const FetchOptions& options,
                             asio::ssl::context* ctx, std::string* stage) {
  std::string pem;
  auto read = [&](const char* flag, const std::string& path,
                  const FileKind& kind) -> stemedb::Status {
    *stage = std::string(flag) + " " + path;
    if (stemedb::Status err = ReadUserFile(path, kind, &pem)) {
      return Error::Message(std::string(flag) + ": " + err->ToString());
    }
    return std::nullopt;
  };
  if (options.ca_file.empty()) {
    ctx->set_default_verify_paths();
  } else {
    if (stemedb::Status err =
            read("--from.ca-file", options.ca_file, kCertificateFileKind)) {
      return err;
    }
    ctx->add_certificate_authority(asio::buffer(pem));
  }
  if (!options.cert_file.empty()) {
    if (stemedb::Status err =
            read("--from.cert-file", options.cert_file, kCertificateFileKind)) {
      return err;
    }
    ctx->use_certificate_chain(asio::buffer(pem));
    if (stemedb::Status err =
            read("--from.key-file", options.key_file, kKeyFileKind)) {
      return err;
    }
    ctx->use_private_key(asio::buffer(pem), asio::ssl::context::pem);
  }
  ctx->set_verify_mode(asio::ssl::verify_peer);
  return std::nullopt;
}

// Where one request goes and what it sends; *stage says what is under way,
// for the error when a step throws.
struct Call {
  const Url& url;
  const std::string& host_header;
  const std::string& get_stage;  // "GET <url>/diagnose"
  const FetchOptions& options;
  const Request& req;
  Parser* parser;
  std::string* stage;
};

// Throws boost::system::system_error (or another std::exception).
void GetPlain(asio::io_context& ioc, const Endpoints& endpoints,
              const Call& call) {
  beast::tcp_stream stream(ioc);
  stream.expires_after(call.options.timeout);
  stream.async_connect(endpoints, asio::use_future).get();
  *call.stage = call.get_stage;
  Exchange(stream, call.req, call.parser);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

// Throws like GetPlain; returns the errors that are not exceptions.
stemedb::Status GetTls(asio::io_context& ioc, const Endpoints& endpoints,
                       const Call& call) {
  const Url& u = call.url;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  if (stemedb::Status err = ConfigureTls(call.options, &ctx, call.stage)) {
    return err;
  }
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  stream.set_verify_callback(asio::ssl::host_name_verification(u.host));
  const bool v6 = u.host.find(':') != std::string::npos;
  if (!v6 &&
      !SSL_set_tlsext_host_name(stream.native_handle(), u.host.c_str())) {
    return Error::Message("TLS: cannot set the server name " + u.host);
  }
  beast::get_lowest_layer(stream).expires_after(call.options.timeout);
  *call.stage = "connect to " + call.host_header;
  beast::get_lowest_layer(stream)
      .async_connect(endpoints, asio::use_future)
      .get();
  *call.stage = "TLS handshake with " + call.host_header;
  stream.async_handshake(asio::ssl::stream_base::client, asio::use_future)
      .get();
  *call.stage = call.get_stage;
  Exchange(stream, call.req, call.parser);
  return std::nullopt;
}

// Resolves, connects and exchanges; a thrown error becomes "<stage>: why".
stemedb::Status Get(const Call& call) {
  asio::io_context ioc;
  std::string& stage = *call.stage;
  stage = "resolve " + call.url.host;
  try {
    std::optional<Runner> runner;
    runner.emplace(ioc);
    tcp::resolver resolver(ioc);
    auto endpoints =
        resolver.async_resolve(call.url.host, call.url.port, asio::use_future)
            .get();
    stage = "connect to " + call.host_header;
    if (!call.url.https) {
      GetPlain(ioc, endpoints, call);
      return std::nullopt;
    }
    return GetTls(ioc, endpoints, call);
  } catch (const boost::system::system_error& e) {
    const bool timeout = e.code() == beast::error::timeout;
    return Error::Message(
        stage + ": " +
        (timeout ? "timed out after " +
                       std::to_string(call.options.timeout.count() / 1000) + "s"
                 : e.code().message()));
  } catch (const std::exception& e) {
    return Error::Message(stage + ": " + e.what());
  }
}

// The error for an answer other than 200, with a hint for 401 and 404.
Error HttpError(const std::string& url, const std::string& what,
                const FetchOptions& options,
                const http::response<http::string_body>& res) {
  std::string err = "GET " + url + what + ": HTTP " +
                    std::to_string(res.result_int()) + " " +
                    std::string(res.reason());
  if (what.rfind("/diagnose", 0) != 0) {
    // Not an exporter: no hints about the exporter's flags.
  } else if (res.result_int() == 401) {
    err += options.user.empty()
               ? " (the exporter wants basic auth: --from.user and "
                 "--from.password-file)"
               : " (wrong --from.user or password)";
  } else if (res.result_int() == 404) {
    err += " (an exporter older than diagnose, or a wrong path prefix?)";
  }
  return Error::Message(err);
}

}  // namespace

stemedb::Status FetchDiagnosis(const std::string& url,
                               const FetchOptions& options, std::string* body) {
  return FetchPath(url, "/diagnose", options, body);
}

stemedb::Status FetchPath(const std::string& url, const std::string& what,
                          const FetchOptions& options, std::string* body) {
  Url u;
  if (stemedb::Status err = ParseUrl(url, &u)) return err;
  const std::string target = u.path + what;
  const bool v6 = u.host.find(':') != std::string::npos;
  const std::string host_header =
      (v6 ? "[" + u.host + "]" : u.host) + ":" + u.port;
  const Request req = MakeRequest(target, host_header, options);
  Parser parser;
  parser.body_limit(kMaxBody);
  const std::string get_stage = "GET " + url + target.substr(u.path.size());
  std::string stage;
  if (stemedb::Status err =
          Get({u, host_header, get_stage, options, req, &parser, &stage})) {
    return err;
  }
  auto& res = parser.get();
  if (res.result_int() != 200) return HttpError(url, what, options, res);
  *body = std::move(res.body());
  return std::nullopt;
}

}  // namespace stemedb::diagnose
