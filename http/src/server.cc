#include "stemedb/http/server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <list>
#include <mutex>
#include <string_view>
#include <thread>

#include "stemedb/base/log.h"
#include "stemedb/http/beast_request.h"
#include "stemedb/http/router.h"
#include "tls_stream.h"

namespace stemedb::exporter {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

class Connection;

// Every open connection, by state, oldest first within a state (the one
// longest without progress: a connection moves to the back of its state's
// list on each change, and a writer on each send that made progress). The
// victim when the limit is reached is the front of the first non-empty list
// of kVictimOrder.
class Registry {
 public:
  enum class State {
    kIdle,         // between requests, or a TLS client yet to say hello
    kHandshaking,  // a TLS handshake in OpenSSL (its buffers taken)
    kReading,      // a request's header or body is arriving
    kBusy,         // waiting for bcrypt
    kWriting,      // a reply is being sent
    kClosing,      // chosen as a victim
  };
  static constexpr size_t kStates = 6;
  // Idle connections first; a peer that has stopped reading its replies
  // (a writer with no progress) is no better than one that never sends.
  static constexpr std::array<State, 4> kVictimOrder = {
      State::kIdle, State::kHandshaking, State::kReading, State::kWriting};

  struct Entry {
    std::weak_ptr<Connection> connection;
    State state = State::kIdle;
  };
  using List = std::list<Entry>;

  // Adds a new connection (idle); returns its handle.
  List::iterator Add(std::weak_ptr<Connection> c) {
    List::iterator it;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++count_;
      it = lists_[0].insert(lists_[0].end(), Entry{std::move(c)});
    }
    changed_.notify_all();  // free unless a test waits
    return it;
  }
  void Remove(List::iterator it) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --count_;
      lists_[Index(it->state)].erase(it);
    }
    changed_.notify_all();
  }
  // Waits until `done(Counts())` holds (each change wakes it); false if
  // `timeout` passed first.
  template <class Predicate>
  bool WaitUntil(Predicate done, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, timeout,
                             [&] { return done(CountsLocked()); });
  }
  // Moves to the back of `state`'s list (the newest there), unless it is
  // in that state already and `progress` is false.
  void Set(List::iterator it, State state, bool progress = false) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (it->state == State::kClosing) return;  // chosen as a victim already
      // Idle since accept stays idle since accept: its first wait for a
      // request must not make it look newer than connections accepted after
      // it.
      if (it->state == state && !progress) return;
      auto& from = lists_[Index(it->state)];
      auto& to = lists_[Index(state)];
      to.splice(to.end(), from, it);
      it->state = state;
    }
    changed_.notify_all();
  }
  ConnectionCounts Counts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return CountsLocked();
  }
  size_t Count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }
  // When more than `limit` are open (`extra` counted as open too), picks the
  // first connection in kVictimOrder, marks it closing and returns it; null
  // when none is open beyond the limit or every one is busy.
  std::shared_ptr<Connection> Victim(size_t limit, size_t extra);
  // When more than `limit` TLS handshakes are in OpenSSL, the oldest of
  // them, marked closing; else null.
  std::shared_ptr<Connection> HandshakeVictim(size_t limit);

 private:
  static size_t Index(State s) { return static_cast<size_t>(s); }
  // Marks the first live connection of `state`'s list closing; null if none.
  std::shared_ptr<Connection> TakeOldest(State state);  // REQUIRES: mu_
  ConnectionCounts CountsLocked() const {
    ConnectionCounts c;
    c.open = count_;
    c.handshaking = lists_[Index(State::kHandshaking)].size();
    c.writing = lists_[Index(State::kWriting)].size();
    return c;
  }
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;  // a connection went or moved
  std::array<List, kStates> lists_;          // GUARDED_BY(mu_), by State
  size_t count_ = 0;                         // GUARDED_BY(mu_)
};

// What every connection shares: options, router, settings, registry.
struct Shared {
  ServerOptions options;
  Router router;
  Registry registry;
  BcryptPool* bcrypt = nullptr;  // owned by Server::Impl; outlives sessions
  mutable std::mutex settings_mu;
  std::shared_ptr<const WebSettings> settings;  // GUARDED_BY(settings_mu)

  Shared(const ServerOptions& o, const ExporterView* view)
      : options(o),
        router(o.telemetry_path, view),
        settings(std::make_shared<WebSettings>(o.web)) {}

