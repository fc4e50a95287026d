#include "testlib/tls_enable_builder.h"

#include <cstdlib>
#include <cstring>
#include <random>

namespace ktls::testing {
namespace {

std::mt19937_64& Rng() {
  static std::mt19937_64 rng(std::random_device{}());
  return rng;
}

std::vector<uint8_t> Printable(size_t len) {
  std::vector<uint8_t> out(len);
  std::uniform_int_distribution<int> dist(0x20, 0x7e);
  for (uint8_t& b : out) b = static_cast<uint8_t>(dist(Rng()));
  return out;
}

FreeBsdSuite Cbc(int key_len, int auth, uint8_t minor) {
  const char* mac = auth == CRYPTO_SHA1_HMAC       ? "sha1"
                    : auth == CRYPTO_SHA2_256_HMAC ? "sha256"
                                                   : "sha384";
  std::string name =
      "aes" + std::to_string(key_len * 8) + "_cbc_1_" + std::to_string(minor - 1) + "_" + mac;
  return FreeBsdSuite{name, CRYPTO_AES_CBC, key_len, auth, minor};
}

FreeBsdSuite Gcm(int key_len, uint8_t minor) {
  return FreeBsdSuite{"aes" + std::to_string(key_len * 8) + "_gcm_1_" + std::to_string(minor - 1),
                      CRYPTO_AES_NIST_GCM_16, key_len, 0, minor};
}

FreeBsdSuite ChaCha(uint8_t minor) {
  return FreeBsdSuite{"chacha20_poly1305_1_" + std::to_string(minor - 1), CRYPTO_CHACHA20_POLY1305,
                      32, 0, minor};
}

size_t HashLen(int auth) {
  switch (auth) {
    case CRYPTO_SHA1_HMAC:
      return 20;
    case CRYPTO_SHA2_256_HMAC:
      return 32;
    case CRYPTO_SHA2_384_HMAC:
      return 48;
    default:
      return 0;
  }
}

}  // namespace

std::vector<FreeBsdSuite> Tls10Suites() {
  return {Cbc(16, CRYPTO_SHA1_HMAC, TLS_MINOR_VER_ZERO),
          Cbc(32, CRYPTO_SHA1_HMAC, TLS_MINOR_VER_ZERO)};
}

std::vector<FreeBsdSuite> AesCbcNonZeroSuites() {
  return {Cbc(16, CRYPTO_SHA1_HMAC, TLS_MINOR_VER_ONE),
          Cbc(32, CRYPTO_SHA1_HMAC, TLS_MINOR_VER_ONE),
          Cbc(16, CRYPTO_SHA1_HMAC, TLS_MINOR_VER_TWO),
          Cbc(32, CRYPTO_SHA1_HMAC, TLS_MINOR_VER_TWO),
          Cbc(16, CRYPTO_SHA2_256_HMAC, TLS_MINOR_VER_TWO),
          Cbc(32, CRYPTO_SHA2_256_HMAC, TLS_MINOR_VER_TWO),
          Cbc(16, CRYPTO_SHA2_384_HMAC, TLS_MINOR_VER_TWO),
          Cbc(32, CRYPTO_SHA2_384_HMAC, TLS_MINOR_VER_TWO)};
}

std::vector<FreeBsdSuite> AesCbcSuites() {
  std::vector<FreeBsdSuite> all = Tls10Suites();
  for (auto& s : AesCbcNonZeroSuites()) all.push_back(s);
  return all;
}

std::vector<FreeBsdSuite> AesGcm12Suites() {
  return {Gcm(16, TLS_MINOR_VER_TWO), Gcm(32, TLS_MINOR_VER_TWO)};
}

std::vector<FreeBsdSuite> AesGcmSuites() {
  return {Gcm(16, TLS_MINOR_VER_TWO), Gcm(32, TLS_MINOR_VER_TWO), Gcm(16, TLS_MINOR_VER_THREE),
          Gcm(32, TLS_MINOR_VER_THREE)};
}

std::vector<FreeBsdSuite> ChaChaSuites() {
  return {ChaCha(TLS_MINOR_VER_TWO), ChaCha(TLS_MINOR_VER_THREE)};
}

std::vector<FreeBsdSuite> Tls13Suites() {
  return {Gcm(16, TLS_MINOR_VER_THREE), Gcm(32, TLS_MINOR_VER_THREE), ChaCha(TLS_MINOR_VER_THREE)};
}

std::vector<FreeBsdSuite> InvalidSuites() {
  return {Cbc(16, CRYPTO_SHA2_256_HMAC, TLS_MINOR_VER_ZERO),
          Cbc(16, CRYPTO_SHA2_384_HMAC, TLS_MINOR_VER_ZERO),
          Gcm(16, TLS_MINOR_VER_ZERO),
          ChaCha(TLS_MINOR_VER_ZERO),
          Cbc(16, CRYPTO_SHA2_256_HMAC, TLS_MINOR_VER_ONE),
          Cbc(16, CRYPTO_SHA2_384_HMAC, TLS_MINOR_VER_ONE),
          Gcm(16, TLS_MINOR_VER_ONE),
          ChaCha(TLS_MINOR_VER_ONE),
          Cbc(16, CRYPTO_SHA1_HMAC, TLS_MINOR_VER_THREE),
          Cbc(16, CRYPTO_SHA2_256_HMAC, TLS_MINOR_VER_THREE),
          Cbc(16, CRYPTO_SHA2_384_HMAC, TLS_MINOR_VER_THREE)};
}

std::vector<FreeBsdSuite> AllValidSuites() {
  std::vector<FreeBsdSuite> all = AesCbcSuites();
  for (auto& s : AesGcmSuites()) all.push_back(s);
  for (auto& s : ChaChaSuites()) all.push_back(s);
  return all;
}

TlsEnableBuilder::TlsEnableBuilder(const FreeBsdSuite& suite)
    : TlsEnableBuilder(suite, Rng()() >> 1) {}

TlsEnableBuilder::TlsEnableBuilder(const FreeBsdSuite& suite, uint64_t seq)
    : suite_(suite), sequence_(seq) {
  cipher_key_ = Printable(static_cast<size_t>(suite.key_len));
  size_t iv_len = 0;
  if (suite.cipher_algorithm == CRYPTO_AES_CBC) {
    iv_len = suite.minor == TLS_MINOR_VER_ZERO ? 16 : 0;
    auth_key_ = Printable(HashLen(suite.auth_algorithm));
  } else if (suite.cipher_algorithm == CRYPTO_AES_NIST_GCM_16) {
    iv_len = suite.minor == TLS_MINOR_VER_TWO ? 4 : 12;
  } else {
    iv_len = 12;
  }
  iv_ = Printable(iv_len);
  std::memset(&en_, 0, sizeof(en_));
  en_.cipher_key = cipher_key_.data();
  en_.iv = iv_.empty() ? nullptr : iv_.data();
  en_.auth_key = auth_key_.empty() ? nullptr : auth_key_.data();
  en_.cipher_algorithm = suite.cipher_algorithm;
  en_.cipher_key_len = suite.key_len;
  en_.iv_len = static_cast<int>(iv_len);
  en_.auth_algorithm = suite.auth_algorithm;
  en_.auth_key_len = static_cast<int>(auth_key_.size());
  en_.tls_vmajor = TLS_MAJOR_VER_ONE;
  en_.tls_vminor = suite.minor;
  for (int i = 0; i < 8; ++i) en_.rec_seq[i] = static_cast<uint8_t>(seq >> (56 - 8 * i));
}

bool TlsEnableBuilder::is_cbc() const {
  return suite_.cipher_algorithm == CRYPTO_AES_CBC;
}
bool TlsEnableBuilder::is_tls13() const {
  return suite_.minor == TLS_MINOR_VER_THREE;
}
bool TlsEnableBuilder::is_tls10() const {
  return suite_.minor == TLS_MINOR_VER_ZERO;
}
bool TlsEnableBuilder::is_gcm12() const {
  return suite_.cipher_algorithm == CRYPTO_AES_NIST_GCM_16 && suite_.minor == TLS_MINOR_VER_TWO;
}

crypto::TlsVersion TlsEnableBuilder::version() const {
  return static_cast<crypto::TlsVersion>(0x0300 | suite_.minor);
}

ReferenceParams TlsEnableBuilder::reference() const {
  ReferenceParams params;
  params.version = static_cast<uint16_t>(0x0300 | suite_.minor);
  params.key = cipher_key_;
  params.iv = iv_;
  params.mac_key = auth_key_;
  switch (suite_.cipher_algorithm) {
    case CRYPTO_AES_NIST_GCM_16:
      params.cipher = suite_.key_len == 16 ? RefCipher::kAes128Gcm : RefCipher::kAes256Gcm;
      break;
    case CRYPTO_CHACHA20_POLY1305:
      params.cipher = RefCipher::kChaCha20Poly1305;
      break;
    default:
      params.cipher = suite_.key_len == 16 ? RefCipher::kAes128Cbc : RefCipher::kAes256Cbc;
      params.mac = suite_.auth_algorithm == CRYPTO_SHA1_HMAC       ? RefMac::kHmacSha1
                   : suite_.auth_algorithm == CRYPTO_SHA2_256_HMAC ? RefMac::kHmacSha256
                                                                   : RefMac::kHmacSha384;
      params.iv.clear();
      break;
  }
  return params;
}

RefCbcIv TlsEnableBuilder::tls10_iv() const {
  RefCbcIv iv{};
  if (iv_.size() == iv.size()) std::memcpy(iv.data(), iv_.data(), iv.size());
  return iv;
}

size_t TlsEnableBuilder::header_len() const {
  if (is_cbc()) return is_tls10() ? 5 : 5 + 16;
  return is_gcm12() ? 5 + 8 : 5;
}

size_t TlsEnableBuilder::mac_len() const {
  return is_cbc() ? HashLen(suite_.auth_algorithm) : 16;
}

size_t TlsEnableBuilder::min_payload() const {
  size_t len = header_len() - 5;
  len += is_cbc() ? (mac_len() + 1 + 15) / 16 * 16 : mac_len();
  if (is_tls13()) len += 1;
  return len;
}

}  // namespace ktls::testing
