#include "stemedb/exporter/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "stemedb/exporter/http_handler.h"
#include "test_util.h"

namespace stemedb::exporter {
namespace {

using stemedb::testing::HttpGet;
using stemedb::testing::TempDir;
using ::testing::HasSubstr;

Config OneComponent(const std::string& dir) {
  Config c;
  c.root = dir;
  Component wal;
  wal.name = "wal";
  wal.path = "wal";
  wal.resolved_path = dir + "/wal";
  wal.segment_pattern = "*.log";
  c.components.push_back(wal);
  return c;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stemedb::testing::WriteFile(dir_ / "wal/segment-1.log", "hello");
    exporter_ = std::make_unique<Exporter>(OneComponent(dir_.path()), nullptr);
    ServerOptions options;
    options.listen_addresses = {"127.0.0.1:0"};
    std::string error;
    server_ = Server::Start(options, exporter_.get(), &error);
    ASSERT_NE(server_, nullptr) << error;
    ASSERT_EQ(server_->Ports().size(), 1u);
    port_ = server_->Ports()[0];
    ASSERT_GT(port_, 0);
  }

  TempDir dir_;
  std::unique_ptr<Exporter> exporter_;
  std::unique_ptr<Server> server_;
  int port_ = 0;
};

TEST_F(ServerTest, ReadyOnlyAfterTheFirstWalk) {
  EXPECT_EQ(HttpGet(port_, "/-/ready").status, 503);
  EXPECT_EQ(HttpGet(port_, "/-/healthy").status, 200);
  exporter_->RunOnce();
  EXPECT_EQ(HttpGet(port_, "/-/ready").status, 200);
}

TEST_F(ServerTest, MetricsServeTheLastRenderedText) {
  exporter_->RunOnce();
  auto r = HttpGet(port_, "/metrics");
  ASSERT_EQ(r.status, 200);
  // The rendered text as is, then the process metrics read at scrape time.
  const std::string exposition = *exporter_->Exposition();
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
  TempDir dir;
  Exporter exporter(OneComponent(dir.path()), nullptr);
  ServerOptions options;
  options.listen_addresses = {"127.0.0.1:0"};
  std::string error;
  auto first = Server::Start(options, &exporter, &error);
  ASSERT_NE(first, nullptr) << error;
  options.listen_addresses = {"127.0.0.1:" + std::to_string(first->Ports()[0])};
  auto second = Server::Start(options, &exporter, &error);
  EXPECT_EQ(second, nullptr);
  EXPECT_THAT(error, HasSubstr("--web.listen-address"));
}

TEST(ServerStartTest, CustomTelemetryPath) {
  TempDir dir;
  Exporter exporter(OneComponent(dir.path()), nullptr);
  ServerOptions options;
  options.listen_addresses = {"127.0.0.1:0"};
  options.telemetry_path = "/stemedb/metrics";
  std::string error;
  auto server = Server::Start(options, &exporter, &error);
  ASSERT_NE(server, nullptr) << error;
  EXPECT_EQ(HttpGet(server->Ports()[0], "/stemedb/metrics").status, 200);
  EXPECT_THAT(HttpGet(server->Ports()[0], "/").body,
              HasSubstr("href=\"/stemedb/metrics\""));
  options.telemetry_path = "metrics";
  EXPECT_EQ(Server::Start(options, &exporter, &error), nullptr);
  EXPECT_THAT(error, HasSubstr("--web.telemetry-path"));
}

TEST(ListenAddressTest, PrometheusForms) {
  ListenSpec spec;
  std::string error;
  ASSERT_TRUE(ParseListenAddress(":19180", &spec, &error)) << error;
  EXPECT_EQ(spec.family, 0);
  EXPECT_EQ(spec.port, 19180);
  ASSERT_TRUE(ParseListenAddress("127.0.0.1:0", &spec, &error)) << error;
  EXPECT_EQ(spec.host, "127.0.0.1");
  EXPECT_EQ(spec.family, 4);
  ASSERT_TRUE(ParseListenAddress("localhost:80", &spec, &error)) << error;
  EXPECT_EQ(spec.host, "127.0.0.1");
  ASSERT_TRUE(ParseListenAddress("[::1]:0", &spec, &error)) << error;
  EXPECT_EQ(spec.host, "::1");
  EXPECT_EQ(spec.family, 6);
  ASSERT_TRUE(ParseListenAddress("[::]:19180", &spec, &error)) << error;
  EXPECT_EQ(spec.host, "::");
  EXPECT_FALSE(ParseListenAddress("19180", &spec, &error));
  EXPECT_FALSE(ParseListenAddress(":99999", &spec, &error));
  EXPECT_THAT(error, HasSubstr("99999"));
  EXPECT_FALSE(ParseListenAddress("[::1:80", &spec, &error));
  EXPECT_FALSE(ParseListenAddress("[nope]:80", &spec, &error));
  EXPECT_FALSE(ParseListenAddress("example.com:80", &spec, &error));
}

}  // namespace
}  // namespace stemedb::exporter

namespace stemedb::exporter {
namespace {

TEST_F(ServerTest, TelemetryPathMatchesExactly) {
  exporter_->RunOnce();
  EXPECT_EQ(stemedb::testing::HttpGet(port_, "/metrics").status, 200);
  EXPECT_EQ(stemedb::testing::HttpGet(port_, "/metricsfoo").status, 404);
  EXPECT_EQ(stemedb::testing::HttpGet(port_, "/metrics/x").status, 404);
}

}  // namespace
}  // namespace stemedb::exporter

namespace stemedb::exporter {
namespace {

// The router is a pure function of request, auth decision and exporter
// state; these are the cases the server and the fuzz harness rely on.
TEST(RouterTest, MethodsPathsAndAuth) {
  Exporter exporter(Config{}, nullptr);
  Router router("/metrics", &exporter);
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
  Exporter exporter(Config{}, nullptr);
  Router router("/metrics", &exporter);
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

}  // namespace
}  // namespace stemedb::exporter
