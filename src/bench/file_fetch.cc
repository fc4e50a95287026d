#include "bench/file_fetch.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "bench/body_pattern.h"
#include "bench/openssl_error.h"
#include "bench/response_head.h"
#include "bench/sigpipe_block.h"
#include "bench/socket_address.h"
#include "bench/tcp_connect.h"
#include "ktls/openssl.h"
#include "server/tls_context.h"
#include "server/unique_fd.h"

namespace ktls::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kReadBuffer = size_t{256} * 1024;
constexpr size_t kMaxHead = size_t{16} * 1024;

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// Why an SSL call that returned `rc` failed, as an errno (a socket's error as itself, the
// socket timeouts' EAGAIN as ETIMEDOUT, anything else EPROTO) and as text in `error`.
int SslFailure(SSL* ssl, int rc, const char* call, std::string* error) {
  // Saved first: SSL_get_error and the queue may touch errno.
  const int saved = errno;
  if (SSL_get_error(ssl, rc) == SSL_ERROR_SYSCALL && saved != 0) {
    const int socket_error = saved == EAGAIN ? ETIMEDOUT : saved;
    *error = std::string(call) + ": " + std::strerror(socket_error);
    ERR_clear_error();
    return socket_error;
  }
  *error = std::string(call) + ": " + OpenSslError();
  return EPROTO;
}

// The byte stream below HTTP: a socket, or an SSL over it.
class Stream {
 public:
  virtual ~Stream() = default;
  // > 0 bytes, 0 at the end of the stream, < 0 on error (errno and error set).
  virtual ssize_t Read(uint8_t* data, size_t size, std::string* error) = 0;
  virtual bool WriteAll(const std::string& data, std::string* error) = 0;
};

class PlainStream : public Stream {
 public:
  explicit PlainStream(int fd) : fd_(fd) {}
  ssize_t Read(uint8_t* data, size_t size, std::string* error) override {
    for (;;) {
      const ssize_t n = read(fd_, data, size);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      // SO_RCVTIMEO ran out: EAGAIN.
      const int read_error = errno == EAGAIN ? ETIMEDOUT : errno;
      *error = std::string("read: ") + std::strerror(read_error);
      errno = read_error;
      return -1;
    }
  }
  bool WriteAll(const std::string& data, std::string* error) override {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = write(fd_, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int write_error = n == 0 || errno == EAGAIN ? ETIMEDOUT : errno;
        *error = std::string("write: ") + std::strerror(write_error);
        errno = write_error;
        return false;
      }
      done += static_cast<size_t>(n);
    }
    return true;
  }

 private:
  int fd_;
};

class TlsStream : public Stream {
 public:
  explicit TlsStream(std::unique_ptr<SSL, SslFree> ssl) : ssl_(std::move(ssl)) {}
  ssize_t Read(uint8_t* data, size_t size, std::string* error) override {
    size_t got = 0;
    const int rc = SSL_read_ex(ssl_.get(), data, size, &got);
    if (rc == 1) return static_cast<ssize_t>(got);
    if (SSL_get_error(ssl_.get(), rc) == SSL_ERROR_ZERO_RETURN) return 0;
    errno = SslFailure(ssl_.get(), rc, "SSL_read", error);
    return -1;
  }
  bool ReceiveOffloaded() const { return BIO_get_ktls_recv(SSL_get_rbio(ssl_.get())) == 1; }
  bool WriteAll(const std::string& data, std::string* error) override {
    size_t written = 0;
    const int rc = SSL_write_ex(ssl_.get(), data.data(), data.size(), &written);
    if (rc == 1) return true;
    errno = SslFailure(ssl_.get(), rc, "SSL_write", error);
    return false;
  }

 private:
  std::unique_ptr<SSL, SslFree> ssl_;
};

Result<std::unique_ptr<Stream>> StartTls(const FetchOptions& options, int fd, FetchResult* result,
                                         std::string* error) {
  server::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_ciphersuites(ctx.get(), options.ciphersuites.c_str()) != 1) {
    *error = "client context: " + OpenSslError();
    return Status::Error(EINVAL);
  }
  // Loopback benchmark against a throwaway certificate: no verification.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  const bool offload = options.transport == FetchTransport::kTlsKtls;
  if (offload && ktls_openssl_ctx_prepare(ctx.get()) != 0) {
    const int prepare_error = errno;
    *error = std::string("ktls_openssl_ctx_prepare: ") + std::strerror(prepare_error);
    return Status::Error(prepare_error);
  }
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1 ||
      SSL_set_tlsext_host_name(ssl.get(), options.host.c_str()) != 1) {
    *error = "SSL_new: " + OpenSslError();
    return Status::Error(ENOMEM);
  }
  if (offload && ktls_openssl_attach(ssl.get()) != 0) {
    const int attach_error = errno;
    *error = std::string("ktls_openssl_attach: ") + std::strerror(attach_error);
    return Status::Error(attach_error);
  }
  const int connected = SSL_connect(ssl.get());
  if (connected != 1) {
    return Status::Error(SslFailure(ssl.get(), connected, "TLS handshake", error));
  }
  result->protocol = std::string(SSL_get_version(ssl.get())) + " " +
                     SSL_CIPHER_get_name(SSL_get_current_cipher(ssl.get()));
  // TLS 1.3 receive moves to ktls at the first record boundary after the handshake,
  // which for this client is before the response: the flag is read after the body.
  return std::unique_ptr<Stream>(std::make_unique<TlsStream>(std::move(ssl)));
}

