#include "stemedb/http/server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <regex>
#include <vector>

#include "stemedb/http/router.h"
#include "test_support.h"

namespace stemedb::exporter {
namespace {

using stemedb::testutil::HttpGet;
using stemedb::testutil::TempDir;
using ::testing::HasSubstr;

// What the engine renders for one component with one WAL segment: the
// server serves whatever its view holds, so the tests need no walk.
const char kOneSegment[] =
    "# HELP stemedb_disk_segments WAL segments (cached).\n"
    "# TYPE stemedb_disk_segments gauge\n"
    "stemedb_disk_segments{component=\"wal\"} 1\n";

// The exporter ignores SIGPIPE (cmd/exporter/serve.cc); so does this test
// process, whose clients share it with the server: a client's close_notify
// to a connection the server already closed (one that made way, a reply
// with Connection: close) is then an EPIPE, not a killed test binary.
class IgnoreSigpipe : public ::testing::Environment {
 public:
  void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }
};
const auto* const kIgnoreSigpipe =
    ::testing::AddGlobalTestEnvironment(new IgnoreSigpipe);

// An exposition as large as 60 components make: several TLS records of
// 16 KiB each.
std::string LargeExposition() {
  std::string text;
  for (int m = 0; m < 12; ++m) {
    const std::string name = "stemedb_disk_metric_" + std::to_string(m);
    text += "# HELP " + name + " A number per component (cached).\n";
    text += "# TYPE " + name + " gauge\n";
    for (int i = 0; i < 60; ++i) {
      text += name + "{component=\"component_" + std::to_string(i) + "\"} " +
              std::to_string(i * 4096 + m) + "\n";
    }
  }
  return text;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.listen_addresses = {"127.0.0.1:0"};
    Status err = Server::Start(options, &view_, &server_);
    ASSERT_FALSE(err) << err->message;
    ASSERT_EQ(server_->Ports().size(), 1u);
    port_ = server_->Ports()[0];
    ASSERT_GT(port_, 0);
  }

  FixedView view_{kOneSegment, /*ready=*/false};
  std::unique_ptr<Server> server_;
  int port_ = 0;
};

TEST_F(ServerTest, ReadyOnlyAfterTheFirstWalk) {
  EXPECT_EQ(HttpGet(port_, "/-/ready").status, 503);
  EXPECT_EQ(HttpGet(port_, "/-/healthy").status, 200);
  view_.SetReady(true);
  EXPECT_EQ(HttpGet(port_, "/-/ready").status, 200);
}

TEST_F(ServerTest, MetricsServeTheLastRenderedText) {
  view_.SetReady(true);
  auto r = HttpGet(port_, "/metrics");
  ASSERT_EQ(r.status, 200);
  // The rendered text as is, then the process metrics read at scrape time.
  const std::string exposition = *view_.Exposition();
  EXPECT_EQ(r.body.substr(0, exposition.size()), exposition);
  EXPECT_THAT(r.body.substr(exposition.size()),
              HasSubstr("\n# TYPE process_open_fds gauge\nprocess_open_fds "));
  EXPECT_THAT(r.headers, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(r.body, HasSubstr("stemedb_disk_segments{component=\"wal\"} 1"));
}

TEST_F(ServerTest, LandingPageLinksMetricsAndUnknownPathsAre404) {
  auto r = HttpGet(port_, "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("href=\"/metrics\""));
  EXPECT_EQ(HttpGet(port_, "/nope").status, 404);
}

TEST(ServerStartTest, BusyPortIsAClearError) {
  FixedView view(kOneSegment);
  ServerOptions options;
  options.listen_addresses = {"127.0.0.1:0"};
  std::unique_ptr<Server> first;
  Status err = Server::Start(options, &view, &first);
  ASSERT_FALSE(err) << err->message;
  options.listen_addresses = {"127.0.0.1:" + std::to_string(first->Ports()[0])};
  std::unique_ptr<Server> second;
  err = Server::Start(options, &view, &second);
  EXPECT_EQ(second, nullptr);
  ASSERT_TRUE(err);
  EXPECT_THAT(err->message, HasSubstr("--web.listen-address"));
}