  std::shared_ptr<const WebSettings> Settings() const {
    std::lock_guard<std::mutex> lock(settings_mu);
    return settings;
  }
};

// One client connection. Its handlers all run on its io_context, which one
// thread runs, so its members need no lock; the registry entry is the only
// state other threads touch, through Registry's mutex.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  virtual ~Connection() = default;
  virtual void Register() = 0;
  virtual void Start() = 0;
  // Closes from any thread (posted onto its io_context).
  virtual void Close() = 0;
};

std::shared_ptr<Connection> Registry::TakeOldest(State state) {
  auto& list = lists_[Index(state)];
  for (auto it = list.begin(); it != list.end(); ++it) {
    auto c = it->connection.lock();
    if (!c) continue;  // being destroyed; it leaves on its own
    auto& closing = lists_[Index(State::kClosing)];
    closing.splice(closing.end(), list, it);
    it->state = State::kClosing;
    return c;
  }
  return nullptr;
}

std::shared_ptr<Connection> Registry::Victim(size_t limit, size_t extra) {
  std::lock_guard<std::mutex> lock(mu_);
  if (count_ + extra <= limit) return nullptr;
  for (State s : kVictimOrder) {
    if (auto c = TakeOldest(s)) return c;
  }
  return nullptr;
}

std::shared_ptr<Connection> Registry::HandshakeVictim(size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  if (lists_[Index(State::kHandshaking)].size() <= limit) return nullptr;
  return TakeOldest(State::kHandshaking);
}

template <class Stream>
class Session final : public Connection {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;
  static constexpr size_t kFirstRead = 2048;

  Session(std::shared_ptr<Shared> shared, tcp::socket socket,
          std::shared_ptr<ssl::context> context)
      : shared_(std::move(shared)),
        context_(std::move(context)),
        stream_(MakeStream(std::move(socket), context_.get())),
        timer_(stream_.get_executor()) {}

  ~Session() override {
    if (registered_) shared_->registry.Remove(entry_);
  }

  // On the accepting thread, in accept order, so "oldest" in the registry
  // means oldest accepted whichever io_context the connection lands on.
  void Register() override {
    entry_ = shared_->registry.Add(weak_from_this());
    registered_ = true;
  }

  void Start() override {
    if (closed_) return;  // chosen as a victim before it started
    if constexpr (kTls) {
      Arm(shared_->options.read_header_timeout);
      stream_.async_wait_hello(
          [self = Self()](beast::error_code ec) { self->OnHello(ec); });
    } else {
      WaitRequest();
    }
  }

  void Close() override {
    net::post(stream_.get_executor(), [self = Self()] { self->Shut(); });
  }

