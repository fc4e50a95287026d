// Direct calls into the crypto libraries, shaped like one TLS record each (fresh
// 12-byte IV, 5-byte AAD, 16-byte tag), with none of our record or Aead layers in
// between. `ktls bench crypto` times them next to the record engine so that our
// overhead is visible as a ratio measured on the same machine in the same run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/suite.h"

namespace ktls::crypto {

enum class RawLibrary : uint8_t {
  kIpsecMb,     // one-shot calls: IMB_AES*_GCM_ENC, the job API for ChaCha20-Poly1305
  kOpenSslEvp,  // EVP_EncryptInit_ex(iv) + AAD + update + final + get tag, per record
};
std::string_view RawLibraryName(RawLibrary library);

class RawAeadBaseline {
 public:
  virtual ~RawAeadBaseline() = default;
  // Encrypts `in` into `out` (same size, not overlapping) `count` times, with the
  // nonce stepped for every record as a TLS sequence number would.
  virtual void SealRecords(ConstBytes in, MutableBytes out, size_t count) = 0;
};

// ENOTSUP when the library cannot do `cipher` on this CPU (ipsec-mb without a
// manager); EINVAL for CBC or a key of the wrong length.
Result<std::unique_ptr<RawAeadBaseline>> MakeRawAeadBaseline(RawLibrary library, CipherKind cipher,
                                                             ConstBytes key);

}  // namespace ktls::crypto
