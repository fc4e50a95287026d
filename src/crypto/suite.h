// The one table of record-protection suites. Every size, ABI id and limit of a suite
// lives in its row here; code elsewhere looks suites up instead of repeating numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace ktls::crypto {

enum class CipherKind : uint8_t { kAesGcm, kChaCha20Poly1305, kAesCbc };
enum class MacKind : uint8_t { kNone, kHmacSha1, kHmacSha256, kHmacSha384 };

enum class SuiteId : uint8_t {
  kAes128Gcm,
  kAes256Gcm,
  kChaCha20Poly1305,
  kAes128CbcSha1,
  kAes256CbcSha1,
  kAes128CbcSha256,
  kAes256CbcSha256,
  kAes128CbcSha384,
  kAes256CbcSha384,
};

// Protocol versions as they appear on the wire (major << 8 | minor).
enum class TlsVersion : uint16_t {
  kTls10 = 0x0301,
  kTls11 = 0x0302,
  kTls12 = 0x0303,
  kTls13 = 0x0304,
};

inline constexpr uint8_t VersionMajor(TlsVersion v) {
  return static_cast<uint16_t>(v) >> 8;
}
inline constexpr uint8_t VersionMinor(TlsVersion v) {
  return static_cast<uint16_t>(v) & 0xff;
}

// FreeBSD cryptodev algorithm ids (sys/opencrypto/cryptodev.h).
inline constexpr int kFreeBsdSha1Hmac = 7;
inline constexpr int kFreeBsdAesCbc = 11;
inline constexpr int kFreeBsdSha256Hmac = 18;
inline constexpr int kFreeBsdSha384Hmac = 19;
inline constexpr int kFreeBsdAesGcm16 = 25;
inline constexpr int kFreeBsdChaCha20Poly1305 = 41;

// Linux uapi/linux/tls.h cipher types; 0 where Linux has no such suite.
inline constexpr uint16_t kLinuxAesGcm128 = 51;
inline constexpr uint16_t kLinuxAesGcm256 = 52;
inline constexpr uint16_t kLinuxChaCha20Poly1305 = 54;

inline constexpr uint64_t kNoLimit = ~uint64_t{0};

struct SuiteInfo {
  SuiteId id;
  std::string_view name;
  CipherKind cipher;
  MacKind mac;
  uint8_t key_len;                // cipher key
  uint8_t mac_key_len;            // HMAC key (CBC only)
  uint8_t mac_len;                // HMAC output (CBC only)
  uint8_t tag_len;                // AEAD tag (AEAD only)
  uint8_t block_len;              // 1 for AEADs, 16 for CBC
  uint8_t tls12_fixed_iv_len;     // implicit IV bytes from the key block (TLS 1.2)
  uint8_t tls12_explicit_iv_len;  // per-record IV bytes on the wire (TLS 1.1/1.2)
  uint8_t tls13_iv_len;           // 0 where the suite does not exist in TLS 1.3
  int freebsd_cipher;
  int freebsd_auth;
  uint16_t linux_cipher_type;
  // Records one key may protect before it must be replaced (RFC 8446 §5.5, RFC 9147 §4.5.3).
  uint64_t confidentiality_limit;
  uint64_t integrity_limit;
  TlsVersion min_version;
  TlsVersion max_version;
};

// Every supported suite, once.
std::span<const SuiteInfo> AllSuites();
const SuiteInfo& GetSuite(SuiteId id);

// Lookups from the two ABIs.
std::optional<SuiteId> SuiteFromFreeBsd(int cipher_algorithm, int cipher_key_len,
                                        int auth_algorithm);
std::optional<SuiteId> SuiteFromLinux(uint16_t cipher_type);

bool SuiteSupportsVersion(const SuiteInfo& suite, TlsVersion version);
std::string_view VersionName(TlsVersion version);

}  // namespace ktls::crypto