 private:
  static Stream MakeStream(tcp::socket socket, ssl::context* context) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *context);
    } else {
      (void)context;
      return Stream(std::move(socket));
    }
  }

  std::shared_ptr<Session> Self() {
    return std::static_pointer_cast<Session>(shared_from_this());
  }

  tcp::socket& Socket() { return beast::get_lowest_layer(stream_); }

  // One timer per connection; a generation number tells a stale expiry
  // (already queued when the timer was re-armed) from a real one. (Moving
  // the timer only when a deadline comes earlier saves a timerfd_settime
  // per request, but was measured to double wrk's p99 over HTTP: 2.4 ->
  // 5.5 ms, median 60 -> 45 us. Fewer system calls let an I/O thread run
  // longer before it sleeps, while the client's threads wait for the CPU.)
  void Arm(std::chrono::milliseconds after) {
    ++generation_;
    timer_.expires_after(after);
    timer_.async_wait([self = Self(), g = generation_](beast::error_code ec) {
      if (!ec && g == self->generation_) self->Shut();
    });
  }
  void Disarm() {
    ++generation_;
    timer_.cancel();
  }

  void Shut() {
    if (closed_) return;
    closed_ = true;
    Disarm();
    beast::error_code ignored;
    Socket().shutdown(tcp::socket::shutdown_both, ignored);
    Socket().close(ignored);
  }

  // The ClientHello is whole: the handshake may take OpenSSL's buffers, as
  // long as at most max_tls_handshakes do; beyond, the oldest makes way (a
  // real client's handshake takes one round trip, a stalled one forever).
  void OnHello(beast::error_code ec) {
    if (ec || closed_) return Shut();
    shared_->registry.Set(entry_, Registry::State::kHandshaking);
    if (auto victim = shared_->registry.HandshakeVictim(static_cast<size_t>(
            std::max(1, shared_->options.max_tls_handshakes)))) {
      victim->Close();
    }
    stream_.async_handshake(
        [self = Self()](beast::error_code e) { self->OnHandshake(e); });
  }

  void OnHandshake(beast::error_code ec) {
    Disarm();
    if (ec || closed_) return Shut();
    if constexpr (kTls) {
      const auto& tls = shared_->Settings()->tls;
      const auto& sans =
          tls ? tls->config().client_allowed_sans : std::vector<std::string>{};
      if (!PeerSanAllowed(stream_.native_handle(), sans)) {
        log::Debug("client certificate SAN not allowed; closing");
        return Shut();
      }
    }
    WaitRequest();
  }

  bool Pending() {
    if (buffer_.size() > 0) return true;
    return false;
  }

  // Between requests the connection is idle: it waits for a first byte with
  // the idle timeout, then the whole header gets the header timeout.
  void WaitRequest() {
    if (closed_) return;
    shared_->registry.Set(entry_, Registry::State::kIdle);
    if (Pending()) return ReadRequest();
    Arm(shared_->options.idle_timeout);
    if constexpr (kTls) {
      // The TLS layer may hold the request already (read together with the
      // handshake), so socket readability says nothing: read what comes.
      stream_.async_read_some(buffer_.prepare(kFirstRead),
                              [self = Self()](beast::error_code ec, size_t n) {
                                if (ec || self->closed_) return self->Shut();
                                self->buffer_.commit(n);
                                self->ReadRequest();
                              });
    } else {
      // No buffer while idle: a thousand idle connections cost no memory.
      Socket().async_wait(tcp::socket::wait_read,
                          [self = Self()](beast::error_code ec) {
                            if (ec || self->closed_) return self->Shut();
                            self->ReadRequest();
                          });
    }
  }

  void ReadRequest() {
    shared_->registry.Set(entry_, Registry::State::kReading);
    Arm(shared_->options.read_header_timeout);
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(shared_->options.max_request_bytes));
    parser_->body_limit(shared_->options.max_request_bytes);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = Self()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    Disarm();
    if (closed_) return;
    const auto& http_category =
        http::make_error_code(http::error::end_of_stream).category();
    if (ec &&
        (ec.category() != http_category || ec == http::error::end_of_stream ||
         ec == http::error::partial_message)) {
      return Shut();  // the peer left or the socket failed: nothing to say
    }
    if (ec) {
      keep_alive_ = false;  // after a request we cannot parse, stop reading
      settings_ = shared_->Settings();
      if (ec == http::error::header_limit) return Reply(Router::Error(431));
      if (ec == http::error::body_limit) return Reply(Router::Error(413));
      return Reply(Router::Error(400));
    }
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    settings_ = shared_->Settings();
    // Bad framing or Host: refused before any bcrypt is spent on it.
    if (const int refusal =
            Router::Refusal(ToHttpRequest(req, &joined_fields_))) {
      return Reply(Router::Error(refusal));
    }
    const auto auth_header = req[http::field::authorization];
    if (!settings_->auth) return Respond(AuthResult::kOk);
    if (auto fast = settings_->auth->CheckFast(
            std::string_view(auth_header.data(), auth_header.size()))) {
      return Respond(*fast);
    }
    // bcrypt off the I/O threads; the answer comes back on the connection's
    // own io_context.
    auto job = [self = Self(), auth = settings_->auth,
                header = std::string(auth_header)]() mutable {
      const AuthResult r = auth->Verify(header);
      auto executor = self->stream_.get_executor();
      net::post(executor, [self = std::move(self), r] { self->Respond(r); });
    };
    // Waiting for bcrypt is no reason to be closed; Reply moves it on.
    shared_->registry.Set(entry_, Registry::State::kBusy);
    if (!shared_->bcrypt->TryPost(std::move(job))) {
      Respond(AuthResult::kBusy);
    }
  }

  void Respond(AuthResult auth) {
    if (closed_) return;
    Reply(shared_->router.Route(ToHttpRequest(parser_->get(), &joined_fields_),
                                auth));
  }

  void Reply(HttpReply reply) {
    if (reply.close) keep_alive_ = false;
    head_ =
        Router::RenderHead(reply, keep_alive_, version_, settings_->headers);
    body_ = std::move(reply.body);
    std::array<net::const_buffer, 2> buffers = {
        net::buffer(head_),
        reply.head_only ? net::const_buffer() : net::buffer(*body_)};
    if constexpr (kTls) {
      // One buffer, so head and body share records. Measured over TLS
      // (wrk, 1 I/O thread): writing them apart, as 3 records with no copy
      // of the body, gave the same requests/s and a p99 of 4-4.6 ms instead
      // of 0.6-2 ms.
      if (!reply.head_only) head_.append(*body_);
      buffers[1] = net::const_buffer();
      buffers[0] = net::buffer(head_);
    }
    Arm(std::max(shared_->options.idle_timeout,
                 std::chrono::milliseconds(std::chrono::seconds(10))));
    shared_->registry.Set(entry_, Registry::State::kWriting);
    write_total_ = net::buffer_size(buffers);
    net::async_write(
        stream_, buffers, WriteProgress{this},
        [self = Self()](beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  // async_write's completion condition, called after each send: a send
  // that moved bytes is progress, so a slow reader is not taken for a stuck
  // one (which, never reading, stays at the front of the writers).
  struct WriteProgress {
    Session* session;
    size_t operator()(const beast::error_code& ec, size_t sent) {
      if (ec) return 0;
      // A send that completes the reply needs no mark: WaitRequest moves
      // the connection on.
      if (sent > session->write_progress_ && sent < session->write_total_) {
        session->write_progress_ = sent;
        session->shared_->registry.Set(session->entry_,
                                       Registry::State::kWriting, true);
      }
      return 65536;  // net::transfer_all's step
    }
  };

  void OnWrite(beast::error_code ec) {
    Disarm();
    write_progress_ = 0;
    body_.reset();
    settings_.reset();
    if (ec || !keep_alive_) return Shut();
    WaitRequest();
  }

  std::shared_ptr<Shared> shared_;
  std::shared_ptr<ssl::context> context_;  // outlives the SSL object
  Stream stream_;
  net::steady_timer timer_;
  Registry::List::iterator entry_;
  bool registered_ = false;
  bool closed_ = false;
  uint64_t generation_ = 0;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string joined_fields_;  // ToHttpRequest's storage
  size_t write_progress_ = 0;  // bytes of the current reply sent
  size_t write_total_ = 0;     // bytes of the current reply
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::shared_ptr<const WebSettings> settings_;
  std::string head_;
  std::shared_ptr<const std::string> body_;
};

using PlainSession = Session<tcp::socket>;
using TlsSession = Session<TlsStream>;

std::string PortError(const std::string& what) {
  return "port \"" + what + "\" is not a number from 0 to 65535";
}

// The descriptors systemd passed (LISTEN_FDS, from 3), when meant for us.
std::vector<int> SystemdFds(std::string* error) {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (pid == nullptr || fds == nullptr) {
    *error =
        "--web.systemd-socket: no sockets from systemd (LISTEN_PID and "
        "LISTEN_FDS are not set; is the .socket unit active?)";
    return {};
  }
  if (std::to_string(::getpid()) != pid) {
    *error = std::string("--web.systemd-socket: LISTEN_PID ") + pid +
             " is not this process";
    return {};
  }
  int n = 0;
  std::string_view text(fds);
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size() || n <= 0) {
    *error = std::string("--web.systemd-socket: LISTEN_FDS \"") + fds +
             "\" is not a positive count";
    return {};
  }
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  std::vector<int> out;
  for (int fd = 3; fd < 3 + n; ++fd) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    out.push_back(fd);
  }
  return out;
}

}  // namespace

