#include "stemedb/http/web_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <boost/filesystem.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "stemedb/config/yaml_reader.h"

namespace stemedb::exporter {
namespace {

using ::stemedb::detail::Where;
using ::stemedb::detail::YamlReader;

// Go's crypto/tls names (what exporter-toolkit accepts) to OpenSSL's.
struct CipherName {
  std::string_view go;
  std::string_view openssl;  // empty: a TLS 1.3 suite, not configurable
};
constexpr std::array<CipherName, 28> kCiphers = {{
    {"TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA"},
    {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "ECDHE-ECDSA-RC4-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_RC4_128_SHA", "ECDHE-RSA-RC4-SHA"},
    {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
     "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
     "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
     "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
     "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_AES_128_GCM_SHA256", ""},
    {"TLS_AES_256_GCM_SHA384", ""},
    {"TLS_CHACHA20_POLY1305_SHA256", ""},
    {"TLS_FALLBACK_SCSV", ""},
}};

struct Curve {
  std::string_view go;
  std::string_view openssl;
};
constexpr std::array<Curve, 4> kCurves = {{
    {"CurveP256", "P-256"},
    {"CurveP384", "P-384"},
    {"CurveP521", "P-521"},
    {"X25519", "X25519"},
}};

constexpr std::array<std::string_view, 5> kClientAuthNames = {
    "NoClientCert", "RequestClientCert", "RequireAnyClientCert",
    "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"};

// exporter-toolkit's extraHTTPHeaders: the configurable headers and, where
// the value is an enumeration, its values.
struct AllowedHeader {
  std::string_view name;
  std::vector<std::string_view> values;  // empty: any value
};
const std::vector<AllowedHeader>& AllowedHeaders() {
  static const std::vector<AllowedHeader> kAllowed = {
      {"Strict-Transport-Security", {}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-XSS-Protection", {}},
      {"Content-Security-Policy", {}},
  };
  return kAllowed;
}

// The shape of a bcrypt hash: "$2b$" (or 2a, 2y), two cost digits, "$",
// 53 characters of salt and hash. The cost's range is checked apart, to say
// so.
bool IsBcrypt(const std::string& hash) {
  return hash.size() == 60 &&
         (hash.rfind("$2a$", 0) == 0 || hash.rfind("$2b$", 0) == 0 ||
          hash.rfind("$2y$", 0) == 0) &&
         std::isdigit(static_cast<unsigned char>(hash[4])) &&
         std::isdigit(static_cast<unsigned char>(hash[5])) && hash[6] == '$';
}

std::string JoinNames(const std::string_view* begin,
                      const std::string_view* end) {
  std::string out;
  for (const auto* it = begin; it != end; ++it) {
    if (!out.empty()) out += ", ";
    out += *it;
  }
  return out;
}

class WebConfigParser {
 public:
  WebConfigParser(const std::string& source, std::string base_dir)
      : reader_(source), base_dir_(std::move(base_dir)) {}

  Status Parse(const YAML::Node& root, WebConfig* out) {
    WebConfig config;
    if (Status s =
            reader_.ReadMap(root, Where{"", root.Mark()},
                            {
                                {"tls_server_config",
                                 [&](const YAML::Node& v, const Where& w) {
                                   return ReadTls(v, w, &config);
                                 }},
                                {"http_server_config",
                                 [&](const YAML::Node& v, const Where& w) {
                                   return ReadHttp(v, w, &config);
                                 }},
                                {"basic_auth_users",
                                 [&](const YAML::Node& v, const Where& w) {
                                   return ReadUsers(v, w, &config);
                                 }},
                            })) {
      return s;
    }
    *out = std::move(config);
    return std::nullopt;
  }

 private:
  Status ReadPath(const YAML::Node& node, const Where& where,
                  std::string* out) {
    std::string text;
    if (Status s = reader_.ReadString(node, where, &text)) return s;
    boost::filesystem::path p(text);
    *out = p.is_absolute() ? text : (base_dir_ / p).lexically_normal().string();
    return std::nullopt;
  }

  Status ReadStringList(const YAML::Node& node, const Where& where,
                        std::vector<std::string>* out) {
    if (node.IsNull()) return std::nullopt;
    if (!node.IsSequence()) {
      return reader_.Error(
          where, "expected a list, got " +
                     std::string(::stemedb::detail::DescribeType(node)));
    }
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      std::string text;
      if (Status s = reader_.ReadString(
              item,
              Where{where.path + "[" + std::to_string(i) + "]", item.Mark()},
              &text)) {
        return s;
      }
      out->push_back(std::move(text));
    }
    return std::nullopt;
  }

  // A list of Go names, each mapped through `table` ({go, openssl} pairs) to
  // the OpenSSL name appended to *out (skipped when that is empty).
  template <class Table>
  Status ReadNames(const YAML::Node& node, const Where& where,
                   const Table& table, std::string_view what,
                   std::string_view hint, std::vector<std::string>* out) {
    std::vector<std::string> names;
    if (Status s = ReadStringList(node, where, &names)) return s;
    for (size_t i = 0; i < names.size(); ++i) {
      const auto* found =
          std::find_if(table.begin(), table.end(),
                       [&](const auto& entry) { return entry.go == names[i]; });
      if (found == table.end()) {
        return reader_.Error(
            Where{where.path + "[" + std::to_string(i) + "]", node[i].Mark()},
            "unknown " + std::string(what) + " \"" + names[i] + "\" (" +
                std::string(hint) + ")");
      }
      if (!found->openssl.empty()) out->emplace_back(found->openssl);
    }
    return std::nullopt;
  }

  Status ReadVersion(const YAML::Node& node, const Where& where, int* out) {
    std::string text;
    if (Status s = reader_.ReadString(node, where, &text)) return s;
    for (int v = 10; v <= 13; ++v) {
      if (text == "TLS" + std::to_string(v)) {
        *out = v;
        return std::nullopt;
      }
    }
    return reader_.Error(where, "\"" + text +
                                    "\" is not a TLS version (TLS10, TLS11, "
                                    "TLS12, TLS13)");
  }

  Status ReadTls(const YAML::Node& node, const Where& where,
                 WebConfig* config) {
    TlsServerConfig tls;
    bool client_auth_set = false;
    if (Status s = reader_.ReadMap(
            node, where,
            {
                {"cert_file",
                 [&](const YAML::Node& v, const Where& w) {
                   return ReadPath(v, w, &tls.cert_file);
                 }},
                {"key_file",
                 [&](const YAML::Node& v, const Where& w) {
                   return ReadPath(v, w, &tls.key_file);
                 }},
                {"client_ca_file",
                 [&](const YAML::Node& v, const Where& w) {
                   return ReadPath(v, w, &tls.client_ca_file);
                 }},
                {"client_auth_type",
                 [&](const YAML::Node& v, const Where& w) -> Status {
                   std::string text;
                   if (Status st = reader_.ReadString(v, w, &text)) return st;
                   for (size_t i = 0; i < kClientAuthNames.size(); ++i) {
                     if (text == kClientAuthNames[i]) {
                       tls.client_auth = static_cast<ClientAuth>(i);
                       client_auth_set = true;
                       return std::nullopt;
                     }
                   }
                   return reader_.Error(w,
                                        "\"" + text + "\" is not one of " +
                                            JoinNames(kClientAuthNames.begin(),
                                                      kClientAuthNames.end()));
                 }},
                {"min_version",
                 [&](const YAML::Node& v, const Where& w) {
                   return ReadVersion(v, w, &tls.min_version);
                 }},
                {"max_version",
                 [&](const YAML::Node& v, const Where& w) {
                   return ReadVersion(v, w, &tls.max_version);
                 }},
                {"cipher_suites",
                 [&](const YAML::Node& v, const Where& w) {
                   return ReadNames(v, w, kCiphers, "cipher suite",
                                    "use Go's names, e.g. "
                                    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                    &tls.cipher_suites);
                 }},
                {"curve_preferences",
                 [&](const YAML::Node& v, const Where& w) {
                   return ReadNames(v, w, kCurves, "curve",
                                    "CurveP256, CurveP384, CurveP521, X25519",
                                    &tls.curves);
                 }},
                {"prefer_server_cipher_suites",
                 [&](const YAML::Node& v, const Where& w) {
                   return reader_.ReadBool(v, w,
                                           &tls.prefer_server_cipher_suites);
                 }},
                {"client_allowed_sans",
                 [&](const YAML::Node& v, const Where& w) {
                   return ReadStringList(v, w, &tls.client_allowed_sans);
                 }},
            })) {
      return s;
    }
    if (node.IsNull()) return std::nullopt;  // an empty section: no TLS
    if (tls.cert_file.empty()) {
      return reader_.Error(where, "missing cert_file");
    }
    if (tls.key_file.empty()) return reader_.Error(where, "missing key_file");
    // The toolkit's default: a CA given without a mode verifies clients.
    if (!client_auth_set && !tls.client_ca_file.empty()) {
      tls.client_auth = ClientAuth::kRequireAndVerifyClientCert;
    }
    const bool verifies =
        tls.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
        tls.client_auth == ClientAuth::kRequireAndVerifyClientCert;
    // Errors relating two keys point at the key that asked for more.
    auto key_at = [&](const std::string& key) {
      const std::string path = where.path + "." + key;
      return Where{path, reader_.KeyMarkOf(path).value_or(where.mark)};
    };
    if (verifies && tls.client_ca_file.empty()) {
      return reader_.Error(
          key_at("client_auth_type"),
          "client_auth_type " +
              std::string(
                  kClientAuthNames[static_cast<size_t>(tls.client_auth)]) +
              " needs a client_ca_file");
    }
    if (!tls.client_allowed_sans.empty() &&
        tls.client_auth != ClientAuth::kRequireAndVerifyClientCert) {
      return reader_.Error(key_at("client_allowed_sans"),
                           "client_allowed_sans needs client_auth_type "
                           "RequireAndVerifyClientCert");
    }
    if (tls.min_version > tls.max_version) {
      return reader_.Error(
          Where{
              where.path + ".min_version",
              reader_.MarkOf(where.path + ".min_version").value_or(where.mark)},
          "min_version TLS" + std::to_string(tls.min_version) +
              " is above max_version TLS" + std::to_string(tls.max_version));
    }
    config->tls = std::move(tls);
    return std::nullopt;
  }

  Status ReadHttp(const YAML::Node& node, const Where& where,
                  WebConfig* config) {
    return reader_.ReadMap(
        node, where,
        {
            {"http2",
             [&](const YAML::Node& v, const Where& w) {
               bool ignored = true;  // HTTP/1.1 only; accepted for the format
               return reader_.ReadBool(v, w, &ignored);
             }},
            {"headers",
             [&](const YAML::Node& v, const Where& w) {
               return reader_.ReadEntries(
                   v, w,
                   [&](const std::string& name, const Where& key_where,
                       const YAML::Node& value,
                       const Where& value_where) -> Status {
                     const AllowedHeader* allowed = nullptr;
                     for (const AllowedHeader& h : AllowedHeaders()) {
                       if (h.name == name) allowed = &h;
                     }
                     if (allowed == nullptr) {
                       return reader_.Error(key_where,
                                            "HTTP header \"" + name +
                                                "\" can not be configured");
                     }
                     std::string text;
                     if (Status st =
                             reader_.ReadString(value, value_where, &text)) {
                       return st;
                     }
                     for (char c : text) {
                       if (c == '\r' || c == '\n' || c == '\0') {
                         return reader_.Error(
                             value_where,
                             "a header value cannot hold a line "
                             "break or NUL");
                       }
                     }
                     bool ok = allowed->values.empty();
                     for (std::string_view a : allowed->values) {
                       ok = ok || a == text;
                     }
                     if (!ok) {
                       return reader_.Error(
                           value_where,
                           "invalid value \"" + text + "\" for " + name +
                               " (expected one of: " +
                               JoinNames(allowed->values.data(),
                                         allowed->values.data() +
                                             allowed->values.size()) +
                               ")");
                     }
                     config->headers.emplace_back(name, std::move(text));
                     return std::nullopt;
                   });
             }},
        });
  }

  Status ReadUsers(const YAML::Node& node, const Where& where,
                   WebConfig* config) {
    // ReadEntries refuses complex keys and duplicate users with position.
    return reader_.ReadEntries(
        node, where,
        [&](const std::string& name, const Where& key_where,
            const YAML::Node& value, const Where& value_where) -> Status {
          if (name.empty()) {
            return reader_.Error(key_where, "a user name cannot be empty");
          }
          if (name.find(':') != std::string::npos) {
            return reader_.Error(key_where, "a user name cannot hold ':'");
          }
          std::string hash;
          if (value.IsScalar()) hash = value.Scalar();
          if (!IsBcrypt(hash)) {
            return reader_.Error(
                value_where,
                "want a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters), "
                "e.g. from htpasswd -nbB");
          }
          const int cost = BcryptCost(hash);
          if (cost < kMinBcryptCost || cost > kMaxBcryptCost) {
            return reader_.Error(
                value_where,
                "user \"" + name + "\": bcrypt cost " + std::to_string(cost) +
                    " is outside the accepted " +
                    std::to_string(kMinBcryptCost) + " to " +
                    std::to_string(kMaxBcryptCost) +
                    (cost < kMinBcryptCost
                         ? " (bcrypt's own minimum)"
                         : " (one check must fit well within a scrape "
                           "timeout; rehash with htpasswd -nbBC " +
                               std::to_string(kMaxBcryptCost) + ")"));
          }
          config->basic_auth_users[name] = std::move(hash);
          return std::nullopt;
        });
  }

  YamlReader reader_;
  boost::filesystem::path base_dir_;
};

}  // namespace

Status ParseWebConfig(const std::string& text, const std::string& source,
                      const std::string& base_dir, WebConfig* out) {
  YamlReader reporter(source);
  try {
    YAML::Mark second;
    if (::stemedb::detail::HasSecondDocument(text, &second)) {
      return reporter.Error({"", second},
                            "a second YAML document; a web config holds one");
    }
    const YAML::Node document = YAML::Load(text);
    if (!document.IsDefined() || document.IsNull()) {
      *out = WebConfig{};  // an empty file: no TLS, no auth, like the toolkit
      return std::nullopt;
    }
    WebConfigParser parser(source, base_dir);
    return parser.Parse(document, out);
  } catch (const YAML::Exception& e) {
    return reporter.Error({"", e.mark}, "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return reporter.Error({"", YAML::Mark::null_mark()}, e.what());
  }
}

Status LoadWebConfig(const std::string& path, WebConfig* out) {
  // One reader and one size cap for every config file (stemedb/config.h).
  std::string text;
  if (auto err = ReadConfigText(path, &text)) return err;
  std::string base_dir;
  try {
    base_dir = boost::filesystem::absolute(path).parent_path().string();
  } catch (const std::exception& e) {
    return ConfigError{path, 0, 0, "",
                       std::string("cannot resolve path: ") + e.what()};
  }
  return ParseWebConfig(text, path, base_dir, out);
}

}  // namespace stemedb::exporter