TEST(ServerStartTest, CustomTelemetryPath) {
  FixedView view(kOneSegment);
  ServerOptions options;
  options.listen_addresses = {"127.0.0.1:0"};
  options.telemetry_path = "/stemedb/metrics";
  std::unique_ptr<Server> server;
  Status err = Server::Start(options, &view, &server);
  ASSERT_FALSE(err) << err->message;
  EXPECT_EQ(HttpGet(server->Ports()[0], "/stemedb/metrics").status, 200);
  EXPECT_THAT(HttpGet(server->Ports()[0], "/").body,
              HasSubstr("href=\"/stemedb/metrics\""));
  options.telemetry_path = "metrics";
  std::unique_ptr<Server> refused;
  err = Server::Start(options, &view, &refused);
  EXPECT_EQ(refused, nullptr);
  ASSERT_TRUE(err);
  EXPECT_THAT(err->message, HasSubstr("--web.telemetry-path"));
}

TEST(ListenAddressTest, PrometheusForms) {
  ListenSpec spec;
  ASSERT_FALSE(ParseListenAddress(":19180", &spec));
  EXPECT_EQ(spec.family, 0);
  EXPECT_EQ(spec.port, 19180);
  ASSERT_FALSE(ParseListenAddress("127.0.0.1:0", &spec));
  EXPECT_EQ(spec.host, "127.0.0.1");
  EXPECT_EQ(spec.family, 4);
  ASSERT_FALSE(ParseListenAddress("localhost:80", &spec));
  EXPECT_EQ(spec.host, "127.0.0.1");
  ASSERT_FALSE(ParseListenAddress("[::1]:0", &spec));
  EXPECT_EQ(spec.host, "::1");
  EXPECT_EQ(spec.family, 6);
  ASSERT_FALSE(ParseListenAddress("[::]:19180", &spec));
  EXPECT_EQ(spec.host, "::");
  EXPECT_TRUE(ParseListenAddress("19180", &spec));
  const Status err = ParseListenAddress(":99999", &spec);
  ASSERT_TRUE(err);
  EXPECT_THAT(err->message, HasSubstr("99999"));
  EXPECT_TRUE(ParseListenAddress("[::1:80", &spec));
  EXPECT_TRUE(ParseListenAddress("[nope]:80", &spec));
  EXPECT_TRUE(ParseListenAddress("example.com:80", &spec));
}

}  // namespace
}  // namespace stemedb::exporter

namespace stemedb::exporter {
namespace {

TEST_F(ServerTest, TelemetryPathMatchesExactly) {
  view_.SetReady(true);
  EXPECT_EQ(stemedb::testutil::HttpGet(port_, "/metrics").status, 200);
  EXPECT_EQ(stemedb::testutil::HttpGet(port_, "/metricsfoo").status, 404);
  EXPECT_EQ(stemedb::testutil::HttpGet(port_, "/metrics/x").status, 404);
}

}  // namespace
}  // namespace stemedb::exporter

namespace stemedb::exporter {
namespace {

// The router is a pure function of request, auth decision and the view's
// state; these are the cases the server and the fuzz harness rely on.
TEST(RouterTest, MethodsPathsAndAuth) {
  FixedView view(kOneSegment, /*ready=*/false);
  Router router("/metrics", &view);
  auto route = [&](std::string_view method, std::string_view target,
                   AuthResult auth = AuthResult::kOk) {
    HttpRequest r;
    r.method = method;
    r.target = target;
    return router.Route(r, auth);
  };
  EXPECT_EQ(route("GET", "/metrics").status, 200);
  EXPECT_EQ(route("GET", "/metrics?name[]=x").status, 200);
  EXPECT_EQ(route("GET", "/").status, 200);
  EXPECT_EQ(route("GET", "/-/healthy").status, 200);
  EXPECT_EQ(route("GET", "/-/ready").status, 503);  // no walk yet
  for (const char* path :
       {"/-/healthyfoo", "/-/ready/x", "/metricsfoo", "/metrics/", "//", ""}) {
    EXPECT_EQ(route("GET", path).status, 404) << path;
  }
  const HttpReply post = route("POST", "/metrics");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.extra, "Allow: GET, HEAD\r\n");
  const HttpReply head = route("HEAD", "/metrics");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.head_only);
  EXPECT_EQ(route("GET", "/metrics", AuthResult::kDenied).status, 401);
  EXPECT_EQ(route("GET", "/metrics", AuthResult::kBusy).status, 429);
  // The head announces the body's exact length and the extra headers.
  const std::string text =
      Router::RenderHead(head, true, 11, {{"X-Frame-Options", "deny"}});
  EXPECT_THAT(text, HasSubstr("Content-Length: " +
                              std::to_string(head.body->size()) + "\r\n"));
  EXPECT_THAT(text, HasSubstr("X-Frame-Options: deny\r\n"));
  EXPECT_THAT(Router::RenderHead(head, false, 11, {}),
              HasSubstr("Connection: close\r\n"));
}

