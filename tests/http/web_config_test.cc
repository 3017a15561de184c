#include "stemedb/http/web_config.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/beast/core/detail/base64.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "stemedb/http/server.h"
#include "test_support.h"

namespace stemedb::exporter {
namespace {

using stemedb::testutil::TempDir;
using stemedb::testutil::WriteFile;
using ::testing::HasSubstr;

// Cost 4, the minimum, unless the test is about cost: most tests check our
// handling, not bcrypt's.
std::string Bcrypt(const std::string& password, int cost = 4) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr,
                             0, salt, sizeof salt),
            nullptr);
  crypt_data data{};
  return crypt_r(password.c_str(), salt, &data);
}

std::string BasicHeader(const std::string& user, const std::string& pw) {
  namespace b64 = boost::beast::detail::base64;
  std::string plain = user + ":" + pw;
  std::string out(b64::encoded_size(plain.size()), '\0');
  out.resize(b64::encode(out.data(), plain.data(), plain.size()));
  return "Basic " + out;
}

Status Load(const std::string& yaml, WebConfig* out) {
  TempDir dir;
  WriteFile(dir / "web.yml", yaml);
  auto err = LoadWebConfig(dir / "web.yml", out);
  if (err) err->file = "web.yml";
  return err;
}

TEST(WebConfigTest, LoadsBasicAuthUsers) {
  WebConfig c;
  std::string hash = Bcrypt("secret");
  ASSERT_FALSE(Load("basic_auth_users:\n  prom: " + hash + "\n", &c));
  EXPECT_EQ(c.basic_auth_users.at("prom"), hash);
}

TEST(WebConfigTest, ErrorsNamePositionAndKey) {
  WebConfig c;
  auto err = Load("basic_auth_users:\n  prom: plaintext\n", &c);
  ASSERT_TRUE(err);
  EXPECT_THAT(err->ToString(),
              HasSubstr("web.yml:2:9: basic_auth_users.prom: want a bcrypt"));
  err = Load("tls_server_config:\n  cert_file: a\n", &c);
  ASSERT_TRUE(err);
  EXPECT_THAT(err->ToString(),
              HasSubstr("web.yml:2:3: tls_server_config: missing key_file"));
  err = Load("basic_auth_user: {}\n", &c);
  ASSERT_TRUE(err);
  EXPECT_THAT(err->ToString(),
              HasSubstr("web.yml:1:1: basic_auth_user: unknown key (did you "
                        "mean \"basic_auth_users\"?)"));
}

// A real cost-4 hash with its cost digits replaced: the loader checks the
// shape and the cost, not the hash, so no test pays for a high cost.
std::string WithCost(int cost) {
  std::string hash = Bcrypt("secret");
  hash[4] = static_cast<char>('0' + cost / 10);
  hash[5] = static_cast<char>('0' + cost % 10);
  return hash;
}

// bcrypt costs are limited to what can log in within a scrape: below
// bcrypt's minimum or above kMaxBcryptCost is refused with the position, the
// user and the accepted range; the bounds themselves load.
TEST(WebConfigTest, BcryptCostOutsideTheAcceptedRangeIsRefused) {
  WebConfig c;
  for (int cost : {0, 3, kMaxBcryptCost + 1, 18, 31, 39}) {
    auto err = Load("basic_auth_users:\n  prom: " + WithCost(cost) + "\n", &c);
    ASSERT_TRUE(err) << cost;
    EXPECT_THAT(err->ToString(),
                HasSubstr("web.yml:2:9: basic_auth_users.prom: user \"prom\": "
                          "bcrypt cost " +
                          std::to_string(cost) + " is outside the accepted " +
                          std::to_string(kMinBcryptCost) + " to " +
                          std::to_string(kMaxBcryptCost)));
  }
  for (int cost : {kMinBcryptCost, kMaxBcryptCost}) {
    const std::string hash = WithCost(cost);
    ASSERT_FALSE(Load("basic_auth_users:\n  prom: " + hash + "\n", &c)) << cost;
    EXPECT_EQ(c.basic_auth_users.at("prom"), hash);
  }
}

