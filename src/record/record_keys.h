// Everything one direction of a session needs to protect records: the suite, the
// protocol version, key material and the next sequence number.
#pragma once

#include <cstdint>
#include <optional>

#include "base/secret_bytes.h"
#include "crypto/aead.h"
#include "crypto/suite.h"

namespace ktls::record {

struct RecordKeys {
  crypto::SuiteId suite = crypto::SuiteId::kAes128Gcm;
  crypto::TlsVersion version = crypto::TlsVersion::kTls13;
  SecretBytes cipher_key;
  // AEAD TLS 1.2: GCM 4-byte salt, ChaCha20 12-byte IV. TLS 1.3: 12-byte IV.
  // CBC TLS 1.0: the first 16-byte chaining IV. CBC TLS 1.1/1.2: empty.
  SecretBytes iv;
  SecretBytes mac_key;    // CBC suites only
  uint64_t sequence = 0;  // of the next record
};

// Sequence number 2^64-1 is never used: a session that reaches it refuses to go on
// rather than wrap and reuse a nonce.
inline constexpr uint64_t kLastUsableSequence = ~uint64_t{0} - 1;

struct SealOptions {
  // TLS 1.2 AES-GCM explicit nonces count up from this value; when unset they count up
  // from a random start, as FreeBSD does. (Linux counts from the crypto_info iv.)
  std::optional<uint64_t> explicit_nonce_start;
  // Backend to use; unset means the fastest one for this CPU.
  std::optional<crypto::Backend> backend;
};

enum class LengthLimits : uint8_t {
  // FreeBSD's: ciphertext at most header + 2^14 + the suite's maximum trailer.
  kFreeBsd,
  // The RFCs': TLS 1.3 ciphertext up to 2^14 + 256, TLS 1.2 up to 2^14 + 2048.
  kRfc,
};

struct OpenOptions {
  LengthLimits limits = LengthLimits::kFreeBsd;
  std::optional<crypto::Backend> backend;
  // Linux's rules (tls_sw.c): the TLS 1.3 outer type is not checked and the additional
  // data always says 23; a TLS 1.2 record of content type 0 fails as a bad record.
  bool linux_rules = false;
};

}  // namespace ktls::record