TEST(RouterTest, GzipOnlyWhenAsked) {
  FixedView view(kOneSegment, /*ready=*/false);
  Router router("/metrics", &view);
  HttpRequest r;
  r.method = "GET";
  r.target = "/metrics";
  r.accept_encoding = "gzip, deflate";
  const HttpReply a = router.Route(r, AuthResult::kOk);
  ASSERT_TRUE(a.gzip);
  EXPECT_EQ(a.body->substr(0, 2), "\x1f\x8b");  // gzip's magic number
  r.accept_encoding = "";
  EXPECT_FALSE(router.Route(r, AuthResult::kOk).gzip);
}

TEST(RouterTest, AcceptEncodingParsing) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("deflate, GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0.000, br"));
  EXPECT_FALSE(AcceptsGzip("gzipx, identity"));
}

// q-values as RFC 9110 12.4.2 and 12.5.3 read: q=0 is "not acceptable",
// an explicit coding beats "*", parameter names are case-insensitive.
TEST(RouterTest, AcceptEncodingQValues) {
  EXPECT_FALSE(AcceptsGzip("gzip;q=0, *"));
  EXPECT_FALSE(AcceptsGzip("*, gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;Q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip ; q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;level=1;q=0.0"));
  EXPECT_FALSE(AcceptsGzip("x-gzip;q=0, *;q=1"));
  EXPECT_FALSE(AcceptsGzip("*;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0.5, identity;q=1"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=abc"));     // malformed: not acceptable
  EXPECT_FALSE(AcceptsGzip("gzip;q=1.5"));     // above 1: malformed
  EXPECT_FALSE(AcceptsGzip("gzip;q=0.0001"));  // more than 3 decimals
  EXPECT_TRUE(AcceptsGzip("*;q=0, gzip"));
  EXPECT_TRUE(AcceptsGzip("identity;q=0, *;q=0.1"));
  EXPECT_TRUE(AcceptsGzip("gzip;q=0.001"));
  EXPECT_TRUE(AcceptsGzip("gzip;q=1.000, identity;q=1"));
  EXPECT_TRUE(AcceptsGzip(" , x-gzip ,,"));
}

HttpRequest Get(std::string_view target) {
  HttpRequest r;
  r.method = "GET";
  r.target = target;
  r.host = "localhost:9180";
  return r;
}

// RFC 9112 3.2.2: a server must accept the absolute form (what a client
// sends through a proxy) and serve it by its path.
TEST(RouterTest, AbsoluteFormTargetsAreServedByTheirPath) {
  FixedView view(kOneSegment, /*ready=*/false);
  Router router("/metrics", &view);
  auto status = [&](std::string_view target) {
    return router.Route(Get(target), AuthResult::kOk).status;
  };
  EXPECT_EQ(status("http://localhost:9180/metrics"), 200);
  EXPECT_EQ(status("HTTP://h/metrics?x=1"), 200);
  EXPECT_EQ(status("https://[::1]:9180/-/healthy"), 200);
  EXPECT_EQ(status("http://user@h/metrics"), 200);
  EXPECT_EQ(status("http://h"), 200);  // the empty path is "/"
  EXPECT_EQ(status("http://h?x=1"), 200);
  EXPECT_EQ(status("http://h/metricsfoo"), 404);
  EXPECT_EQ(status("http://h/x/metrics"), 404);
  EXPECT_EQ(status("ftp://h/metrics"), 404);
  EXPECT_EQ(status("metrics"), 404);
  const HttpReply head = router.Route(
      [] {
        HttpRequest r = Get("http://h/metrics");
        r.method = "HEAD";
        return r;
      }(),
      AuthResult::kOk);
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.head_only);
}

// RFC 9112 3.2: HTTP/1.1 needs exactly one Host; HTTP/1.0 may omit it.
TEST(RouterTest, HostIsRequiredExactlyOnceInHttpOneOne) {
  FixedView view(kOneSegment, /*ready=*/false);
  Router router("/metrics", &view);
  HttpRequest r = Get("/metrics");
  EXPECT_EQ(Router::Refusal(r), 0);
  r.host_fields = 0;
  r.host = "";
  EXPECT_EQ(Router::Refusal(r), 400);
  // Refused whatever auth says, and the connection closes after it.
  const HttpReply reply = router.Route(r, AuthResult::kDenied);
  EXPECT_EQ(reply.status, 400);
  EXPECT_TRUE(reply.close);
  r.version = 10;
  EXPECT_EQ(Router::Refusal(r), 0);
  EXPECT_EQ(router.Route(r, AuthResult::kOk).status, 200);
  r.host_fields = 2;
  EXPECT_EQ(Router::Refusal(r), 400);
  r = Get("/metrics");
  r.host = "";  // allowed: a URI with an empty authority
  EXPECT_EQ(Router::Refusal(r), 0);
  for (const char* bad : {"a b", "a/b", "a\tb", "h\r\nX: y", "\x80"}) {
    r.host = bad;
    EXPECT_EQ(Router::Refusal(r), 400) << bad;
  }
  r.host = "[::1]:9180";
  EXPECT_EQ(Router::Refusal(r), 0);
}

// RFC 9112 6.1: chunked must be the final coding (else the body's end is
// unknown: 400); a coding the server does not know is 501; both close.
TEST(RouterTest, TransferCodingsOtherThanOneChunkedAreRefused) {
  FixedView view(kOneSegment, /*ready=*/false);
  Router router("/metrics", &view);
  HttpRequest r = Get("/metrics");
  auto refusal = [&](std::string_view te) {
    r.transfer_encoding = te;
    return Router::Refusal(r);
  };
  EXPECT_EQ(refusal(""), 0);
  EXPECT_EQ(refusal("chunked"), 0);
  EXPECT_EQ(refusal(" Chunked "), 0);
  EXPECT_EQ(refusal("gzip, chunked"), 501);
  EXPECT_EQ(refusal("gzip,,chunked"), 501);
  EXPECT_EQ(refusal("identity, chunked"), 501);
  EXPECT_EQ(refusal("chunked, gzip"), 400);
  EXPECT_EQ(refusal("gzip"), 400);
  EXPECT_EQ(refusal("chunked, chunked"), 400);
  EXPECT_EQ(refusal(","), 400);
  r.transfer_encoding = "gzip, chunked";
  const HttpReply reply = router.Route(r, AuthResult::kOk);
  EXPECT_EQ(reply.status, 501);
  EXPECT_TRUE(reply.close);
  EXPECT_THAT(Router::RenderHead(reply, !reply.close, 11, {}),
              ::testing::StartsWith("HTTP/1.1 501 Not Implemented\r\n"));
  r.version = 10;
  EXPECT_EQ(refusal("chunked"), 400);  // HTTP/1.0 has no transfer codings
}

// The TLS front (tls_stream.h) in-process, so that ASan and TSan see it:
// whole responses of several records whatever the client's pace.
class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string out;
    ASSERT_EQ(stemedb::testutil::RunCommand(
                  "cd '" + dir_.path() +
                      "' && openssl req -x509 -newkey ec -pkeyopt "
                      "ec_paramgen_curve:P-256 -nodes -keyout server.key "
                      "-out server.pem -days 2 -subj /CN=localhost",
                  "", &out),
              0)
        << out;
    WebConfig web;
    web.tls.emplace();
    web.tls->cert_file = dir_ / "server.pem";
    web.tls->key_file = dir_ / "server.key";
    web.tls->min_version = 13;
    ServerOptions options;
    options.listen_addresses = {"127.0.0.1:0"};
    options.io_threads = 2;
    // No test here waits for a header timeout, and the half-open and
    // stalled connections they make must outlive a slow (sanitized) run.
    options.read_header_timeout = std::chrono::minutes(10);
    Adjust(&options);
    ASSERT_EQ(MakeWebSettings(web, &options.web), std::nullopt);
    Status err = Server::Start(options, &view_, &server_);
    ASSERT_FALSE(err) << err->message;
    port_ = server_->Ports()[0];
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    ASSERT_NE(client_ctx_, nullptr);
  }
  void TearDown() override {
    for (auto& [ssl, fd] : clients_) {
      SSL_free(ssl);  // null for a plain TCP client
      ::close(fd);
    }
    SSL_CTX_free(client_ctx_);
  }

  // A fixture's changes to the server's options.
  virtual void Adjust(ServerOptions*) {}

  // A blocking TLS client (the certificate is not checked here: e2e_tls
  // does that with curl and Prometheus).
  // A TCP connection to the server and an SSL object on it, not yet in a
  // handshake; both are freed at TearDown.
  SSL* Open(int rcvbuf = 0) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    SSL* ssl = SSL_new(client_ctx_);
    SSL_set_fd(ssl, fd);
    clients_.emplace_back(ssl, fd);
    return ssl;
  }
  // A plain TCP connection to the server, closed at TearDown.
  int OpenTcp() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    clients_.emplace_back(nullptr, fd);
    return fd;
  }
  // The first flight of a TLS 1.3 client: its ClientHello record.
  std::string ClientHello() {
    SSL* ssl = SSL_new(client_ctx_);
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, in, out);
    EXPECT_EQ(SSL_connect(ssl), -1);  // waits for the server's answer
    char* data = nullptr;
    const long n = BIO_get_mem_data(out, &data);
    std::string hello(data, static_cast<size_t>(n));
    SSL_free(ssl);
    return hello;
  }
  SSL* Connect(int rcvbuf = 0) {
    SSL* ssl = Open(rcvbuf);
    EXPECT_EQ(SSL_connect(ssl), 1);
    return ssl;
  }
  static void Send(SSL* ssl, const std::string& data) {
    ASSERT_EQ(SSL_write(ssl, data.data(), static_cast<int>(data.size())),
              static_cast<int>(data.size()));
  }
  // One response's body; `pending` keeps what was read beyond it.
  static std::string ReadBody(SSL* ssl, std::string* pending) {
    auto more = [&] {
      char buf[65536];
      const int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) return false;
      pending->append(buf, static_cast<size_t>(n));
      return true;
    };
    size_t end;
    while ((end = pending->find("\r\n\r\n")) == std::string::npos) {
      if (!more()) return "<closed in the header>";
    }
    std::smatch m;
    const std::string head = pending->substr(0, end);
    if (!std::regex_search(head, m, std::regex("Content-Length: (\\d+)"))) {
      return "<no Content-Length>";
    }
    const size_t length = std::stoul(m[1]);
    while (pending->size() < end + 4 + length) {
      if (!more()) return "<closed in the body>";
    }
    std::string body = pending->substr(end + 4, length);
    pending->erase(0, end + 4 + length);
    return body;
  }

  // A new connection's handshake and scrape get the exposition.
  void ExpectScrape() {
    SSL* ssl = Connect();
    Send(ssl, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string pending;
    const std::string exposition = *view_.Exposition();
    EXPECT_EQ(ReadBody(ssl, &pending).substr(0, exposition.size()), exposition);
  }

  TempDir dir_;
  // Several TLS records (16 KiB each) of /metrics.
  FixedView view_{LargeExposition()};
  std::unique_ptr<Server> server_;
  int port_ = 0;
  SSL_CTX* client_ctx_ = nullptr;
  std::vector<std::pair<SSL*, int>> clients_;
};