bool ParseListenAddress(const std::string& address, ListenSpec* out,
                        std::string* error) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    *error = "want host:port, [IPv6]:port or :port, got \"" + address + "\"";
    return false;
  }
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  int port_number = -1;
  auto [p, ec] =
      std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() ||
      port_number < 0 || port_number > 65535) {
    *error = PortError(port);
    return false;
  }
  ListenSpec spec;
  spec.port = static_cast<uint16_t>(port_number);
  if (!host.empty() && host.front() == '[') {
    if (host.back() != ']') {
      *error = "unbalanced [ in \"" + address + "\"";
      return false;
    }
    host = host.substr(1, host.size() - 2);
    boost::system::error_code bad;
    auto a = net::ip::make_address_v6(host, bad);
    if (bad) {
      *error = "\"" + host + "\" is not an IPv6 address";
      return false;
    }
    spec.host = a.to_string();
    spec.family = 6;
  } else if (host.empty()) {
    spec.family = 0;
  } else {
    if (host == "localhost") host = "127.0.0.1";
    boost::system::error_code bad;
    auto a = net::ip::make_address_v4(host, bad);
    if (bad) {
      *error =
          "host \"" + host + "\" is not an IPv4 address (write IPv6 as [::1])";
      return false;
    }
    spec.host = a.to_string();
    spec.family = 4;
  }
  *out = spec;
  return true;
}

