#include "tls_stream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <sys/ioctl.h>

#include <stdexcept>

namespace stemedb::exporter {
namespace {

namespace net = boost::asio;

// OpenSSL writes its records into the stream's std::string (the BIO's
// data); the stream sends them. A write is never refused, so OpenSSL never
// waits on output.
int OutWrite(BIO* bio, const char* data, int length) {
  static_cast<std::string*>(BIO_get_data(bio))
      ->append(data, static_cast<size_t>(length));
  return length;
}

long OutCtrl(BIO*, int command, long, void*) {
  // Flushing is the stream's business; everything else is unsupported.
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

int OutCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* OutMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "stemedb tls out");
    if (m == nullptr || BIO_meth_set_write(m, OutWrite) != 1 ||
        BIO_meth_set_ctrl(m, OutCtrl) != 1 ||
        BIO_meth_set_create(m, OutCreate) != 1) {
      throw std::runtime_error("cannot make the TLS output BIO method");
    }
    return m;
  }();
  return method;
}

}  // namespace

TlsStream::TlsStream(socket_type socket, net::ssl::context& context)
    : socket_(std::move(socket)), context_(context.native_handle()) {
  // OpenSSL reads the socket itself, so it must not block.
  socket_.non_blocking(true);
}

TlsStream::error_code TlsStream::MakeSsl() {
  SetLowWater(1);
  ssl_ = SSL_new(context_);
  BIO* in = BIO_new_socket(socket_.native_handle(), BIO_NOCLOSE);
  BIO* out = BIO_new(OutMethod());
  if (ssl_ == nullptr || in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    SSL_free(ssl_);
    ssl_ = nullptr;
    return net::error::no_memory;
  }
  BIO_set_data(out, &out_);
  SSL_set_bio(ssl_, in, out);  // the SSL object owns both now
  SSL_set_accept_state(ssl_);
  // One recv takes whatever has arrived, not a record header and then its
  // body. Idle connections give their buffers back.
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
  return {};
}

void TlsStream::SetLowWater(int bytes) {
  if (bytes == low_water_) return;
  // Linux wakes a waiter at once when the new mark is already met.
  ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVLOWAT, &bytes,
               sizeof bytes);
  low_water_ = bytes;
}

bool TlsStream::HelloArrived(error_code* ec) {
  const int fd = socket_.native_handle();
  // A TLS record: type (22 for a handshake), version (2), length (2).
  unsigned char head[5];
  const ssize_t n = ::recv(fd, head, sizeof head, MSG_PEEK);
  if (n == 0) {
    *ec = net::error::eof;
    return false;
  }
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    *ec = error_code(errno, boost::system::system_category());
    return false;
  }
  int want = sizeof head;
  if (n > 0 && head[0] != 22) return true;  // not TLS: OpenSSL says so
  if (n == sizeof head) {
    const int length = head[3] << 8 | head[4];
    // A record longer than TLS allows is refused by OpenSSL at once.
    if (length > SSL3_RT_MAX_PLAIN_LENGTH) return true;
    want += length;
  }
  int available = 0;
  if (::ioctl(fd, FIONREAD, &available) == 0 && available >= want) {
    return true;
  }
  SetLowWater(want);
  // Whatever came between the peek and the new mark is counted now; later
  // bytes wake the wait only once the mark is met.
  if (::ioctl(fd, FIONREAD, &available) == 0 && available >= want) {
    return true;
  }
  // A peer that sent part of a record and its FIN never sends the rest.
  tcp_info info{};
  socklen_t size = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) == 0 &&
      info.tcpi_state != TCP_ESTABLISHED) {
    *ec = net::error::eof;
    return false;
  }
  return false;
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

TlsStream::Flush TlsStream::FlushSome(error_code* ec) {
  while (out_sent_ < out_.size()) {
    const ssize_t n = ::send(socket_.native_handle(), out_.data() + out_sent_,
                             out_.size() - out_sent_, MSG_NOSIGNAL);
    if (n >= 0) {
      out_sent_ += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Flush::kWouldBlock;
    *ec = error_code(errno, boost::system::system_category());
    return Flush::kFailed;
  }
  // Sent: give the buffer back, so that an idle connection holds none.
  std::string().swap(out_);
  out_sent_ = 0;
  return Flush::kDone;
}

TlsStream::error_code TlsStream::ErrorAfter(int ret, bool* want_read) {
  *want_read = false;
  const int saved_errno = errno;
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      *want_read = true;
      return {};
    case SSL_ERROR_ZERO_RETURN:
      return net::error::eof;  // close_notify
    case SSL_ERROR_SYSCALL:
      if (saved_errno == 0) return net::error::eof;
      return error_code(saved_errno, boost::system::system_category());
    case SSL_ERROR_SSL: {
      const unsigned long code = ERR_get_error();
      if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        return net::ssl::error::stream_truncated;
      }
      return error_code(static_cast<int>(code), net::error::get_ssl_category());
    }
    default:
      // WANT_WRITE cannot happen (the output never refuses); anything else
      // is a state this server does not use.
      return net::error::connection_aborted;
  }
}

}  // namespace stemedb::exporter