// Building a BasicAuth hashes nothing, whatever the cost: it runs on the
// signal thread at start and at every reload. (It used to hash a dummy at
// each configured cost there; at cost 31, for days, with signals waiting.)
TEST(BasicAuthTest, ConstructionHashesNothing) {
  BasicAuth auth({{"prom", WithCost(31)}, {"grafana", WithCost(30)}});
  EXPECT_EQ(auth.CheckFast(BasicHeader("nobody", "x")), std::nullopt);
}

TEST(BasicAuthTest, AcceptsOnlyTheRightPassword) {
  BasicAuth auth({{"prom", Bcrypt("secret")}});
  const std::string good = BasicHeader("prom", "secret");
  EXPECT_EQ(auth.CheckFast(good), std::nullopt);  // not verified yet
  EXPECT_EQ(auth.Verify(good), AuthResult::kOk);
  EXPECT_EQ(auth.CheckFast(good), AuthResult::kOk);  // remembered
  EXPECT_EQ(auth.Verify(BasicHeader("prom", "Secret")), AuthResult::kDenied);
  EXPECT_EQ(auth.Verify(BasicHeader("other", "secret")), AuthResult::kDenied);
  EXPECT_EQ(auth.CheckFast(""), AuthResult::kDenied);
  EXPECT_EQ(auth.CheckFast("Bearer abc"), AuthResult::kDenied);
  EXPECT_EQ(auth.CheckFast("Basic !!!notbase64"), AuthResult::kDenied);
}

// Unpadded base64 of every tail length (1-3 chars past a group, with and
// without a colon) is parsed without writing past the buffer: Beast's
// decoded_size() rounds down (a heap overflow the HTTP fuzzer found; ASan
// in the test command catches a regression).
TEST(BasicAuthTest, UnpaddedBase64TailsAreSafe) {
  BasicAuth auth({{"prom", Bcrypt("secret")}});
  // Short ones stay in std::string's inline buffer; the long ones (over 15
  // decoded bytes) are on the heap, where ASan sees a byte past the end.
  for (const char* body :
       {"cDpx", "cDpxY", "cDpxYw", "cDpxYwE", "cHJvbWV0aGV1czphLWxvbmctZW",
        "cHJvbWV0aGV1czphLWxvbmctZW5", "cHJvbWV0aGV1czphLWxvbmctZW5vdW",
        "cHJvbWV0aGV1czphLWxvbmctZW5vdWd"}) {
    const std::string header = std::string("Basic ") + body;
    const auto fast = auth.CheckFast(header);
    if (!fast) {
      EXPECT_EQ(auth.Verify(header), AuthResult::kDenied) << body;
    } else {
      EXPECT_EQ(*fast, AuthResult::kDenied) << body;
    }
  }
}

TEST(BasicAuthTest, ServerAsksForCredentialsOnEveryPath) {
  FixedView view("");
  ServerOptions options;
  options.listen_addresses = {"127.0.0.1:0"};
  options.web.auth = std::make_shared<BasicAuth>(
      std::map<std::string, std::string>{{"prom", Bcrypt("secret")}});
  std::unique_ptr<Server> server;
  Status err = Server::Start(options, &view, &server);
  ASSERT_FALSE(err) << err->message;
  int port = server->Ports()[0];
  for (const char* path : {"/metrics", "/", "/-/healthy", "/-/ready"}) {
    EXPECT_EQ(stemedb::testutil::HttpGet(port, path).status, 401) << path;
  }
}

// CPU time this thread spent in one Verify(header), in milliseconds. bcrypt
// is pure computation on the calling thread, so its CPU time is the work an
// attacker's stopwatch sees on an idle server; unlike wall time it does not
// grow when a loaded machine preempts the test (wall-time medians failed
// this test under stress-ng).
double VerifyMs(const BasicAuth& auth, const std::string& header) {
  auto cpu_ms = [] {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
  };
  const double t0 = cpu_ms();
  EXPECT_EQ(auth.Verify(header), AuthResult::kDenied);
  return cpu_ms() - t0;
}

