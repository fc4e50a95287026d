// The two TLS key-derivation functions needed to turn a finished handshake into
// record keys: TLS 1.3's HKDF-Expand-Label (RFC 8446 §7.1) and the TLS 1.0-1.2 PRF
// (RFC 2246 §5, RFC 5246 §5).
#pragma once

#include <cstddef>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "base/secret_bytes.h"

namespace ktls::crypto {

enum class HashKind : uint8_t { kSha256, kSha384, kMd5Sha1 };

size_t HashLen(HashKind hash);

// HKDF-Expand-Label(secret, label, context, length) with the "tls13 " prefix added here.
Result<SecretBytes> HkdfExpandLabel(HashKind hash, ConstBytes secret, std::string_view label,
                                    ConstBytes context, size_t length);

// PRF(secret, label, seed) of TLS 1.2 with `hash` (kMd5Sha1 gives the TLS 1.0/1.1 PRF).
Result<SecretBytes> TlsPrf(HashKind hash, ConstBytes secret, std::string_view label,
                           ConstBytes seed, size_t length);

}  // namespace ktls::crypto
