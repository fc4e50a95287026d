#include "crypto/suite.h"

#include <array>
#include <cassert>

namespace ktls::crypto {
namespace {

// 2^24.5 records for AES-GCM (RFC 8446 §5.5), rounded down.
constexpr uint64_t kAesGcmConfidentialityLimit = 23726566;
constexpr uint64_t kAesGcmIntegrityLimit = uint64_t{1} << 52;
constexpr uint64_t kChaChaIntegrityLimit = uint64_t{1} << 36;

constexpr SuiteInfo Aead(SuiteId id, std::string_view name, CipherKind cipher, uint8_t key_len,
                         uint8_t fixed_iv, uint8_t explicit_iv, int freebsd_cipher,
                         uint16_t linux_type, uint64_t conf, uint64_t integ) {
  return SuiteInfo{id,
                   name,
                   cipher,
                   MacKind::kNone,
                   key_len,
                   0,
                   0,
                   16,
                   1,
                   fixed_iv,
                   explicit_iv,
                   12,
                   freebsd_cipher,
                   0,
                   linux_type,
                   conf,
                   integ,
                   TlsVersion::kTls12,
                   TlsVersion::kTls13};
}

constexpr SuiteInfo Cbc(SuiteId id, std::string_view name, uint8_t key_len, MacKind mac,
                        uint8_t mac_len, int freebsd_auth, TlsVersion min_version) {
  return SuiteInfo{id,
                   name,
                   CipherKind::kAesCbc,
                   mac,
                   key_len,
                   mac_len,
                   mac_len,
                   0,
                   16,
                   16,
                   16,
                   0,
                   kFreeBsdAesCbc,
                   freebsd_auth,
                   0,
                   kNoLimit,
                   kNoLimit,
                   min_version,
                   TlsVersion::kTls12};
}

constexpr std::array kSuites = {
    Aead(SuiteId::kAes128Gcm, "AES-128-GCM", CipherKind::kAesGcm, 16, 4, 8, kFreeBsdAesGcm16,
         kLinuxAesGcm128, kAesGcmConfidentialityLimit, kAesGcmIntegrityLimit),
    Aead(SuiteId::kAes256Gcm, "AES-256-GCM", CipherKind::kAesGcm, 32, 4, 8, kFreeBsdAesGcm16,
         kLinuxAesGcm256, kAesGcmConfidentialityLimit, kAesGcmIntegrityLimit),
    Aead(SuiteId::kChaCha20Poly1305, "CHACHA20-POLY1305", CipherKind::kChaCha20Poly1305, 32, 12, 0,
         kFreeBsdChaCha20Poly1305, kLinuxChaCha20Poly1305, kNoLimit, kChaChaIntegrityLimit),
    Cbc(SuiteId::kAes128CbcSha1, "AES-128-CBC-SHA1", 16, MacKind::kHmacSha1, 20, kFreeBsdSha1Hmac,
        TlsVersion::kTls10),
    Cbc(SuiteId::kAes256CbcSha1, "AES-256-CBC-SHA1", 32, MacKind::kHmacSha1, 20, kFreeBsdSha1Hmac,
        TlsVersion::kTls10),
    Cbc(SuiteId::kAes128CbcSha256, "AES-128-CBC-SHA256", 16, MacKind::kHmacSha256, 32,
        kFreeBsdSha256Hmac, TlsVersion::kTls12),
    Cbc(SuiteId::kAes256CbcSha256, "AES-256-CBC-SHA256", 32, MacKind::kHmacSha256, 32,
        kFreeBsdSha256Hmac, TlsVersion::kTls12),
    Cbc(SuiteId::kAes128CbcSha384, "AES-128-CBC-SHA384", 16, MacKind::kHmacSha384, 48,
        kFreeBsdSha384Hmac, TlsVersion::kTls12),
    Cbc(SuiteId::kAes256CbcSha384, "AES-256-CBC-SHA384", 32, MacKind::kHmacSha384, 48,
        kFreeBsdSha384Hmac, TlsVersion::kTls12),
};

// The table is indexed by SuiteId; keep the two in the same order.
constexpr bool TableMatchesIds() {
  for (size_t i = 0; i < kSuites.size(); ++i) {
    if (static_cast<size_t>(kSuites[i].id) != i) return false;
  }
  return true;
}
static_assert(TableMatchesIds());

}  // namespace

std::span<const SuiteInfo> AllSuites() {
  return kSuites;
}

const SuiteInfo& GetSuite(SuiteId id) {
  const auto index = static_cast<size_t>(id);
  assert(index < kSuites.size());
  return kSuites[index];
}

std::optional<SuiteId> SuiteFromFreeBsd(int cipher_algorithm, int cipher_key_len,
                                        int auth_algorithm) {
  for (const SuiteInfo& suite : kSuites) {
    if (suite.freebsd_cipher != cipher_algorithm) continue;
    if (suite.key_len != cipher_key_len) continue;
    if (suite.freebsd_auth != auth_algorithm) continue;
    return suite.id;
  }
  return std::nullopt;
}

std::optional<SuiteId> SuiteFromLinux(uint16_t cipher_type) {
  for (const SuiteInfo& suite : kSuites) {
    if (suite.linux_cipher_type != 0 && suite.linux_cipher_type == cipher_type) return suite.id;
  }
  return std::nullopt;
}

bool SuiteSupportsVersion(const SuiteInfo& suite, TlsVersion version) {
  const auto v = static_cast<uint16_t>(version);
  return v >= static_cast<uint16_t>(suite.min_version) &&
         v <= static_cast<uint16_t>(suite.max_version);
}

std::string_view VersionName(TlsVersion version) {
  switch (version) {
    case TlsVersion::kTls10:
      return "TLS1.0";
    case TlsVersion::kTls11:
      return "TLS1.1";
    case TlsVersion::kTls12:
      return "TLS1.2";
    case TlsVersion::kTls13:
      return "TLS1.3";
  }
  return "unknown";
}

}  // namespace ktls::crypto
