// An independent, deliberately plain implementation of the TLS record formats, written
// straight on OpenSSL EVP and HMAC. Tests hold src/record against it, and it against RFC
// traces, so it shares no code with src/record or src/crypto: one contiguous buffer,
// one cipher context per call, no scatter/gather, no in-place tricks, no limits policy.
//
// Formats (RFC section, FreeBSD ktls_ocf.c equivalent):
//   TLS 1.2 AES-GCM            salt || explicit nonce, 13-byte AAD (RFC 5288)
//   TLS 1.2 ChaCha20-Poly1305  iv ^ seq, 13-byte AAD (RFC 7905)
//   TLS 1.3 AES-GCM/ChaCha20   iv ^ seq, header as AAD, inner type + zero padding (RFC 8446 §5)
//   AES-CBC + HMAC             MAC-then-encrypt; TLS 1.0 chained IV, 1.1/1.2 explicit IV
//                              (RFC 2246 §6.2.3.2, RFC 5246 §6.2.3.2)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "crypto/suite.h"

namespace ktls::testing {

enum class RefCipher : uint8_t {
  kAes128Gcm,
  kAes256Gcm,
  kChaCha20Poly1305,
  kAes128Cbc,
  kAes256Cbc
};
enum class RefMac : uint8_t { kNone, kHmacSha1, kHmacSha256, kHmacSha384 };

inline constexpr uint16_t kRefTls10 = 0x0301;
inline constexpr uint16_t kRefTls11 = 0x0302;
inline constexpr uint16_t kRefTls12 = 0x0303;
inline constexpr uint16_t kRefTls13 = 0x0304;

inline constexpr size_t kRefCbcBlock = 16;
using RefCbcIv = std::array<uint8_t, kRefCbcBlock>;

// One direction of a session. Sequence numbers and IV chains are the caller's to keep.
struct ReferenceParams {
  RefCipher cipher = RefCipher::kAes128Gcm;
  RefMac mac = RefMac::kNone;  // CBC only
  uint16_t version = kRefTls13;
  std::vector<uint8_t> key;
  // TLS 1.2 AES-GCM: the 4-byte salt. TLS 1.2 ChaCha20 and TLS 1.3: the 12-byte IV.
  // CBC: unused; IVs are passed per record.
  std::vector<uint8_t> iv;
  std::vector<uint8_t> mac_key;  // CBC only; any length, as HMAC allows
};

// Key sizes of one of our suite ids, from this file's own knowledge of the suites
// rather than from the suite table under test. mac_key_len is the hash length.
struct ReferenceKeySizes {
  size_t key_len;
  size_t mac_key_len;
};
ReferenceKeySizes ReferenceKeySizesFor(crypto::SuiteId suite);

// Params for one of our (suite, version) pairs; `iv` and `mac_key` as for
// ReferenceParams (the TLS 1.0 IV, if given, is ignored: pass it per record instead).
ReferenceParams ReferenceParamsFor(crypto::SuiteId suite, crypto::TlsVersion version,
                                   ConstBytes key, ConstBytes iv, ConstBytes mac_key);

struct ReferenceSealOptions {
  // TLS 1.2 AES-GCM: the 8-byte explicit nonce written after the header.
  uint64_t explicit_nonce = 0;
  // CBC TLS 1.1/1.2: the explicit IV written after the header. CBC TLS 1.0: the chained
  // IV (the key block's IV for the first record, then NextTls10Iv of the previous one).
  RefCbcIv cbc_iv{};
  // CBC: padding beyond the minimum, a multiple of 16; all padding must fit in 256 bytes.
  size_t cbc_extra_padding = 0;
  // TLS 1.3: zero bytes after the inner content type.
  size_t tls13_padding = 0;
  // CBC negative tests: XOR 0x01 into this padding byte (0 is the first; the last is the
  // length byte) after the MAC is computed, so only the padding is wrong.
  std::optional<size_t> corrupt_padding_byte;
};

// The complete record (header included) carrying `payload` as content `type` with
// sequence number `seq`. Performs no length-limit checks, so tests can build
// oversized or otherwise invalid records; aborts on misuse (bad key sizes, format).
std::vector<uint8_t> ReferenceSeal(const ReferenceParams& params, uint64_t seq, uint8_t type,
                                   ConstBytes payload, const ReferenceSealOptions& options = {});

// TLS 1.0: the IV of the record after `record`, its last ciphertext block.
RefCbcIv NextTls10Iv(ConstBytes record);

enum class ReferenceError : uint8_t {
  kNone,
  kBadHeader,      // version bytes (or the TLS 1.3 outer type) differ from the session
  kBadLength,      // header length does not match the record handed in
  kBadSize,        // body too short, or CBC body not whole blocks
  kBadTag,         // AEAD authentication failed
  kBadPadding,     // CBC padding bytes inconsistent
  kBadMac,         // CBC HMAC mismatch
  kNoContentType,  // TLS 1.3 inner plaintext is all zeros
};
std::string_view ReferenceErrorName(ReferenceError error);

struct ReferenceOpened {
  ReferenceError error = ReferenceError::kNone;
  uint8_t type = 0;  // the inner type for TLS 1.3
  std::vector<uint8_t> payload;
  // CBC: padding bytes including the length byte (1..256). TLS 1.3: zeros after the type.
  size_t padding_len = 0;

  bool ok() const { return error == ReferenceError::kNone; }
};

// Opens exactly one whole record. `tls10_iv` is the chained IV for CBC TLS 1.0 and
// ignored otherwise.
ReferenceOpened ReferenceOpen(const ReferenceParams& params, uint64_t seq, ConstBytes record,
                              const RefCbcIv& tls10_iv = {});

}  // namespace ktls::testing
