#include "stemedb/http/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <boost/beast/core/detail/base64.hpp>
#include <cstring>
#include <set>

#include "stemedb/base/strings.h"
#include "stemedb/http/web_config.h"

namespace stemedb::exporter {
namespace {

constexpr size_t kMaxVerified = 1024;

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                 static_cast<int>(n)) != 1) {
    // Without randomness the dummy is still a valid hash of that cost;
    // only its password becomes guessable, which grants nothing.
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>(i * 131 + 7);
  }
  return out;
}

// A bcrypt setting ("$2b$<cost>$<22 characters of random salt>"): what
// crypt_r(3) needs to hash a password at that cost. Hashing against it costs
// exactly what checking a real user's hash of that cost does (bcrypt's work
// is fixed by the cost, whatever the salt or password), so an unknown user is
// as slow as a known one from the first request, and making it is a few
// microseconds: nothing is hashed until a request asks.
std::string DummySetting(int cost) {
  const std::string entropy = RandomBytes(16);
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), entropy.data(),
                       static_cast<int>(entropy.size()), salt,
                       sizeof salt) == nullptr) {
    return {};
  }
  return salt;
}

// FNV-1a over key and name: picks a dummy per unknown name, stable within
// the process, unpredictable across processes.
uint64_t KeyedHash(uint64_t key, std::string_view name) {
  uint64_t h = 1469598103934665603ULL ^ key;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

BasicAuth::BasicAuth(std::map<std::string, std::string> users)
    : users_(std::move(users)) {
  std::set<int> costs;
  for (const auto& [user, hash] : users_) costs.insert(BcryptCost(hash));
  for (int cost : costs) {
    std::string dummy = DummySetting(cost);
    if (!dummy.empty()) dummies_.push_back(std::move(dummy));
  }
  const std::string key = RandomBytes(sizeof name_key_);
  for (unsigned char c : key) name_key_ = (name_key_ << 8) | c;
}

std::optional<BasicAuth::Parsed> BasicAuth::Parse(
    std::string_view authorization) {
  // The scheme name is case-insensitive (RFC 7617).
  constexpr std::string_view kBasic = "basic ";
  if (authorization.size() < kBasic.size() ||
      !EqualsIgnoringCase(authorization.substr(0, kBasic.size()), kBasic)) {
    return std::nullopt;
  }
  Parsed p;
  p.encoded = std::string(authorization.substr(kBasic.size()));
  namespace b64 = boost::beast::detail::base64;
  // The decoder stops at padding; anything else left unread is not base64.
  std::string_view body(p.encoded);
  while (!body.empty() && body.back() == '=') body.remove_suffix(1);
  // Room for a final partial group: Beast's decoded_size() rounds down, and
  // its decoder writes up to two bytes for an unpadded tail of 2-3 chars (a
  // heap overflow the HTTP fuzzer found; fuzz/regressions/http_request/).
  std::string decoded((body.size() + 3) / 4 * 3, '\0');
  auto [written, read] = b64::decode(decoded.data(), body.data(), body.size());
  if (read != body.size()) return std::nullopt;
  decoded.resize(written);
  const auto colon = decoded.find(':');
  if (colon == std::string::npos) return std::nullopt;
  p.user = decoded.substr(0, colon);
  p.password = decoded.substr(colon + 1);
  // crypt(3) reads a C string; a NUL would silently shorten the password.
  if (p.password.find('\0') != std::string::npos) return std::nullopt;
  return p;
}

std::optional<AuthResult> BasicAuth::CheckFast(
    std::string_view authorization) const {
  std::optional<Parsed> p = Parse(authorization);
  if (!p) return AuthResult::kDenied;
  std::lock_guard<std::mutex> lock(mu_);
  if (verified_.count(p->encoded)) return AuthResult::kOk;
  return std::nullopt;
}

AuthResult BasicAuth::Verify(std::string_view authorization) const {
  std::optional<Parsed> p = Parse(authorization);
  if (!p) return AuthResult::kDenied;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (verified_.count(p->encoded)) return AuthResult::kOk;
  }
  const auto user = users_.find(p->user);
  const bool known = user != users_.end();
  if (!known && dummies_.empty()) return AuthResult::kDenied;  // no users
  const std::string& hash =
      known ? user->second
            : dummies_[KeyedHash(name_key_, p->user) % dummies_.size()];
  crypt_data data{};
  const char* hashed = crypt_r(p->password.c_str(), hash.c_str(), &data);
  const bool match = hashed != nullptr && std::strlen(hashed) == hash.size() &&
                     CRYPTO_memcmp(hashed, hash.data(), hash.size()) == 0;
  if (!known || !match) return AuthResult::kDenied;
  std::lock_guard<std::mutex> lock(mu_);
  if (verified_.size() >= kMaxVerified) verified_.clear();
  verified_.insert(std::move(p->encoded));
  return AuthResult::kOk;
}

BcryptPool::BcryptPool(int threads, size_t queue_limit)
    : queue_limit_(queue_limit) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

BcryptPool::~BcryptPool() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    dropped.swap(jobs_);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  // `dropped` is destroyed here, outside the lock: its jobs may own objects
  // whose destructors take other locks.
}

bool BcryptPool::TryPost(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || jobs_.size() >= queue_limit_) return false;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void BcryptPool::Run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace stemedb::exporter