const std::string kGetMetrics = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(TlsServerTest,
       PipelinedResponsesOfSeveralRecordsComeWholeToASlowReader) {
  // A 4 KiB receive buffer and 200 pipelined requests sent before a byte
  // is read: the responses (over 6 MB) cannot fit the socket buffers (4 MB
  // at most by default), so the server's sends must wait for the socket
  // and carry on.
  SSL* ssl = Connect(4096);
  std::string all;
  for (int i = 0; i < 200; ++i) all += kGetMetrics;
  Send(ssl, all);
  std::string pending;
  const std::string exposition = *view_.Exposition();
  ASSERT_GT(exposition.size(), 2 * 16384u);
  for (int i = 0; i < 200; ++i) {
    const std::string body = ReadBody(ssl, &pending);
    ASSERT_EQ(body.substr(0, exposition.size()), exposition)
        << "response " << i;
  }
  EXPECT_EQ(pending, "");
}

TEST_F(TlsServerTest, RequestSplitIntoOneRecordPerByte) {
  SSL* ssl = Connect();
  for (char c : kGetMetrics) Send(ssl, std::string(1, c));
  std::string pending;
  const std::string exposition = *view_.Exposition();
  EXPECT_EQ(ReadBody(ssl, &pending).substr(0, exposition.size()), exposition);
}

