// The AEAD interface every record format seals and opens through. Backends
// (ipsec-mb, OpenSSL) implement it; nothing above crypto/ sees a backend type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/suite.h"

namespace ktls::crypto {

inline constexpr size_t kAeadNonceLen = 12;
inline constexpr size_t kAeadTagLen = 16;

enum class Backend : uint8_t { kOpenSsl, kIpsecMb };
std::string_view BackendName(Backend backend);

class Aead {
 public:
  virtual ~Aead() = default;

  // Encrypts the concatenation of `in` into the concatenation of `out` and writes the
  // tag. Both lists must hold the same total; a segment of `out` may be the very same
  // memory as the matching segment of `in` (in place), but segments may not overlap
  // otherwise.
  virtual void Seal(std::span<const uint8_t, kAeadNonceLen> nonce, ConstBytes aad,
                    std::span<const ConstBytes> in, std::span<const MutableBytes> out,
                    std::span<uint8_t, kAeadTagLen> tag) = 0;

  // Decrypts and authenticates. Returns false, with `out` holding unspecified bytes
  // the caller must discard, when the tag does not match.
  [[nodiscard]] virtual bool Open(std::span<const uint8_t, kAeadNonceLen> nonce, ConstBytes aad,
                                  std::span<const ConstBytes> in, std::span<const MutableBytes> out,
                                  std::span<const uint8_t, kAeadTagLen> tag) = 0;

  virtual Backend backend() const = 0;

  // Single-buffer conveniences over the scatter/gather calls.
  void Seal(std::span<const uint8_t, kAeadNonceLen> nonce, ConstBytes aad, ConstBytes in,
            MutableBytes out, std::span<uint8_t, kAeadTagLen> tag) {
    Seal(nonce, aad, std::span<const ConstBytes>(&in, 1), std::span<const MutableBytes>(&out, 1),
         tag);
  }
  [[nodiscard]] bool Open(std::span<const uint8_t, kAeadNonceLen> nonce, ConstBytes aad,
                          ConstBytes in, MutableBytes out,
                          std::span<const uint8_t, kAeadTagLen> tag) {
    return Open(nonce, aad, std::span<const ConstBytes>(&in, 1),
                std::span<const MutableBytes>(&out, 1), tag);
  }
};

// Creates an AEAD for `cipher` (GCM or ChaCha20-Poly1305) with `key`. EINVAL for a
// bad key length, ENOTSUP when `backend` cannot do this cipher on this CPU.
Result<std::unique_ptr<Aead>> MakeAead(CipherKind cipher, ConstBytes key, Backend backend);

}  // namespace ktls::crypto
