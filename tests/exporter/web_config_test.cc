#include "stemedb/exporter/web_config.h"

#include <crypt.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/beast/core/detail/base64.hpp>

#include "stemedb/exporter/server.h"
#include "test_util.h"

namespace stemedb::exporter {
namespace {

using stemedb::testing::TempDir;
using stemedb::testing::WriteFile;
using ::testing::HasSubstr;

std::string Bcrypt(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  // Cost 4, the minimum: the tests check our handling, not bcrypt's cost.
  EXPECT_NE(crypt_gensalt_rn("$2b$", 4, nullptr, 0, salt, sizeof salt),
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

std::optional<ConfigError> Load(const std::string& yaml, WebConfig* out) {
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

TEST(BasicAuthTest, ServerAsksForCredentialsOnEveryPath) {
  TempDir dir;
  Config config;
  Exporter exporter(config, nullptr);
  ServerOptions options;
  options.listen_addresses = {"127.0.0.1:0"};
  options.web.auth = std::make_shared<BasicAuth>(
      std::map<std::string, std::string>{{"prom", Bcrypt("secret")}});
  std::string error;
  auto server = Server::Start(options, &exporter, &error);
  ASSERT_NE(server, nullptr) << error;
  int port = server->Ports()[0];
  for (const char* path : {"/metrics", "/", "/-/healthy", "/-/ready"}) {
    EXPECT_EQ(stemedb::testing::HttpGet(port, path).status, 401) << path;
  }
}

}  // namespace
}  // namespace stemedb::exporter
