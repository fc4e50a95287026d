// Per-record nonces and additional data, as pure functions of session state.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#include "base/bytes.h"
#include "crypto/aead.h"

namespace ktls::record {

using Nonce = std::array<uint8_t, crypto::kAeadNonceLen>;

// RFC 8446 §5.3 / RFC 7905 §2: the 64-bit sequence number, big-endian and left-padded
// to 12 bytes, XORed into the static IV.
inline Nonce XorNonce(ConstBytes static_iv, uint64_t sequence) {
  Nonce nonce;
  std::memcpy(nonce.data(), static_iv.data(), 4);
  // One 64-bit XOR instead of eight byte stores: the backend then reads the nonce with
  // wide loads, which byte-wise stores would stall.
  uint64_t low;
  std::memcpy(&low, static_iv.data() + 4, sizeof(low));
  low ^= std::endian::native == std::endian::little ? __builtin_bswap64(sequence) : sequence;
  std::memcpy(nonce.data() + 4, &low, sizeof(low));
  return nonce;
}

// RFC 5288 §3: 4-byte implicit salt || 8-byte explicit nonce carried in the record.
inline Nonce SaltedNonce(ConstBytes salt, const uint8_t* explicit_nonce) {
  Nonce nonce;
  std::memcpy(nonce.data(), salt.data(), 4);
  std::memcpy(nonce.data() + 4, explicit_nonce, 8);
  return nonce;
}

// RFC 5246 §6.2.3.3 additional data, also the MAC prefix of §6.2.3.1:
// seq_num || type || version || length.
inline constexpr size_t kTls12AadLen = 13;
inline std::array<uint8_t, kTls12AadLen> Tls12Aad(uint64_t sequence, uint8_t type, uint8_t major,
                                                  uint8_t minor, uint16_t length) {
  std::array<uint8_t, kTls12AadLen> aad;
  StoreBe64(aad.data(), sequence);
  aad[8] = type;
  aad[9] = major;
  aad[10] = minor;
  StoreBe16(aad.data() + 11, length);
  return aad;
}

}  // namespace ktls::record
