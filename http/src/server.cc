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

#include "listen.h"
#include "registry.h"
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
using detail::Connection;
using detail::Registry;

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
        router(o.telemetry_path, view, o.process_metrics),
        settings(std::make_shared<WebSettings>(o.web)) {}

  std::shared_ptr<const WebSettings> Settings() const {
    std::lock_guard<std::mutex> lock(settings_mu);
    return settings;
  }
};

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

}  // namespace

Status MakeWebSettings(const WebConfig& config, WebSettings* out) {
  WebSettings s;
  if (config.tls) {
    if (Status err = TlsContextProvider::Create(*config.tls, &s.tls)) {
      return Error::Message("tls_server_config: " + err->message);
    }
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
  Status Listen(const tcp::endpoint& endpoint, bool dual_stack,
                const std::string& address) {
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
      return Error::Message("--web.listen-address: cannot listen on " +
                            address + ": " + ec.message());
    }
    ports.push_back(acceptor->local_endpoint().port());
    acceptors.push_back(std::move(acceptor));
    return std::nullopt;
  }

  // Serves on a socket systemd passed.
  Status Adopt(int fd) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return Error::Message("--web.systemd-socket: descriptor " +
                            std::to_string(fd) + " is not a socket");
    }
    auto acceptor = std::make_unique<tcp::acceptor>(Home());
    beast::error_code ec;
    acceptor->assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd,
                     ec);
    if (ec) {
      return Error::Message("--web.systemd-socket: descriptor " +
                            std::to_string(fd) + ": " + ec.message());
    }
    ports.push_back(acceptor->local_endpoint(ec).port());
    acceptors.push_back(std::move(acceptor));
    return std::nullopt;
  }

  // Every --web.listen-address, or the sockets systemd passed.
  Status ListenAll(const ServerOptions& options) {
    if (options.systemd_socket) {
      std::vector<int> fds;
      if (Status err = detail::SystemdFds(&fds)) return err;
      for (int fd : fds) {
        if (Status err = Adopt(fd)) return err;
      }
      return std::nullopt;
    }
    if (options.listen_addresses.empty()) {
      return Error::Message("--web.listen-address: no address given");
    }
    const bool ipv6 = HostHasIpv6();
    for (const std::string& address : options.listen_addresses) {
      ListenSpec spec;
      if (Status err = ParseListenAddress(address, &spec)) {
        return Error::Message("--web.listen-address: " + err->message);
      }
      tcp::endpoint endpoint;
      bool dual = false;
      if (spec.family == 0) {
        dual = ipv6;
        endpoint = tcp::endpoint(ipv6 ? tcp::v6() : tcp::v4(), spec.port);
      } else {
        endpoint = tcp::endpoint(net::ip::make_address(spec.host), spec.port);
      }
      if (Status err = Listen(endpoint, dual, address)) return err;
    }
    return std::nullopt;
  }

  // Starts accepting, and one thread per io_context.
  void Run() {
    for (auto& a : acceptors) Accept(a.get());
    for (auto& context : contexts) {
      threads.emplace_back([io = context.get()] {
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
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() = default;

Status Server::Start(const ServerOptions& options, const ExporterView* view,
                     std::unique_ptr<Server>* out) {
  if (options.telemetry_path.empty() || options.telemetry_path[0] != '/' ||
      options.telemetry_path == "/" ||
      options.telemetry_path.rfind("/-/", 0) == 0) {
    return Error::Message("--web.telemetry-path: \"" + options.telemetry_path +
                          "\" must start with / and not be / or under /-/");
  }
  auto impl = std::make_unique<Impl>(std::max(1, options.io_threads));
  impl->shared = std::make_shared<Shared>(options, view);
  if (Status err = impl->ListenAll(options)) return err;
  impl->bcrypt = std::make_unique<BcryptPool>(std::max(1, options.auth_threads),
                                              options.auth_queue);
  impl->shared->bcrypt = impl->bcrypt.get();
  impl->Run();
  out->reset(new Server(std::move(impl)));
  return std::nullopt;
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