// A wrong password for a real user and any password for an
// unknown user cost the same, whatever the configured cost. Measured
// interleaved, so machine load hits both sides alike; the bar (a factor of
// 2) is far from the 10-25x the old fixed cost-10 dummy showed.
TEST(BasicAuthTest, UnknownUserCostsTheSameAsAWrongPassword) {
  for (int cost : {5, 10}) {
    BasicAuth auth({{"prom", Bcrypt("secret", cost)}});
    std::vector<double> known, unknown;
    for (int i = 0; i < 7; ++i) {
      known.push_back(VerifyMs(auth, BasicHeader("prom", "wrong")));
      unknown.push_back(
          VerifyMs(auth, BasicHeader("nobody" + std::to_string(i), "wrong")));
    }
    std::sort(known.begin(), known.end());
    std::sort(unknown.begin(), unknown.end());
    const double k = known[known.size() / 2], u = unknown[unknown.size() / 2];
    std::printf(
        "bcrypt cost %d: median wrong password %.2f ms, unknown "
        "user %.2f ms\n",
        cost, k, u);
    EXPECT_LT(u, 2 * k) << "cost " << cost;
    EXPECT_LT(k, 2 * u) << "cost " << cost;
  }
}

TEST(BasicAuthTest, UnknownNamesLookLikeSomeConfiguredCost) {
  // Two costs configured: an unknown name is checked at one of them, the
  // same one every time (so repeating a probe reveals nothing new).
  BasicAuth auth({{"a", Bcrypt("x", 4)}, {"b", Bcrypt("y", 9)}});
  for (const char* name : {"c", "d", "e"}) {
    const double first = VerifyMs(auth, BasicHeader(name, "p"));
    const double second = VerifyMs(auth, BasicHeader(name, "p"));
    EXPECT_LT(std::max(first, second), 8 * std::min(first, second) + 5) << name;
  }
}

int GetWithAuth(int port, const std::string& path, const std::string& auth) {
  return stemedb::testutil::HttpGet(port, path,
                                    "Authorization: " + auth + "\r\n")
      .status;
}

// 40 clients sending wrong passwords (cost-12 hashes, a
// quarter second of CPU each) keep the bcrypt queue full, yet a scrape with
// verified credentials is answered on the I/O threads at once. Were it
// queued behind them, each answer would take seconds (32 x 250 ms over 2
// workers).
TEST(BasicAuthTest, WrongPasswordFloodDoesNotStarveAVerifiedScrape) {
  FixedView view("");
  ServerOptions options;
  options.listen_addresses = {"127.0.0.1:0"};
  options.auth_threads = 2;
  options.auth_queue = 32;
  options.web.auth = std::make_shared<BasicAuth>(
      std::map<std::string, std::string>{{"prom", Bcrypt("secret", 12)}});
  std::unique_ptr<Server> server;
  Status err = Server::Start(options, &view, &server);
  ASSERT_FALSE(err) << err->message;
  const int port = server->Ports()[0];
  const std::string good = BasicHeader("prom", "secret");
  ASSERT_EQ(GetWithAuth(port, "/-/healthy", good), 200);  // now verified

  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  std::vector<std::thread> flood;
  // More flooders than the queue and the workers hold together.
  for (int i = 0; i < 40; ++i) {
    flood.emplace_back([&, i] {
      const std::string bad = BasicHeader("prom", "guess" + std::to_string(i));
      while (!stop) {
        const int status = GetWithAuth(port, "/metrics", bad);
        if (status == 429) {
          ++refused;
          // The queue was full: back off a little instead of spinning.
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    });
  }
  // Once a flooder was turned away, the queue is provably full.
  while (refused == 0) std::this_thread::yield();
  using Clock = std::chrono::steady_clock;
  double slowest = 0;
  for (int i = 0; i < 10; ++i) {
    const auto t0 = Clock::now();
    EXPECT_EQ(GetWithAuth(port, "/metrics", good), 200);
    slowest = std::max(
        slowest, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  stop = true;
  for (auto& t : flood) t.join();
  std::printf("slowest verified scrape during the flood: %.3f s\n", slowest);
  // A queued scrape would wait for the queue: about 4 s.
  EXPECT_LT(slowest, 2.0);
}

}  // namespace
}  // namespace stemedb::exporter
