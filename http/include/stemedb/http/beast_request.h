// The HttpRequest (what Router looks at) of a request Boost.Beast parsed, in
// one place for the server and the fuzz harness, so that both hand Router
// the same view of the same bytes.
//
// Thread safety: a pure function of its arguments.
#pragma once

#include <boost/beast/http.hpp>
#include <string>
#include <string_view>

#include "stemedb/http/router.h"

namespace stemedb::exporter {

// The views point into `req` and `*storage` (which holds the joined
// Transfer-Encoding lines when there are several): both must outlive the
// result.
template <class Body>
HttpRequest ToHttpRequest(const boost::beast::http::request<Body>& req,
                          std::string* storage) {
  namespace http = boost::beast::http;
  auto view = [](boost::beast::string_view s) {
    return std::string_view(s.data(), s.size());
  };
  HttpRequest out;
  out.method = view(req.method_string());
  out.target = view(req.target());
  out.version = req.version();
  out.host_fields = req.count(http::field::host);
  out.host = view(req[http::field::host]);
  out.accept_encoding = view(req[http::field::accept_encoding]);
  const auto codings = req.equal_range(http::field::transfer_encoding);
  if (codings.first != codings.second &&
      std::next(codings.first) == codings.second) {
    out.transfer_encoding = view(codings.first->value());
  } else if (codings.first != codings.second) {
    storage->clear();
    for (auto it = codings.first; it != codings.second; ++it) {
      if (!storage->empty()) *storage += ", ";
      *storage += view(it->value());
    }
    out.transfer_encoding = *storage;
  }
  return out;
}

}  // namespace stemedb::exporter
