#include "openssl_bridge/bridge_test_util.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "ktls/openssl.h"
#include "socket/ktls_socket.h"
#include "socket/socket_table.h"

namespace ktls::testing {
namespace {

constexpr int kIoTimeoutSeconds = 60;

struct Credential {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
};

// A P-256 key and a self-signed certificate for "localhost", made once.
const Credential& ServerCredential() {
  static const Credential credential = [] {
    Credential made;
    made.key = EVP_EC_gen("P-256");
    made.cert = X509_new();
    X509_set_version(made.cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(made.cert), 7);
    X509_gmtime_adj(X509_getm_notBefore(made.cert), -300);
    X509_gmtime_adj(X509_getm_notAfter(made.cert), 86400);
    X509_set_pubkey(made.cert, made.key);
    X509_NAME* name = X509_get_subject_name(made.cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(made.cert, name);
    X509_sign(made.cert, made.key, EVP_sha256());
    return made;
  }();
  return credential;
}

// 1 MiB of random bytes that transfers cut their data from.
const std::vector<uint8_t>& Pattern() {
  static const std::vector<uint8_t> pattern = [] {
    std::vector<uint8_t> bytes(1 << 20);
    RAND_bytes(bytes.data(), static_cast<int>(bytes.size()));
    return bytes;
  }();
  return pattern;
}

class Hasher {
 public:
  Hasher() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Hasher() { EVP_MD_CTX_free(ctx_); }
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void Update(const uint8_t* data, size_t len) { EVP_DigestUpdate(ctx_, data, len); }
  Digest Final() {
    Digest digest = {};
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, digest.data(), &len);
    return digest;
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string OpenSslErrors() {
  std::string text;
  while (const unsigned long error = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(error, buf, sizeof(buf));
    text += buf;
    text += "; ";
  }
  return text;
}

SslCtxPtr MakeContext(const TlsConfig& config, bool server) {
  SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return nullptr;
  SSL_CTX_set_min_proto_version(ctx.get(), config.version);
  SSL_CTX_set_max_proto_version(ctx.get(), config.version);
  if (!config.cipher.empty()) {
    const int set = config.version == TLS1_3_VERSION
                        ? SSL_CTX_set_ciphersuites(ctx.get(), config.cipher.c_str())
                        : SSL_CTX_set_cipher_list(ctx.get(), config.cipher.c_str());
    if (set != 1) return nullptr;
  }
  if (server) {
    SSL_CTX_use_certificate(ctx.get(), ServerCredential().cert);
    SSL_CTX_use_PrivateKey(ctx.get(), ServerCredential().key);
    if (config.tickets >= 0)
      SSL_CTX_set_num_tickets(ctx.get(), static_cast<size_t>(config.tickets));
  } else {
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT);
  }
  if (config.read_ahead) SSL_CTX_set_read_ahead(ctx.get(), 1);
  const bool bridged = server ? config.server_bridge : config.client_bridge;
  if (bridged && config.prepare && ktls_openssl_ctx_prepare(ctx.get()) != 0) return nullptr;
  return ctx;
}

void SetTimeouts(int fd) {
  struct timeval tv = {kIoTimeoutSeconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

SslPtr MakeSsl(SSL_CTX* ctx, int fd, bool bridged) {
  SslPtr ssl(SSL_new(ctx));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) return nullptr;
  if (bridged && ktls_openssl_attach(ssl.get()) != 0) {
    ADD_FAILURE() << "ktls_openssl_attach: errno " << errno;
    return nullptr;
  }
  return ssl;
}

}  // namespace

std::unique_ptr<TlsPair> ConnectTls(const TlsConfig& config) {
  auto pair = std::make_unique<TlsPair>();
  SetTimeouts(pair->tcp.client);
  SetTimeouts(pair->tcp.server);
  pair->client_ctx = MakeContext(config, false);
  if (config.server_ctx != nullptr && SSL_CTX_up_ref(config.server_ctx) == 1) {
    pair->server_ctx.reset(config.server_ctx);
  } else {
    pair->server_ctx = MakeContext(config, true);
  }
  if (!pair->client_ctx || !pair->server_ctx) {
    ADD_FAILURE() << "SSL_CTX setup: " << OpenSslErrors();
    return pair;
  }
  SslPtr client = MakeSsl(pair->client_ctx.get(), pair->tcp.client, config.client_bridge);
  SslPtr server = MakeSsl(pair->server_ctx.get(), pair->tcp.server, config.server_bridge);
  if (!client || !server) return pair;
  if (config.resume != nullptr) SSL_set_session(client.get(), config.resume);
  int accepted = 0;
  std::thread server_thread([&] { accepted = SSL_accept(server.get()); });
  const int connected = SSL_connect(client.get());
  const std::string client_errors = OpenSslErrors();
  server_thread.join();
  if (connected != 1 || accepted != 1) {
    ADD_FAILURE() << "handshake: connect " << connected << " accept " << accepted << ": "
                  << client_errors << OpenSslErrors();
    return pair;
  }
  pair->client = std::move(client);
  pair->server = std::move(server);
  return pair;
}

TransferResult Transfer(SSL* writer, SSL* reader, size_t bytes) {
  TransferResult result;
  bool wrote = false;
  std::thread write_thread([&] {
    static constexpr size_t kChunks[] = {16384, 1, 100000, 16383, 7, 65536, 16385, 3000};
    const std::vector<uint8_t>& pattern = Pattern();
    Hasher hasher;
    size_t sent = 0;
    for (size_t i = 0; sent < bytes; ++i) {
      const size_t len = std::min(kChunks[i % std::size(kChunks)], bytes - sent);
      const uint8_t* data = pattern.data() + (i * 4099) % (pattern.size() - 100000);
      const int n = SSL_write(writer, data, static_cast<int>(len));
      if (n <= 0) return;
      hasher.Update(data, static_cast<size_t>(n));
      sent += static_cast<size_t>(n);
    }
    result.sent = hasher.Final();
    wrote = true;
  });
  static constexpr size_t kReads[] = {16384, 1, 70000, 3000, 16385};
  std::vector<uint8_t> buffer(70000);
  Hasher hasher;
  size_t received = 0;
  bool read_ok = true;
  for (size_t i = 0; received < bytes; ++i) {
    const size_t len = std::min(kReads[i % std::size(kReads)], bytes - received);
    const int n = SSL_read(reader, buffer.data(), static_cast<int>(len));
    if (n <= 0) {
      ADD_FAILURE() << "SSL_read: " << SSL_get_error(reader, n) << " errno " << errno << " "
                    << OpenSslErrors();
      read_ok = false;
      break;
    }
    hasher.Update(buffer.data(), static_cast<size_t>(n));
    received += static_cast<size_t>(n);
  }
  result.received = hasher.Final();
  if (!read_ok) shutdown(SSL_get_fd(reader), SHUT_RDWR);  // unblock the writer
  write_thread.join();
  result.ok = read_ok && wrote;
  return result;
}

bool Exchange(SSL* writer, SSL* reader, size_t len) {
  const TransferResult result = Transfer(writer, reader, len);
  return result.ok && result.sent == result.received;
}

void ExpectCloseNotify(SSL* first, SSL* second) {
  EXPECT_EQ(SSL_shutdown(first), 0);  // ours sent, the peer's not seen yet
  char buf[64];
  int n = SSL_read(second, buf, sizeof(buf));
  EXPECT_EQ(n, 0);
  EXPECT_EQ(SSL_get_error(second, n), SSL_ERROR_ZERO_RETURN);
  EXPECT_EQ(SSL_shutdown(second), 1);  // both seen
  n = SSL_read(first, buf, sizeof(buf));
  EXPECT_EQ(n, 0);
  EXPECT_EQ(SSL_get_error(first, n), SSL_ERROR_ZERO_RETURN);
  EXPECT_EQ(SSL_get_shutdown(first), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  EXPECT_EQ(SSL_get_shutdown(second), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

EngineCounters CountersOf(int fd) {
  EngineCounters counters;
  const std::shared_ptr<socket::KtlsSocket> found = socket::SocketTable::Get().Find(fd);
  if (!found) return counters;
  const socket::SocketStats& stats = found->stats();
  counters.tx_records = stats.tx_records.value();
  counters.rx_records = stats.rx_records.value();
  counters.tx_bytes = stats.tx_bytes.value();
  counters.rx_bytes = stats.rx_bytes.value();
  return counters;
}

int FdOf(SSL* ssl) {
  return SSL_get_fd(ssl);
}

Digest Sha256(const uint8_t* data, size_t len) {
  Hasher hasher;
  hasher.Update(data, len);
  return hasher.Final();
}

}  // namespace ktls::testing