bool HostHasIpv6() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::optional<std::string> MakeWebSettings(const WebConfig& config,
                                           WebSettings* out) {
  WebSettings s;
  if (config.tls) {
    std::string error;
    s.tls = TlsContextProvider::Create(*config.tls, &error);
    if (!s.tls) return "tls_server_config: " + error;
  }
  if (!config.basic_auth_users.empty()) {
    s.auth = std::make_shared<BasicAuth>(config.basic_auth_users);
  }
  s.headers = config.headers;
  *out = std::move(s);
  return std::nullopt;
}

struct Server::Impl {
  std::shared_ptr<Shared> shared;
  // One io_context per I/O thread, each run by exactly one thread: a
  // connection lives on one of them, so its handlers never run concurrently
  // without a strand (the strand's locking and type-erased dispatch were a
  // measurable share of the per-request cost over TLS). Acceptors live on
  // the first; accepted sockets are dealt out round-robin.
  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  size_t next_context = 0;  // only touched by contexts[0]'s thread
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<int> ports;
  std::unique_ptr<BcryptPool> bcrypt;
  std::vector<std::thread> threads;

  explicit Impl(int io_threads) {
    for (int i = 0; i < io_threads; ++i) {
      // Hint 1: the scheduler may assume a single thread runs it.
      contexts.push_back(std::make_unique<net::io_context>(1));
      guards.push_back(net::make_work_guard(*contexts.back()));
    }
  }

  ~Impl() {
    for (auto& c : contexts) c->stop();
    for (auto& t : threads) t.join();
    // Jobs waiting for bcrypt own connections: drop them while the
    // io_contexts (their sockets' home) still exist.
    bcrypt.reset();
    acceptors.clear();
    guards.clear();
    // Each io_context's destructor then destroys the handlers it still
    // holds and, with them, its connections. The first goes first: its
    // pending accepts hold sockets already bound to the others.
    for (auto& c : contexts) c.reset();
  }

  net::io_context& Home() { return *contexts[0]; }

  void Accept(tcp::acceptor* acceptor) {
    net::io_context& target = *contexts[next_context++ % contexts.size()];
    acceptor->async_accept(
        target, [this, acceptor](beast::error_code ec, tcp::socket socket) {
          OnAccept(acceptor, ec, std::move(socket));
        });
  }

  void OnAccept(tcp::acceptor* acceptor, beast::error_code ec,
                tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    const size_t limit =
        static_cast<size_t>(std::max(1, shared->options.max_connections));
    if (ec) {
      const bool out_of_descriptors =
          ec == net::error::no_descriptors || ec.value() == ENFILE ||
          ec == net::error::no_buffer_space || ec == net::error::no_memory;
      if (!out_of_descriptors) {
        // A client gone before it was accepted (ECONNABORTED) and the like.
        return Accept(acceptor);
      }
      // Out of descriptors: free the longest-idle connection and try again
      // shortly, without spinning.
      if (auto victim = shared->registry.Victim(0, 0)) victim->Close();
      log::Warn("accept failed", {{"err", ec.message()}});
      auto timer = std::make_shared<net::steady_timer>(
          Home(), std::chrono::milliseconds(100));
      timer->async_wait(
          [this, acceptor, timer](beast::error_code) { Accept(acceptor); });
      return;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    // The new connection counts: close the longest-idle one to make room.
    if (auto victim = shared->registry.Victim(limit, 1)) {
      victim->Close();
    } else if (shared->registry.Count() + 1 > limit) {
      socket.close(ignored);  // every connection is busy: refuse this one
      return Accept(acceptor);
    }
    auto settings = shared->Settings();
    auto executor = socket.get_executor();
    std::shared_ptr<Connection> c;
    if (settings->tls) {
      c = std::make_shared<TlsSession>(shared, std::move(socket),
                                       settings->tls->Current());
    } else {
      c = std::make_shared<PlainSession>(shared, std::move(socket), nullptr);
    }
    c->Register();
    // Start on the connection's own io_context, where all its handlers run.
    net::post(executor, [c = std::move(c)] { c->Start(); });
    Accept(acceptor);
  }

  // Opens, binds and listens; the error names the address.
  bool Listen(const tcp::endpoint& endpoint, bool dual_stack,
              const std::string& address, std::string* error) {
    auto acceptor = std::make_unique<tcp::acceptor>(Home());
    beast::error_code ec;
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6()) {
      acceptor->set_option(net::ip::v6_only(!dual_stack), ec);
    }
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      *error = "--web.listen-address: cannot listen on " + address + ": " +
               ec.message();
      return false;
    }
    ports.push_back(acceptor->local_endpoint().port());
    acceptors.push_back(std::move(acceptor));
    return true;
  }

  bool Adopt(int fd, std::string* error) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      *error = "--web.systemd-socket: descriptor " + std::to_string(fd) +
               " is not a socket";
      return false;
    }
    auto acceptor = std::make_unique<tcp::acceptor>(Home());
    beast::error_code ec;
    acceptor->assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd,
                     ec);
    if (ec) {
      *error = "--web.systemd-socket: descriptor " + std::to_string(fd) + ": " +
               ec.message();
      return false;
    }
    ports.push_back(acceptor->local_endpoint(ec).port());
    acceptors.push_back(std::move(acceptor));
    return true;
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() = default;

