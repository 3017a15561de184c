#include "stemedb/http/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>
#include <tuple>

#include "stemedb/base/log.h"
#include "stemedb/base/user_file.h"

namespace stemedb::exporter {
namespace {

namespace ssl = boost::asio::ssl;

std::string OpenSslError() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

int ProtocolVersion(int toolkit_version) {
  switch (toolkit_version) {
    case 10:
      return TLS1_VERSION;
    case 11:
      return TLS1_1_VERSION;
    case 12:
      return TLS1_2_VERSION;
    default:
      return TLS1_3_VERSION;
  }
}

// RequestClientCert and RequireAnyClientCert take any certificate, as Go
// does: the chain is not verified.
int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

std::string SanText(const GENERAL_NAME* name) {
  auto str = [](const ASN1_STRING* s) {
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
  };
  switch (name->type) {
    case GEN_DNS:
      return str(name->d.dNSName);
    case GEN_EMAIL:
      return str(name->d.rfc822Name);
    case GEN_URI:
      return str(name->d.uniformResourceIdentifier);
    case GEN_IPADD: {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char buf[INET6_ADDRSTRLEN] = {};
      const int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      if (inet_ntop(family, ASN1_STRING_get0_data(ip), buf, sizeof buf)) {
        return buf;
      }
      return {};
    }
    default:
      return {};
  }
}

// After reading PEM objects until none is left: true when what stopped the
// loop was the end of the data (and that error is cleared), false when it was
// a broken object (left queued for OpenSslError).
bool EndOfPem() {
  const unsigned long e = ERR_peek_last_error();
  if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
      ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
    return true;
  }
  return e == 0;
}

// A memory BIO over `pem` (read-only, no copy), freed with the result.
std::unique_ptr<BIO, decltype(&BIO_free)> MemoryBio(const std::string& pem) {
  return {BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free};
}

// SSL_CTX_use_certificate_chain_file from memory: the first certificate is
// the server's, the rest its chain.
bool UseCertificateChain(SSL_CTX* ctx, const std::string& pem) {
  auto bio = MemoryBio(pem);
  if (!bio) return false;
  X509* leaf = PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr) return false;
  const bool ok = SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  if (!ok || SSL_CTX_clear_chain_certs(ctx) != 1) return false;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {  // takes ownership on success
      X509_free(ca);
      return false;
    }
  }
  return EndOfPem();
}

bool UsePrivateKey(SSL_CTX* ctx, const std::string& pem) {
  auto bio = MemoryBio(pem);
  if (!bio) return false;
  // No passphrase prompt: OpenSSL's default one reads the terminal, which a
  // service has not got and a foreground run would hang on.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  EVP_PKEY* key =
      PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
  if (key == nullptr) return false;
  const bool ok = SSL_CTX_use_PrivateKey(ctx, key) == 1;
  EVP_PKEY_free(key);
  return ok;
}

// SSL_CTX_load_verify_locations and SSL_load_client_CA_file from memory:
// every certificate of the bundle is trusted and named to clients.
bool UseClientCas(SSL_CTX* ctx, const std::string& pem) {
  auto bio = MemoryBio(pem);
  if (!bio) return false;
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int count = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    const bool ok =
        X509_STORE_add_cert(store, ca) == 1 && SSL_CTX_add_client_CA(ctx, ca);
    X509_free(ca);
    if (!ok) return false;
    ++count;
  }
  if (!EndOfPem()) return false;
  if (count == 0) {
    ERR_raise_data(ERR_LIB_PEM, PEM_R_NO_START_LINE, "no certificate found");
    return false;
  }
  return true;
}

Status OpenSslFailure(const std::string& what) {
  return Error::Message(what + OpenSslError());
}

std::string JoinColon(const std::vector<std::string>& names) {
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ":") + n;
  return list;
}

