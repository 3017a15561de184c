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
    options.listen_address = "127.0.0.1:0";
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
  EXPECT_EQ(r.body, *exporter_->Exposition());
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
  options.listen_address = "127.0.0.1:0";
  std::string error;
  auto first = Server::Start(options, &exporter, &error);
  ASSERT_NE(first, nullptr) << error;
  options.listen_address = "127.0.0.1:" + std::to_string(first->Ports()[0]);
  auto second = Server::Start(options, &exporter, &error);
  EXPECT_EQ(second, nullptr);
  EXPECT_THAT(error, HasSubstr("--web.listen-address"));
}

TEST(ServerStartTest, CustomTelemetryPath) {
  TempDir dir;
  Exporter exporter(OneComponent(dir.path()), nullptr);
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
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

TEST(ListenAddressTest, PrometheusFormsMapToCivetweb) {
  std::string out, error;
  ASSERT_TRUE(ToCivetwebPorts(":19180", &out, &error)) << error;
  EXPECT_EQ(out, "0.0.0.0:19180");
  ASSERT_TRUE(ToCivetwebPorts("127.0.0.1:0", &out, &error)) << error;
  EXPECT_EQ(out, "127.0.0.1:0");
  ASSERT_TRUE(ToCivetwebPorts("localhost:80", &out, &error)) << error;
  EXPECT_EQ(out, "127.0.0.1:80");
  EXPECT_FALSE(ToCivetwebPorts("19180", &out, &error));
  EXPECT_FALSE(ToCivetwebPorts(":99999", &out, &error));
  EXPECT_FALSE(ToCivetwebPorts("[::1]:80", &out, &error));
  EXPECT_THAT(error, HasSubstr("IPv6"));
  EXPECT_FALSE(ToCivetwebPorts("example.com:80", &out, &error));
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
