#include "tls_stream.h"

#include <openssl/bio.h>

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
    : socket_(std::move(socket)) {
  // OpenSSL reads the socket itself, so it must not block.
  socket_.non_blocking(true);
  ssl_ = SSL_new(context.native_handle());
  BIO* in = BIO_new_socket(socket_.native_handle(), BIO_NOCLOSE);
  BIO* out = BIO_new(OutMethod());
  if (ssl_ == nullptr || in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    SSL_free(ssl_);
    throw std::runtime_error("cannot make a TLS session (out of memory?)");
  }
  BIO_set_data(out, &out_);
  SSL_set_bio(ssl_, in, out);  // the SSL object owns both now
  SSL_set_accept_state(ssl_);
  // One recv takes whatever has arrived, not a record header and then its
  // body. Idle connections give their buffers back.
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
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
