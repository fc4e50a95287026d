// The server's SSL_CTX: TLS 1.2 and 1.3 with the suites our record engine offloads
// (AES-GCM and ChaCha20-Poly1305 with ECDHE), no renegotiation, read-ahead off (the
// first request must stay in the socket for ktls), HTTP/1.1 by ALPN, and the key
// capture installed so every SSL made from it can be offloaded after its handshake.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "base/result.h"

namespace ktls::server {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

struct TlsOptions {
  std::string cert_file;  // PEM, leaf first, then the chain
  std::string key_file;   // PEM
  // TLS 1.3 NewSessionTickets sent after each full handshake. They are protected under
  // the application keys before the hand-over; the capture counts them, so the
  // transmit sequence number handed to ktls starts after them.
  int session_tickets = 2;
};

// EINVAL with `error` describing what OpenSSL refused (unreadable file, key mismatch).
Result<SslCtxPtr> MakeServerContext(const TlsOptions& options, std::string* error);

}  // namespace ktls::server
