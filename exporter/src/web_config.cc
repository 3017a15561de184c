#include "stemedb/exporter/web_config.h"

#include <crypt.h>
#include <yaml-cpp/yaml.h>

#include <boost/beast/core/detail/base64.hpp>
#include <cstring>
#include <fstream>
#include <sstream>

namespace stemedb::exporter {
namespace {

constexpr size_t kMaxVerified = 1024;

ConfigError At(const std::string& file, const YAML::Node& node, std::string key,
               std::string message) {
  const auto mark = node.Mark();
  return {file, mark.line + 1, mark.column + 1, std::move(key),
          std::move(message)};
}

bool IsBcrypt(const std::string& hash) {
  return hash.size() == 60 &&
         (hash.rfind("$2a$", 0) == 0 || hash.rfind("$2b$", 0) == 0 ||
          hash.rfind("$2y$", 0) == 0);
}

}  // namespace

std::optional<ConfigError> LoadWebConfig(const std::string& path,
                                         WebConfig* out) {
  std::ifstream in(path);
  if (!in) {
    return ConfigError{path, 0, 0, "",
                       std::string("cannot read: ") + std::strerror(errno)};
  }
  std::stringstream text;
  text << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    return ConfigError{path, e.mark.line + 1, e.mark.column + 1, "", e.msg};
  }
  WebConfig config;
  if (root.IsNull()) {  // an empty file: no auth, like the exporter-toolkit
    *out = config;
    return std::nullopt;
  }
  if (!root.IsMap()) return At(path, root, "", "want a mapping");
  for (const auto& kv : root) {
    // as<std::string>() throws on a map or list key ("{{}}"; found by fuzz/).
    if (!kv.first.IsScalar()) return At(path, kv.first, "", "want a key name");
    const std::string key = kv.first.as<std::string>();
    if (key == "tls_server_config") {
      return At(path, kv.first, key,
                "TLS is not supported by this build (Debian's civetweb); "
                "terminate TLS in front of the exporter");
    }
    if (key != "basic_auth_users") {
      return At(path, kv.first, key,
                "unknown key (supported: basic_auth_users)");
    }
    if (kv.second.IsNull()) continue;
    if (!kv.second.IsMap()) {
      return At(path, kv.second, key, "want a mapping of user to bcrypt hash");
    }
    for (const auto& user : kv.second) {
      if (!user.first.IsScalar()) {
        return At(path, user.first, key, "want a user name");
      }
      const std::string name = user.first.as<std::string>();
      const std::string where = key + "." + name;
      if (!user.second.IsScalar() || !IsBcrypt(user.second.as<std::string>())) {
        return At(path, user.second, where,
                  "want a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters), "
                  "e.g. from htpasswd -nbB");
      }
      if (name.find(':') != std::string::npos) {
        return At(path, user.first, where, "a user name cannot hold ':'");
      }
      config.basic_auth_users[name] = user.second.as<std::string>();
    }
  }
  *out = std::move(config);
  return std::nullopt;
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users)
    : users_(std::move(users)) {}

bool BasicAuth::Check(const char* authorization) const {
  if (authorization == nullptr) return false;
  std::string_view header(authorization);
  constexpr std::string_view kBasic = "Basic ";
  if (header.substr(0, kBasic.size()) != kBasic) return false;
  std::string encoded(header.substr(kBasic.size()));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (verified_.count(encoded)) return true;
  }
  namespace b64 = boost::beast::detail::base64;
  // The decoder stops at padding; anything else left unread is not base64.
  std::string_view body(encoded);
  while (!body.empty() && body.back() == '=') body.remove_suffix(1);
  std::string decoded(b64::decoded_size(encoded.size()), '\0');
  auto [written, read] = b64::decode(decoded.data(), body.data(), body.size());
  if (read != body.size()) return false;
  decoded.resize(written);
  auto colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  auto user = users_.find(decoded.substr(0, colon));
  // An unknown user costs a bcrypt too, so response times do not tell which
  // user names exist.
  static const std::string kDummyHash =
      "$2b$10$abcdefghijklmnopqrstuuHa7yaVMV.A2Df1vYqaXs6pUoQhh1gqi";
  const std::string& hash = user == users_.end() ? kDummyHash : user->second;
  crypt_data data{};
  const char* hashed =
      crypt_r(decoded.c_str() + colon + 1, hash.c_str(), &data);
  if (user == users_.end() || hashed == nullptr || hash != hashed) {
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (verified_.size() >= kMaxVerified) verified_.clear();
  verified_.insert(std::move(encoded));
  return true;
}

}  // namespace stemedb::exporter
