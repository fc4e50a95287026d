#include "bench/file_fetch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "bench/body_pattern.h"
#include "ktls/openssl.h"

namespace ktls::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kReadBuffer = 256 * 1024;
constexpr size_t kMaxHead = 16 * 1024;

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no OpenSSL error queued";
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

// Connects a blocking socket whose sends and receives time out.
Result<int> Connect(const FetchOptions& options, std::string* error) {
  sockaddr_storage address{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET, options.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(options.port);
    length = sizeof(*v4);
  } else if (inet_pton(AF_INET6, options.address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(options.port);
    length = sizeof(*v6);
  } else {
    *error = "not a numeric address: " + options.address;
    return Status::Error(EINVAL);
  }
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return Status::Error(errno);
  }
  timeval timeout{};
  timeout.tv_sec = static_cast<time_t>(options.io_timeout.count());
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    const int connect_error = errno;
    close(fd);
    *error = "connect to " + options.address + ":" + std::to_string(options.port) + ": " +
             std::strerror(connect_error);
    return Status::Error(connect_error);
  }
  return fd;
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
      ssize_t n = read(fd_, data, size);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      *error = std::string("read: ") + std::strerror(errno);
      if (errno == EAGAIN) errno = ETIMEDOUT;
      return -1;
    }
  }
  bool WriteAll(const std::string& data, std::string* error) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = write(fd_, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        *error = std::string("write: ") + std::strerror(errno);
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
    if (SSL_read_ex(ssl_.get(), data, size, &got) == 1) return static_cast<ssize_t>(got);
    const int reason = SSL_get_error(ssl_.get(), 0);
    if (reason == SSL_ERROR_ZERO_RETURN) return 0;
    const int saved = errno;
    *error = "SSL_read: " +
             (reason == SSL_ERROR_SYSCALL ? std::string(std::strerror(saved)) : OpenSslError());
    errno =
        reason == SSL_ERROR_SYSCALL && saved != 0 ? (saved == EAGAIN ? ETIMEDOUT : saved) : EPROTO;
    return -1;
  }
  bool ReceiveOffloaded() const { return BIO_get_ktls_recv(SSL_get_rbio(ssl_.get())) == 1; }
  bool WriteAll(const std::string& data, std::string* error) override {
    size_t written = 0;
    if (SSL_write_ex(ssl_.get(), data.data(), data.size(), &written) == 1) return true;
    *error = "SSL_write: " + OpenSslError();
    errno = EPROTO;
    return false;
  }

 private:
  std::unique_ptr<SSL, SslFree> ssl_;
};

Result<std::unique_ptr<Stream>> StartTls(const FetchOptions& options, int fd, FetchResult* result,
                                         std::string* error) {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_ciphersuites(ctx.get(), options.ciphersuites.c_str()) != 1) {
    *error = "client context: " + OpenSslError();
    return Status::Error(EINVAL);
  }
  // Loopback benchmark against a throwaway certificate: no verification.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  const bool offload = options.transport == FetchTransport::kTlsKtls;
  if (offload && ktls_openssl_ctx_prepare(ctx.get()) != 0) {
    *error = std::string("ktls_openssl_ctx_prepare: ") + std::strerror(errno);
    return Status::Error(errno);
  }
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1 ||
      SSL_set_tlsext_host_name(ssl.get(), options.host.c_str()) != 1) {
    *error = "SSL_new: " + OpenSslError();
    return Status::Error(ENOMEM);
  }
  if (offload && ktls_openssl_attach(ssl.get()) != 0) {
    *error = std::string("ktls_openssl_attach: ") + std::strerror(errno);
    return Status::Error(errno);
  }
  if (SSL_connect(ssl.get()) != 1) {
    *error = "TLS handshake: " + OpenSslError();
    return Status::Error(EPROTO);
  }
  result->protocol = std::string(SSL_get_version(ssl.get())) + " " +
                     SSL_CIPHER_get_name(SSL_get_current_cipher(ssl.get()));
  // TLS 1.3 receive moves to ktls at the first record boundary after the handshake,
  // which for this client is before the response: the flag is read after the body.
  return std::unique_ptr<Stream>(std::make_unique<TlsStream>(std::move(ssl)));
}

// Parses "HTTP/1.1 200 ..." and Content-Length from a complete head.
bool ParseHead(const std::string& head, uint64_t* content_length, std::string* error) {
  if (head.compare(0, 9, "HTTP/1.1 ") != 0 && head.compare(0, 9, "HTTP/1.0 ") != 0) {
    *error = "not an HTTP response: " + head.substr(0, 40);
    return false;
  }
  if (head.compare(9, 3, "200") != 0) {
    *error = "status " + head.substr(9, head.find("\r\n") - 9);
    return false;
  }
  size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string::npos) {
    at += 2;
    if (strncasecmp(head.c_str() + at, "content-length:", 15) == 0) {
      *content_length = std::strtoull(head.c_str() + at + 15, nullptr, 10);
      return true;
    }
  }
  *error = "response without Content-Length";
  return false;
}

}  // namespace

Result<FetchResult> FetchOnce(const FetchOptions& options, std::string* error) {
  Result<int> connected = Connect(options, error);
  if (!connected.ok()) return connected.status();
  Fd fd(*connected);
  FetchResult result;
  std::unique_ptr<Stream> stream;
  if (options.transport == FetchTransport::kPlain) {
    result.protocol = "plain";
    stream = std::make_unique<PlainStream>(fd.get());
  } else {
    Result<std::unique_ptr<Stream>> tls = StartTls(options, fd.get(), &result, error);
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
  uint64_t content_length = 0;
  if (!ParseHead(head.substr(0, head_end + 2), &content_length, error)) {
    return Status::Error(EPROTO);
  }

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
