// Real OpenSSL clients and servers on a loopback TCP pair, with or without the
// in-process bridge on either side, and the checks the bridge tests share: transfers
// compared by SHA-256 and our engine's per-socket counters.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "testlib/tcp_pair.h"

namespace ktls::testing {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct SessionDeleter {
  void operator()(SSL_SESSION* session) const { SSL_SESSION_free(session); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionDeleter>;

struct TlsConfig {
  int version = TLS1_3_VERSION;
  std::string cipher;  // a TLS 1.2 cipher list or TLS 1.3 ciphersuites; empty: default
  bool client_bridge = true;
  bool server_bridge = true;
  bool prepare = true;            // ktls_openssl_ctx_prepare() on bridged contexts
  int tickets = -1;               // TLS 1.3 NewSessionTickets per handshake; -1: OpenSSL's default
  SSL_SESSION* resume = nullptr;  // client session to resume
  SSL_CTX* server_ctx = nullptr;  // reuse this server context (its ticket keys)
  bool read_ahead = false;        // SSL_CTX_set_read_ahead() on both contexts
};

// One connection. Members are destroyed in reverse order: the SSLs (whose BIOs detach
// from our engine) before the sockets they use.
struct TlsPair {
  TcpPair tcp;
  SslCtxPtr client_ctx;
  SslCtxPtr server_ctx;
  SslPtr client;
  SslPtr server;
};

// Builds both sides (attaching the bridge where configured) and runs the handshake.
// Failures are reported with gtest ADD_FAILURE and give null SSLs.
std::unique_ptr<TlsPair> ConnectTls(const TlsConfig& config);

using Digest = std::array<uint8_t, 32>;

struct TransferResult {
  bool ok = false;
  Digest sent = {};
  Digest received = {};
};

// Sends `bytes` of pseudo-random data from `writer` to `reader` (SSL_write and SSL_read
// on two threads, varying chunk sizes) and hashes both ends.
TransferResult Transfer(SSL* writer, SSL* reader, size_t bytes);

// Writes `len` bytes and reads them on the other side, on two threads.
bool Exchange(SSL* writer, SSL* reader, size_t len);

// Both sides send close_notify in turn; each peer's SSL_read must see it as
// SSL_ERROR_ZERO_RETURN. `first` shuts down first.
void ExpectCloseNotify(SSL* first, SSL* second);

// A snapshot of our engine's counters for a descriptor (zeros when it is not ours).
struct EngineCounters {
  uint64_t tx_records = 0;
  uint64_t rx_records = 0;
  uint64_t tx_bytes = 0;
  uint64_t rx_bytes = 0;
};
EngineCounters CountersOf(int fd);

// The SSL's descriptor (SSL_get_fd()).
int FdOf(SSL* ssl);

// SHA-256 of a buffer.
Digest Sha256(const uint8_t* data, size_t len);

}  // namespace ktls::testing