TEST_F(TlsServerTest, ClientsLeavingMidResponseCostNothing) {
  for (int i = 0; i < 20; ++i) {
    SSL* ssl = Connect(4096);
    std::string all;
    for (int j = 0; j < 20; ++j) all += kGetMetrics;
    Send(ssl, all);
    char buf[100];
    ASSERT_GT(SSL_read(ssl, buf, sizeof buf), 0);
    ::shutdown(SSL_get_fd(ssl), SHUT_RDWR);  // gone, with responses unsent
  }
  SSL* ssl = Connect();
  Send(ssl, kGetMetrics);
  std::string pending;
  const std::string exposition = *view_.Exposition();
  EXPECT_EQ(ReadBody(ssl, &pending).substr(0, exposition.size()), exposition);
  // Every connection that left is closed and freed: only this one stays.
  // (Each close wakes the wait; a minute is only ever exceeded by a leak.)
  server_->WaitForConnectionsAtMost(1, std::chrono::minutes(1));
  EXPECT_EQ(server_->Connections(), 1u);
}

// Bytes in use on the heap (every arena), as glibc counts them.
size_t HeapInUse() { return mallinfo2().uordblks; }

TEST_F(TlsServerTest, HalfOpenHandshakesTakeNoOpenSslMemory) {
  // A ClientHello short of its last bytes, on many connections: until the
  // record is whole the server holds no OpenSSL state for it (a handshake's
  // buffers are over 40 KiB each).
  const std::string hello = ClientHello();
  ASSERT_GT(hello.size(), 100u);
  const std::string part = hello.substr(0, hello.size() - 10);
  // Warm up: the first handshake builds what every later one shares.
  {
    SSL* ssl = Connect();
    Send(ssl, kGetMetrics);
    std::string pending;
    ASSERT_NE(ReadBody(ssl, &pending), "<closed in the header>");
  }
  const size_t before = HeapInUse();
  constexpr size_t kHalfOpen = 200;
  for (size_t i = 0; i < kHalfOpen; ++i) {
    const int fd = OpenTcp();
    ASSERT_EQ(::send(fd, part.data(), part.size(), 0),
              static_cast<ssize_t>(part.size()));
  }
  // Every one accepted (the warm-up's connection may still be open), then
  // a whole handshake and scrape after them on both I/O threads: by then
  // each thread has seen the half-open ones' bytes.
  ASSERT_TRUE(server_->WaitForCounts(
      [](const ConnectionCounts& c) { return c.open >= kHalfOpen; },
      std::chrono::minutes(1)))
      << "open " << server_->Counts().open;
  for (int i = 0; i < 2; ++i) ExpectScrape();
  EXPECT_EQ(server_->Counts().handshaking, 0u);
  const size_t grown = HeapInUse() > before ? HeapInUse() - before : 0;
  // A session and a socket each, no handshake buffers: under 4 KiB each.
  EXPECT_LT(grown, kHalfOpen * 4096) << "heap grew by " << grown << " bytes";
}