std::unique_ptr<Server> Server::Start(const ServerOptions& options,
                                      const ExporterView* view,
                                      std::string* error) {
  if (options.telemetry_path.empty() || options.telemetry_path[0] != '/' ||
      options.telemetry_path == "/" ||
      options.telemetry_path.rfind("/-/", 0) == 0) {
    *error = "--web.telemetry-path: \"" + options.telemetry_path +
             "\" must start with / and not be / or under /-/";
    return nullptr;
  }
  auto impl = std::make_unique<Impl>(std::max(1, options.io_threads));
  impl->shared = std::make_shared<Shared>(options, view);
  if (options.systemd_socket) {
    for (int fd : SystemdFds(error)) {
      if (!impl->Adopt(fd, error)) return nullptr;
    }
    if (impl->acceptors.empty()) return nullptr;
  } else {
    if (options.listen_addresses.empty()) {
      *error = "--web.listen-address: no address given";
      return nullptr;
    }
    const bool ipv6 = HostHasIpv6();
    for (const std::string& address : options.listen_addresses) {
      ListenSpec spec;
      if (!ParseListenAddress(address, &spec, error)) {
        *error = "--web.listen-address: " + *error;
        return nullptr;
      }
      tcp::endpoint endpoint;
      bool dual = false;
      if (spec.family == 0) {
        dual = ipv6;
        endpoint = tcp::endpoint(ipv6 ? tcp::v6() : tcp::v4(), spec.port);
      } else {
        endpoint = tcp::endpoint(net::ip::make_address(spec.host), spec.port);
      }
      if (!impl->Listen(endpoint, dual, address, error)) return nullptr;
    }
  }
  impl->bcrypt = std::make_unique<BcryptPool>(std::max(1, options.auth_threads),
                                              options.auth_queue);
  impl->shared->bcrypt = impl->bcrypt.get();
  for (auto& a : impl->acceptors) impl->Accept(a.get());
  for (auto& context : impl->contexts) {
    impl->threads.emplace_back([io = context.get()] {
      for (;;) {
        try {
          io->run();
          return;
        } catch (const std::exception& e) {
          // A handler threw (out of memory, say): log and keep serving.
          log::Error("HTTP handler failed", {{"err", e.what()}});
        }
      }
    });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::vector<int> Server::Ports() const { return impl_->ports; }

void Server::SetWebSettings(WebSettings settings) {
  auto fresh = std::make_shared<const WebSettings>(std::move(settings));
  std::lock_guard<std::mutex> lock(impl_->shared->settings_mu);
  impl_->shared->settings = std::move(fresh);
}

size_t Server::Connections() const { return impl_->shared->registry.Count(); }

bool Server::WaitForConnectionsAtMost(size_t n,
                                      std::chrono::milliseconds timeout) const {
  return impl_->shared->registry.WaitUntil(
      [n](const ConnectionCounts& c) { return c.open <= n; }, timeout);
}

ConnectionCounts Server::Counts() const {
  return impl_->shared->registry.Counts();
}

bool Server::WaitForCounts(std::function<bool(const ConnectionCounts&)> done,
                           std::chrono::milliseconds timeout) const {
  return impl_->shared->registry.WaitUntil(done, timeout);
}

}  // namespace stemedb::exporter
