// The two primitives of TLS's MAC-then-encrypt CBC suites, kept apart so the record
// layer composes them exactly as RFC 5246 §6.2.3.2 orders them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/aead.h"
#include "crypto/suite.h"

namespace ktls::crypto {

inline constexpr size_t kCbcBlockLen = 16;
inline constexpr size_t kMaxMacLen = 48;

class CbcHmac {
 public:
  virtual ~CbcHmac() = default;

  // HMAC over the concatenation of `in`; writes mac_len() bytes to `out`.
  virtual void Mac(std::span<const ConstBytes> in, MutableBytes out) = 0;

  // AES-CBC without padding over whole blocks; `in` and `out` may be the same memory.
  // The last ciphertext block of an encryption is the chaining IV of TLS 1.0.
  virtual void Encrypt(std::span<const uint8_t, kCbcBlockLen> iv, ConstBytes in,
                       MutableBytes out) = 0;
  virtual void Decrypt(std::span<const uint8_t, kCbcBlockLen> iv, ConstBytes in,
                       MutableBytes out) = 0;

  virtual size_t mac_len() const = 0;
  virtual Backend backend() const = 0;
};

Result<std::unique_ptr<CbcHmac>> MakeCbcHmac(MacKind mac, ConstBytes cipher_key,
                                             ConstBytes mac_key);

}  // namespace ktls::crypto
