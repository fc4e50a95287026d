// TLS 1.3 traffic-key steps the bridge performs itself, because OpenSSL 3.0 never hands
// them over: record keys from an application traffic secret, and the next secret after
// a KeyUpdate (RFC 8446 §7.2, §7.3).
#pragma once

#include <cstdint>

#include "base/bytes.h"
#include "base/result.h"
#include "base/secret_bytes.h"
#include "crypto/suite.h"
#include "record/record_keys.h"

namespace ktls::openssl {

// application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length).
// The hash is the suite's: a 48-byte secret means SHA-384, a 32-byte one SHA-256.
// EINVAL for any other length.
Result<SecretBytes> NextTrafficSecret(ConstBytes secret);

// The write key and IV of `secret` for `suite`, starting at `sequence`.
Result<record::RecordKeys> Tls13KeysFromSecret(crypto::SuiteId suite, ConstBytes secret,
                                               uint64_t sequence);

}  // namespace ktls::openssl
