#include "listen.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <cstdlib>
#include <string_view>

#include "stemedb/http/server.h"

namespace stemedb::exporter {
namespace {

namespace net = boost::asio;

std::string PortError(const std::string& what) {
  return "port \"" + what + "\" is not a number from 0 to 65535";
}

}  // namespace

namespace detail {

// The descriptors systemd passed (LISTEN_FDS, from 3), when meant for us.
Status SystemdFds(std::vector<int>* out) {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (pid == nullptr || fds == nullptr) {
    return Error::Message(
        "--web.systemd-socket: no sockets from systemd (LISTEN_PID and "
        "LISTEN_FDS are not set; is the .socket unit active?)");
  }
  if (std::to_string(::getpid()) != pid) {
    return Error::Message(std::string("--web.systemd-socket: LISTEN_PID ") +
                          pid + " is not this process");
  }
  int n = 0;
  std::string_view text(fds);
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size() || n <= 0) {
    return Error::Message(std::string("--web.systemd-socket: LISTEN_FDS \"") +
                          fds + "\" is not a positive count");
  }
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  out->clear();
  for (int fd = 3; fd < 3 + n; ++fd) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    out->push_back(fd);
  }
  return std::nullopt;
}

}  // namespace detail

Status ParseListenAddress(const std::string& address, ListenSpec* out) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return Error::Message("want host:port, [IPv6]:port or :port, got \"" +
                          address + "\"");
  }
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  int port_number = -1;
  auto [p, ec] =
      std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() ||
      port_number < 0 || port_number > 65535) {
    return Error::Message(PortError(port));
  }
  ListenSpec spec;
  spec.port = static_cast<uint16_t>(port_number);
  if (!host.empty() && host.front() == '[') {
    if (host.back() != ']') {
      return Error::Message("unbalanced [ in \"" + address + "\"");
    }
    host = host.substr(1, host.size() - 2);
    boost::system::error_code bad;
    auto a = net::ip::make_address_v6(host, bad);
    if (bad) {
      return Error::Message("\"" + host + "\" is not an IPv6 address");
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
      return Error::Message("host \"" + host +
                            "\" is not an IPv4 address (write IPv6 as [::1])");
    }
    spec.host = a.to_string();
    spec.family = 4;
  }
  *out = spec;
  return std::nullopt;
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

}  // namespace stemedb::exporter
