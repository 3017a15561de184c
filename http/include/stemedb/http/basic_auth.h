// HTTP basic auth against bcrypt hashes (the web config's basic_auth_users),
// built so that neither timing nor load tells an attacker anything:
//
// - Constant time whatever the user: a wrong password for a real user and
//   any password for an unknown user each cost exactly one bcrypt of a cost
//   that is configured. An unknown name is hashed with a per-process random
//   salt whose cost is picked, by a keyed hash of the name, among the
//   configured users' costs (with one cost, the usual case, always that one),
//   so an unknown name looks like a real user of some configured cost. Only
//   the salt is made up front (microseconds): construction hashes nothing,
//   so a reload never waits on bcrypt and no unknown name finds a dummy
//   "not ready yet".
// - Verified credentials are remembered, and answered without bcrypt.
// - bcrypt runs on a small BcryptPool off the I/O threads, with a bounded
//   queue: a flood of wrong passwords fills that queue (further attempts are
//   answered "busy" at once) but never delays a request whose credentials
//   are already verified.
//
// Thread safety: every method of BasicAuth and BcryptPool may be called from
// any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

namespace stemedb::exporter {

enum class AuthResult {
  kOk,
  kDenied,  // no, malformed or wrong credentials
  kBusy,    // the bcrypt queue is full; try again
};

class BasicAuth {
 public:
  // `users`: user -> bcrypt hash ($2a$/$2b$/$2y$, cost checked by the web
  // config loader). Makes one dummy salt per distinct cost; hashes nothing.
  explicit BasicAuth(std::map<std::string, std::string> users);

  // The answer when it needs no bcrypt: credentials verified before, or a
  // header that is absent or malformed. nullopt: call Verify (slow).
  std::optional<AuthResult> CheckFast(std::string_view authorization) const;
  // The full check, bcrypt included (milliseconds to a second). Remembers
  // verified credentials.
  AuthResult Verify(std::string_view authorization) const;

 private:
  struct Parsed {
    std::string encoded;  // the base64 after "Basic "
    std::string user;
    std::string password;
  };
  static std::optional<Parsed> Parse(std::string_view authorization);

  const std::map<std::string, std::string> users_;
  std::vector<std::string> dummies_;  // settings, one per configured cost
  uint64_t name_key_ = 0;             // keys the unknown-name -> dummy choice
  mutable std::mutex mu_;
  mutable std::unordered_set<std::string> verified_;  // GUARDED_BY(mu_)
};

// A fixed set of threads running queued jobs, at most `queue_limit` waiting.
class BcryptPool {
 public:
  BcryptPool(int threads, size_t queue_limit);
  // Stops and joins the threads; jobs not started are destroyed unrun.
  ~BcryptPool();
  BcryptPool(const BcryptPool&) = delete;
  BcryptPool& operator=(const BcryptPool&) = delete;

  // Queues `job`; false (and `job` dropped) when the queue is full or the
  // pool is stopping.
  bool TryPost(std::function<void()> job);

 private:
  void Run();

  const size_t queue_limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                   // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace stemedb::exporter