class TlsHandshakeBudgetTest : public TlsServerTest {
 protected:
  static constexpr int kBudget = 4;
  void Adjust(ServerOptions* options) override {
    options->max_tls_handshakes = kBudget;
  }
};

// Blocks until `want` of `fds` have been closed by the server (EOF or a
// reset), draining whatever else arrives; false after `limit` without it.
bool WaitForServerCloses(const std::vector<int>& fds, size_t want,
                         std::chrono::milliseconds limit) {
  std::vector<bool> closed(fds.size(), false);
  size_t n = 0;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (n < want) {
    std::vector<pollfd> polled;
    std::vector<size_t> which;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (closed[i]) continue;
      polled.push_back({fds[i], POLLIN, 0});
      which.push_back(i);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (::poll(polled.data(), polled.size(), static_cast<int>(left.count())) <=
        0) {
      continue;
    }
    for (size_t k = 0; k < polled.size(); ++k) {
      if (polled[k].revents == 0) continue;
      char buf[4096];
      const ssize_t r = ::recv(polled[k].fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        closed[which[k]] = true;
        ++n;
      }
    }
  }
  return true;
}

TEST_F(TlsHandshakeBudgetTest, StalledHandshakesBeyondTheBudgetMakeWay) {
  // Whole ClientHellos, then silence: each handshake waits in OpenSSL for
  // the client's Finished. Beyond the budget the oldest is closed.
  const std::string hello = ClientHello();
  constexpr int kStalled = 5 * kBudget;
  std::vector<int> fds;
  for (int i = 0; i < kStalled; ++i) {
    const int fd = OpenTcp();
    fds.push_back(fd);
    // An older connection may already have made way and been closed by the
    // server while this loop runs; that is a refused write, not a SIGPIPE.
    const ssize_t sent = ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
    ASSERT_TRUE(sent == static_cast<ssize_t>(hello.size()) ||
                (sent < 0 && (errno == EPIPE || errno == ECONNRESET)))
        << "send: " << std::strerror(errno);
  }
  // Every one beyond the budget is closed by the server: seen from the
  // client side, so none is still waiting in the accept queue (the server's
  // counts alone pass through open == budget while some are unaccepted).
  ASSERT_TRUE(
      WaitForServerCloses(fds, kStalled - kBudget, std::chrono::minutes(1)));
  ASSERT_TRUE(server_->WaitForCounts(
      [](const ConnectionCounts& c) {
        return c.open == static_cast<size_t>(kBudget) &&
               c.handshaking == static_cast<size_t>(kBudget);
      },
      std::chrono::minutes(1)))
      << "open " << server_->Counts().open << ", handshaking "
      << server_->Counts().handshaking;
  // And a real client still gets in and is served.
  ExpectScrape();
}

