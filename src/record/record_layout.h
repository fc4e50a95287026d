// The per-session shape of a record: which wire format, how many bytes precede and
// follow the payload. Derived once from (suite, version); pure arithmetic after that.
#pragma once

#include <cstddef>

#include "base/result.h"
#include "crypto/suite.h"

namespace ktls::record {

enum class RecordFormat : uint8_t {
  kAeadExplicitNonce,  // TLS 1.2 AES-GCM: salt || 8-byte explicit nonce (RFC 5288)
  kAeadXorNonce,       // TLS 1.2 ChaCha20-Poly1305: iv ^ seq (RFC 7905)
  kTls13,              // TLS 1.3 AEAD: iv ^ seq, inner content type (RFC 8446 §5.2)
  kCbcExplicitIv,      // TLS 1.1/1.2 CBC, MAC-then-encrypt, random per-record IV
  kCbcImplicitIv,      // TLS 1.0 CBC, IV chained from the previous record
};

struct RecordLayout {
  RecordFormat format;
  const crypto::SuiteInfo* suite;
  crypto::TlsVersion version;
  size_t header_len;       // 5 + explicit nonce or IV
  size_t max_trailer_len;  // tag (+1 for TLS 1.3) or MAC + a full padding block

  bool is_cbc() const {
    return format == RecordFormat::kCbcExplicitIv || format == RecordFormat::kCbcImplicitIv;
  }
  // Exact ciphertext record size (header included) for `payload_len` plaintext bytes.
  size_t RecordSize(size_t payload_len) const;
  // Smallest record body (after the 5-byte header) the suite can produce.
  size_t MinBodyLen() const;
};

// EINVAL when the suite does not exist in that protocol version.
Result<RecordLayout> LayoutFor(crypto::SuiteId suite, crypto::TlsVersion version);

}  // namespace ktls::record
