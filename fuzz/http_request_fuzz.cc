// libFuzzer harness for the HTTP request path: raw bytes through Beast's
// request parser (with the server's limits) and, when a request parses,
// through basic auth and the Router, exactly as a connection does, without
// sockets. Needs: stemedb::http (Router, BasicAuth, FixedView),
// Boost.Beast headers, libcrypt (via stemedb::http).
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "stemedb/http/basic_auth.h"
#include "stemedb/http/beast_request.h"
#include "stemedb/http/exporter_view.h"
#include "stemedb/http/router.h"

namespace {

namespace http = boost::beast::http;
using stemedb::exporter::AuthResult;
using stemedb::exporter::BasicAuth;
using stemedb::exporter::HttpReply;
using stemedb::exporter::HttpRequest;
using stemedb::exporter::Router;

struct State {
  stemedb::exporter::FixedView view{"# TYPE up gauge\nup 1\n"};
  Router router{"/metrics", &view};
  // user "prom", password "secret", bcrypt cost 4 (cheap to fuzz through).
  BasicAuth auth{
      {{"prom",
        "$2b$04$1h0k71N65dS3QDzQsjIKoOQTu5DMZ0MjHsFEUZhJlgiiNp.SYSKHS"}}};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static State* state = new State();  // one per process, never freed
  http::request_parser<http::string_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = 0;
  while (used < size && !parser.is_done()) {
    const size_t n =
        parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec == http::error::need_more) break;
    if (ec || n == 0) break;
    used += n;
  }
  if (ec && ec != http::error::need_more) {
    // What the server answers to a request it cannot parse.
    const int status = ec == http::error::header_limit ? 431
                       : ec == http::error::body_limit ? 413
                                                       : 400;
    const HttpReply reply = Router::Error(status);
    (void)Router::RenderHead(reply, false, 11, {});
    return 0;
  }
  if (!parser.is_header_done()) return 0;
  const auto& req = parser.get();
  std::string joined;
  const HttpRequest request = stemedb::exporter::ToHttpRequest(req, &joined);
  const auto authorization = req[http::field::authorization];
  const std::string_view header(authorization.data(), authorization.size());
  // With and without auth configured, as the server can run either way.
  for (bool with_auth : {false, true}) {
    AuthResult auth = AuthResult::kOk;
    if (with_auth) {
      auto fast = state->auth.CheckFast(header);
      auth = fast ? *fast : state->auth.Verify(header);
    }
    const HttpReply reply = state->router.Route(request, auth);
    const std::string head =
        Router::RenderHead(reply, req.keep_alive() && !reply.close,
                           req.version(), {{"X-Frame-Options", "deny"}});
    if (reply.body == nullptr || head.size() < 12) __builtin_trap();
    // A request Router refuses is refused whatever auth says, and closes.
    if (Router::Refusal(request) != 0 &&
        (reply.status != Router::Refusal(request) || !reply.close)) {
      __builtin_trap();
    }
  }
  return 0;
}