class BusyWritersTest : public TlsServerTest {
 protected:
  static constexpr int kLimit = 4;
  void Adjust(ServerOptions* options) override {
    options->max_connections = kLimit;
  }
};

TEST_F(BusyWritersTest, PeersThatStopReadingDoNotKeepAScrapeOut) {
  // Every connection pipelines requests and never reads: the server's
  // replies fill the socket buffers and each connection is stuck writing.
  std::string all;
  for (int i = 0; i < 400; ++i) all += kGetMetrics;
  for (int i = 0; i < kLimit; ++i) Send(Connect(4096), all);
  ASSERT_TRUE(server_->WaitForCounts(
      [](const ConnectionCounts& c) {
        return c.writing == static_cast<size_t>(kLimit);
      },
      std::chrono::minutes(1)));
  // A new scrape gets in at once: the writer longest without progress goes.
  ExpectScrape();
}

TEST_F(TlsServerTest, TlsTwelveIsRefusedWithAnAlertUnderMinVersionThirteen) {
  SSL_CTX_set_max_proto_version(client_ctx_, TLS1_2_VERSION);
  SSL* ssl = Open();
  ERR_clear_error();
  EXPECT_NE(SSL_connect(ssl), 1);
  // The server's alert arrived (not a bare reset): "tlsv1 alert protocol
  // version".
  char reason[256];
  ERR_error_string_n(ERR_peek_last_error(), reason, sizeof reason);
  EXPECT_THAT(std::string(reason), HasSubstr("protocol version")) << reason;
}

}  // namespace
}  // namespace stemedb::exporter
