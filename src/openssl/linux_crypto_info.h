// Record keys as the argument of setsockopt(SOL_TLS, TLS_TX/TLS_RX): the Linux
// tls12_crypto_info_* struct for the suite, the way a TLS library fills it. The bridge
// installs the directions OpenSSL 3.0 does not hand over through this, so the socket
// layer sees exactly what OpenSSL itself would have passed.
#pragma once

#include <cstdint>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "record/record_keys.h"

namespace ktls::openssl {

// AES-GCM (TLS 1.2 and 1.3) and ChaCha20-Poly1305. TLS 1.2 AES-GCM takes
// `explicit_nonce` as the struct's iv (the first explicit nonce sent; any value on
// receive). ENOTSUP for other suites or versions.
Result<SecretBytes> MakeLinuxCryptoInfo(const record::RecordKeys& keys,
                                        uint64_t explicit_nonce = 0);

}  // namespace ktls::openssl
