#include "stemedb/exporter/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
