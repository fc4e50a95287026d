// The benchmark's download client: one HTTP/1.1 GET over one connection, body read to
// the end and thrown away (or checked against the body pattern). Plain TCP for the
// plaintext ceiling; TLS through OpenSSL, with its records opened either by OpenSSL in
// user space (what curl does) or by ktls through the in-process bridge (RX offload).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"

namespace ktls::bench {

enum class FetchTransport {
  kPlain,       // HTTP over TCP
  kTlsOpenSsl,  // HTTPS, OpenSSL opens the records
  kTlsKtls,     // HTTPS, ktls opens the records (ktls_openssl_attach)
};

struct FetchOptions {
  std::string address = "127.0.0.1";  // IPv4/IPv6 literal or a name, resolved once
  uint16_t port = 0;
  std::string path = "/";
  std::string host = "localhost";  // Host header and SNI
  FetchTransport transport = FetchTransport::kTlsKtls;
  std::string ciphersuites = "TLS_AES_128_GCM_SHA256";  // TLS 1.3 only
  // Every connect, send and receive must progress within this.
  std::chrono::seconds io_timeout{60};
  // Check the body against the pattern of this seed (see body_pattern.h).
  std::optional<uint64_t> pattern_seed;
};

struct FetchResult {
  uint64_t body_bytes = 0;
  // From sending the request to the body's last byte (handshake excluded).
  double seconds = 0;
  std::string protocol;       // "TLSv1.3 TLS_AES_128_GCM_SHA256", or "plain"
  bool rx_offloaded = false;  // ktls opened the records
};

// A non-200 status, a short body, a wrong byte or a timeout fail with `error` saying
// which; the errno says what kind (EPROTO, EBADMSG, ETIMEDOUT, or the socket's). SIGPIPE
// is blocked in the calling thread while it runs (see sigpipe_block.h).
Result<FetchResult> FetchOnce(const FetchOptions& options, std::string* error);

}  // namespace ktls::bench