// The head's status and length; the body must be a 200's with a Content-Length.
Result<uint64_t> BodyLength(std::string_view head, std::string* error) {
  ResponseHead parsed;
  if (!ParseResponseHead(head, &parsed)) {
    *error = "not an HTTP/1.x response: " + std::string(head.substr(0, 40));
    return Status::Error(EPROTO);
  }
  if (parsed.status != 200) {
    *error = "status " + std::to_string(parsed.status);
    return Status::Error(EPROTO);
  }
  if (parsed.chunked || !parsed.content_length.has_value()) {
    *error = "response without Content-Length";
    return Status::Error(EPROTO);
  }
  return *parsed.content_length;
}

}  // namespace

Result<FetchResult> FetchOnce(const FetchOptions& options, std::string* error) {
  Result<SocketAddress> address = ResolveAddress(options.address, options.port, error);
  if (!address.ok()) return address.status();
  Result<server::UniqueFd> fd = ConnectTcp(*address, options.io_timeout, error);
  if (!fd.ok()) return fd.status();
  // A server that resets the connection must fail this download, not end the process.
  const SigpipeBlock no_sigpipe;
  FetchResult result;
  std::unique_ptr<Stream> stream;
  if (options.transport == FetchTransport::kPlain) {
    result.protocol = "plain";
    stream = std::make_unique<PlainStream>(fd->get());
  } else {
    Result<std::unique_ptr<Stream>> tls = StartTls(options, fd->get(), &result, error);
    if (!tls.ok()) return tls.status();
    stream = std::move(*tls);
  }

  const Clock::time_point start = Clock::now();
  const std::string request = "GET " + options.path + " HTTP/1.1\r\nHost: " + options.host +
                              "\r\nConnection: close\r\n\r\n";
  if (!stream->WriteAll(request, error)) return Status::Error(errno != 0 ? errno : EIO);

  std::vector<uint8_t> buffer(kReadBuffer);
  std::string head;
  size_t head_end = std::string::npos;
  while (head_end == std::string::npos) {
    ssize_t n = stream->Read(buffer.data(), buffer.size(), error);
    if (n <= 0) {
      if (n == 0) *error = "connection closed before the response head ended";
      return Status::Error(n == 0 ? EPROTO : errno);
    }
    head.append(reinterpret_cast<const char*>(buffer.data()), static_cast<size_t>(n));
    head_end = head.find("\r\n\r\n");
    if (head_end == std::string::npos && head.size() > kMaxHead) {
      *error = "response head over 16 KiB";
      return Status::Error(EPROTO);
    }
  }
  const Result<uint64_t> length = BodyLength(std::string_view(head).substr(0, head_end), error);
  if (!length.ok()) return length.status();
  const uint64_t content_length = length.value();

  std::optional<PatternChecker> checker;
  if (options.pattern_seed) checker.emplace(*options.pattern_seed);
  auto consume = [&](const uint8_t* data, size_t size) {
    if (checker) checker->Feed(std::span(data, size));
    result.body_bytes += size;
  };
  const std::string early = head.substr(head_end + 4);
  consume(reinterpret_cast<const uint8_t*>(early.data()), early.size());
  while (result.body_bytes < content_length) {
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(buffer.size(), content_length - result.body_bytes));
    ssize_t n = stream->Read(buffer.data(), want, error);
    if (n <= 0) {
      if (n == 0) {
        *error = "body ended after " + std::to_string(result.body_bytes) + " of " +
                 std::to_string(content_length) + " bytes";
      }
      return Status::Error(n == 0 ? EPROTO : errno);
    }
    consume(buffer.data(), static_cast<size_t>(n));
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (result.body_bytes != content_length) {
    *error = "body longer than its Content-Length";
    return Status::Error(EPROTO);
  }
  if (checker && !checker->ok()) {
    *error = "body differs from the expected bytes at offset " +
             std::to_string(checker->first_mismatch());
    return Status::Error(EBADMSG);
  }
  if (auto* tls = dynamic_cast<TlsStream*>(stream.get())) {
    result.rx_offloaded = tls->ReceiveOffloaded();
  }
  return result;
}

}  // namespace ktls::bench
