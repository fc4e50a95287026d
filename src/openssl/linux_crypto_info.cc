#include "openssl/linux_crypto_info.h"

#include <linux/tls.h>

#include <cerrno>
#include <cstring>

#include "base/bytes.h"
#include "crypto/suite.h"

namespace ktls::openssl {
namespace {

using crypto::SuiteId;
using crypto::TlsVersion;

// Both AES-GCM structs share one layout apart from the key size.
template <typename Info>
Result<SecretBytes> FillGcm(const record::RecordKeys& keys, uint16_t cipher_type,
                            uint64_t explicit_nonce) {
  Info info = {};
  const bool tls13 = keys.version == TlsVersion::kTls13;
  if (keys.cipher_key.size() != sizeof(info.key) ||
      keys.iv.size() != (tls13 ? sizeof(info.salt) + sizeof(info.iv) : sizeof(info.salt))) {
    return Status::Error(EINVAL);
  }
  info.info.version = static_cast<uint16_t>(keys.version);
  info.info.cipher_type = cipher_type;
  std::memcpy(info.key, keys.cipher_key.data(), sizeof(info.key));
  std::memcpy(info.salt, keys.iv.data(), sizeof(info.salt));
  // TLS 1.3 splits its 12-byte IV into salt and iv; TLS 1.2 sends iv as explicit nonces.
  if (tls13) {
    std::memcpy(info.iv, keys.iv.data() + sizeof(info.salt), sizeof(info.iv));
  } else {
    StoreBe64(info.iv, explicit_nonce);
  }
  StoreBe64(info.rec_seq, keys.sequence);
  SecretBytes out(ConstBytes(reinterpret_cast<const uint8_t*>(&info), sizeof(info)));
  SecureWipe(&info, sizeof(info));
  return out;
}

Result<SecretBytes> FillChaCha20(const record::RecordKeys& keys) {
  tls12_crypto_info_chacha20_poly1305 info = {};
  if (keys.cipher_key.size() != sizeof(info.key) || keys.iv.size() != sizeof(info.iv)) {
    return Status::Error(EINVAL);
  }
  info.info.version = static_cast<uint16_t>(keys.version);
  info.info.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
  std::memcpy(info.key, keys.cipher_key.data(), sizeof(info.key));
  std::memcpy(info.iv, keys.iv.data(), sizeof(info.iv));
  StoreBe64(info.rec_seq, keys.sequence);
  SecretBytes out(ConstBytes(reinterpret_cast<const uint8_t*>(&info), sizeof(info)));
  SecureWipe(&info, sizeof(info));
  return out;
}

}  // namespace

Result<SecretBytes> MakeLinuxCryptoInfo(const record::RecordKeys& keys, uint64_t explicit_nonce) {
  if (keys.version != TlsVersion::kTls12 && keys.version != TlsVersion::kTls13) {
    return Status::Error(ENOTSUP);
  }
  switch (keys.suite) {
    case SuiteId::kAes128Gcm:
      return FillGcm<tls12_crypto_info_aes_gcm_128>(keys, TLS_CIPHER_AES_GCM_128, explicit_nonce);
    case SuiteId::kAes256Gcm:
      return FillGcm<tls12_crypto_info_aes_gcm_256>(keys, TLS_CIPHER_AES_GCM_256, explicit_nonce);
    case SuiteId::kChaCha20Poly1305:
      return FillChaCha20(keys);
    default:
      return Status::Error(ENOTSUP);
  }
}

}  // namespace ktls::openssl