// The protocol versions, TLS 1.3 suites, ciphers and curves of `config`.
Status SetProtocols(SSL_CTX* ctx, const TlsServerConfig& config) {
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  if (config.prefer_server_cipher_suites) {
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  }
  if (SSL_CTX_set_min_proto_version(ctx, ProtocolVersion(config.min_version)) !=
          1 ||
      SSL_CTX_set_max_proto_version(ctx, ProtocolVersion(config.max_version)) !=
          1) {
    return OpenSslFailure("cannot set TLS versions: ");
  }
  // TLS 1.3 suites in the order Go's crypto/tls uses on hardware with AES
  // instructions, which is what node_exporter's users get: AES-128-GCM
  // first. OpenSSL's default puts AES-256-GCM first (40 % more AES
  // rounds). The server's order wins (SSL_OP_CIPHER_SERVER_PREFERENCE).
  if (SSL_CTX_set_ciphersuites(ctx,
                               "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                               "TLS_CHACHA20_POLY1305_SHA256") != 1) {
    return OpenSslFailure("cannot set the TLS 1.3 suites: ");
  }
  if (config.min_version < 12) {
    // OpenSSL 3's default security level refuses TLS 1.0/1.1 outright.
    SSL_CTX_set_security_level(ctx, 0);
  }
  if (!config.cipher_suites.empty()) {
    const std::string list = JoinColon(config.cipher_suites);
    if (SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) {
      return OpenSslFailure("cipher_suites: OpenSSL has none of " + list +
                            ": ");
    }
  }
  if (!config.curves.empty()) {
    const std::string list = JoinColon(config.curves);
    if (SSL_CTX_set1_groups_list(ctx, list.c_str()) != 1) {
      return OpenSslFailure("curve_preferences: ");
    }
  }
  return std::nullopt;
}

// The certificate chain, key and client CAs of `config`. The files are read
// by the rule for user-named files (a FIFO or device would otherwise block
// the accept path that re-reads them) and handed to OpenSSL from memory.
Status LoadKeys(SSL_CTX* ctx, const TlsServerConfig& config) {
  std::string cert_pem, key_pem, ca_pem;
  const std::tuple<const char*, const std::string*, const FileKind*,
                   std::string*>
      files[] = {
          {"cert_file", &config.cert_file, &kCertificateFileKind, &cert_pem},
          {"key_file", &config.key_file, &kKeyFileKind, &key_pem},
          {"client_ca_file", &config.client_ca_file, &kCertificateFileKind,
           &ca_pem}};
  for (const auto& [key, path, kind, pem] : files) {
    if (path->empty()) continue;
    if (Status err = ReadUserFile(*path, *kind, pem)) {
      return Error::Message(std::string(key) + ": " + err->ToString());
    }
  }
  if (!UseCertificateChain(ctx, cert_pem)) {
    return OpenSslFailure("cert_file " + config.cert_file + ": ");
  }
  if (!UsePrivateKey(ctx, key_pem)) {
    return OpenSslFailure("key_file " + config.key_file + ": ");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return OpenSslFailure("key_file " + config.key_file +
                          " does not match cert_file " + config.cert_file +
                          ": ");
  }
  if (!config.client_ca_file.empty() && !UseClientCas(ctx, ca_pem)) {
    return OpenSslFailure("client_ca_file " + config.client_ca_file + ": ");
  }
  return std::nullopt;
}

void SetClientAuth(SSL_CTX* ctx, ClientAuth client_auth) {
  switch (client_auth) {
    case ClientAuth::kNoClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuth::kRequestClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, AcceptAnyCertificate);
      break;
    case ClientAuth::kRequireAnyClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         AcceptAnyCertificate);
      break;
    case ClientAuth::kVerifyClientCertIfGiven:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuth::kRequireAndVerifyClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         nullptr);
      break;
  }
}

}  // namespace

Status MakeServerContext(const TlsServerConfig& config,
                         std::shared_ptr<ssl::context>* out) {
  ERR_clear_error();
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  if (Status err = SetProtocols(ctx, config)) return err;
  if (Status err = LoadKeys(ctx, config)) return err;
  SetClientAuth(ctx, config.client_auth);
  *out = std::move(context);
  return std::nullopt;
}

bool PeerSanAllowed(SSL* ssl, const std::vector<std::string>& allowed) {
  if (allowed.empty()) return true;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return false;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return false;
  bool ok = false;
  for (int i = 0; !ok && i < sk_GENERAL_NAME_num(names); ++i) {
    const std::string san = SanText(sk_GENERAL_NAME_value(names, i));
    for (const auto& a : allowed) ok = ok || (!san.empty() && san == a);
  }
  GENERAL_NAMES_free(names);
  return ok;
}

bool TlsContextProvider::FileId::operator==(const FileId& o) const {
  return inode == o.inode && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
         mtime.tv_nsec == o.mtime.tv_nsec;
}

TlsContextProvider::TlsContextProvider(TlsServerConfig config)
    : config_(std::move(config)) {}

std::vector<TlsContextProvider::FileId> TlsContextProvider::Identify() const {
  std::vector<FileId> ids;
  for (const std::string* path :
       {&config_.cert_file, &config_.key_file, &config_.client_ca_file}) {
    FileId id;
    struct stat st {};
    if (!path->empty() && ::stat(path->c_str(), &st) == 0) {
      id = FileId{st.st_ino, st.st_size, st.st_mtim};
    }
    ids.push_back(id);
  }
  return ids;
}

Status TlsContextProvider::Create(TlsServerConfig config,
                                  std::shared_ptr<TlsContextProvider>* out) {
  std::shared_ptr<TlsContextProvider> p(
      new TlsContextProvider(std::move(config)));
  p->loaded_ = p->Identify();
  if (Status err = MakeServerContext(p->config_, &p->context_)) return err;
  p->checked_ = std::chrono::steady_clock::now();
  *out = std::move(p);
  return std::nullopt;
}

std::shared_ptr<ssl::context> TlsContextProvider::Current() {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now - checked_ < std::chrono::seconds(1)) return context_;
  checked_ = now;
  std::vector<FileId> ids = Identify();
  if (ids == loaded_ || ids == failed_) return context_;
  std::shared_ptr<ssl::context> fresh;
  if (Status err = MakeServerContext(config_, &fresh)) {
    failed_ = std::move(ids);
    log::Error(
        "TLS certificates changed but do not load; keeping the "
        "previous ones",
        {{"err", err->message}});
    return context_;
  }
  log::Info("TLS certificates reloaded", {{"cert_file", config_.cert_file}});
  context_ = std::move(fresh);
  loaded_ = std::move(ids);
  failed_.clear();
  return context_;
}

}  // namespace stemedb::exporter
