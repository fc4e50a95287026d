#include "testlib/record_reference.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace ktls::testing {
namespace {

constexpr size_t kHeader = 5;
constexpr size_t kTag = 16;
constexpr size_t kNonce = 12;
constexpr size_t kExplicitNonce = 8;
constexpr uint8_t kAppData = 23;

[[noreturn]] void Misuse(const char* what) {
  std::fprintf(stderr, "record_reference: %s\n", what);
  std::abort();
}

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

bool IsCbc(RefCipher cipher) {
  return cipher == RefCipher::kAes128Cbc || cipher == RefCipher::kAes256Cbc;
}

const EVP_CIPHER* Evp(RefCipher cipher) {
  switch (cipher) {
    case RefCipher::kAes128Gcm:
      return EVP_aes_128_gcm();
    case RefCipher::kAes256Gcm:
      return EVP_aes_256_gcm();
    case RefCipher::kChaCha20Poly1305:
      return EVP_chacha20_poly1305();
    case RefCipher::kAes128Cbc:
      return EVP_aes_128_cbc();
    case RefCipher::kAes256Cbc:
      return EVP_aes_256_cbc();
  }
  Misuse("unknown cipher");
}

size_t KeyLen(RefCipher cipher) {
  return cipher == RefCipher::kAes128Gcm || cipher == RefCipher::kAes128Cbc ? 16 : 32;
}

const EVP_MD* Digest(RefMac mac) {
  switch (mac) {
    case RefMac::kHmacSha1:
      return EVP_sha1();
    case RefMac::kHmacSha256:
      return EVP_sha256();
    case RefMac::kHmacSha384:
      return EVP_sha384();
    case RefMac::kNone:
      break;
  }
  Misuse("CBC needs a MAC");
}

void CheckParams(const ReferenceParams& p) {
  if (p.key.size() != KeyLen(p.cipher)) Misuse("wrong key size");
  if (p.version < kRefTls10 || p.version > kRefTls13) Misuse("unknown version");
  if (IsCbc(p.cipher)) {
    if (p.version == kRefTls13) Misuse("CBC does not exist in TLS 1.3");
    if (p.mac_key.empty()) Misuse("CBC needs a MAC key");
    Digest(p.mac);
    return;
  }
  if (p.version < kRefTls12) Misuse("AEADs need TLS 1.2 or 1.3");
  const bool salt_only = p.cipher != RefCipher::kChaCha20Poly1305 && p.version == kRefTls12;
  if (p.iv.size() != (salt_only ? 4u : kNonce)) Misuse("wrong IV size");
}

void PutBe16(std::vector<uint8_t>& out, size_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value));
}
void PutBe64(uint8_t* out, uint64_t value) {
  for (int i = 7; i >= 0; --i, value >>= 8) out[i] = static_cast<uint8_t>(value);
}

std::vector<uint8_t> Header(uint8_t type, uint16_t version, size_t body_len) {
  std::vector<uint8_t> header{type, static_cast<uint8_t>(version >> 8),
                              static_cast<uint8_t>(version)};
  PutBe16(header, body_len);
  return header;
}

// seq || type || version || length: the TLS 1.2 AEAD additional data and MAC prefix.
std::vector<uint8_t> Pseudoheader(uint64_t seq, uint8_t type, uint16_t version, size_t len) {
  std::vector<uint8_t> out(8);
  PutBe64(out.data(), seq);
  out.push_back(type);
  out.push_back(static_cast<uint8_t>(version >> 8));
  out.push_back(static_cast<uint8_t>(version));
  PutBe16(out, len);
  return out;
}

std::array<uint8_t, kNonce> XorNonce(const std::vector<uint8_t>& iv, uint64_t seq) {
  std::array<uint8_t, kNonce> nonce;
  std::memcpy(nonce.data(), iv.data(), kNonce);
  uint8_t seq_bytes[8];
  PutBe64(seq_bytes, seq);
  for (size_t i = 0; i < 8; ++i) nonce[4 + i] ^= seq_bytes[i];
  return nonce;
}

// Encrypts `plain` and appends ciphertext || tag to `out`.
void AeadSeal(const ReferenceParams& p, const uint8_t* nonce, ConstBytes aad, ConstBytes plain,
              std::vector<uint8_t>& out) {
  Ctx ctx(EVP_CIPHER_CTX_new());
  const size_t start = out.size();
  out.resize(start + plain.size() + kTag);
  int len = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), Evp(p.cipher), nullptr, p.key.data(), nonce) == 1;
  ok = ok &&
       EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1;
  ok = ok && (plain.empty() || EVP_EncryptUpdate(ctx.get(), out.data() + start, &len, plain.data(),
                                                 static_cast<int>(plain.size())) == 1);
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), out.data() + start, &len) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTag,
                                 out.data() + start + plain.size()) == 1;
  if (!ok) Misuse("EVP AEAD encryption failed");
}

// Decrypts ciphertext || tag; nullopt when the tag does not verify.
std::optional<std::vector<uint8_t>> AeadOpen(const ReferenceParams& p, const uint8_t* nonce,
                                             ConstBytes aad, ConstBytes sealed) {
  const ConstBytes ciphertext = sealed.first(sealed.size() - kTag);
  std::vector<uint8_t> tag(sealed.end() - kTag, sealed.end());
  std::vector<uint8_t> plain(ciphertext.size());
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), Evp(p.cipher), nullptr, p.key.data(), nonce) == 1;
  ok = ok &&
       EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1;
  ok = ok &&
       (ciphertext.empty() || EVP_DecryptUpdate(ctx.get(), plain.data(), &len, ciphertext.data(),
                                                static_cast<int>(ciphertext.size())) == 1);
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTag, tag.data()) == 1;
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), plain.data(), &len) == 1;
  if (!ok) return std::nullopt;
  return plain;
}

// AES-CBC without padding over whole blocks.
std::vector<uint8_t> Cbc(const ReferenceParams& p, const RefCbcIv& iv, ConstBytes in,
                         bool encrypt) {
  std::vector<uint8_t> out(in.size());
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx && EVP_CipherInit_ex(ctx.get(), Evp(p.cipher), nullptr, p.key.data(), iv.data(),
                                     encrypt ? 1 : 0) == 1;
  ok = ok && EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1;
  ok = ok && (in.empty() || EVP_CipherUpdate(ctx.get(), out.data(), &len, in.data(),
                                             static_cast<int>(in.size())) == 1);
  if (!ok) Misuse("EVP CBC failed");
  return out;
}

std::vector<uint8_t> Hmac(const ReferenceParams& p, ConstBytes prefix, ConstBytes data) {
  std::vector<uint8_t> input(prefix.begin(), prefix.end());
  input.insert(input.end(), data.begin(), data.end());
  std::vector<uint8_t> mac(EVP_MAX_MD_SIZE);
  unsigned int mac_len = 0;
  if (HMAC(Digest(p.mac), p.mac_key.data(), static_cast<int>(p.mac_key.size()), input.data(),
           input.size(), mac.data(), &mac_len) == nullptr) {
    Misuse("HMAC failed");
  }
  mac.resize(mac_len);
  return mac;
}

size_t MacLen(RefMac mac) {
  return static_cast<size_t>(EVP_MD_get_size(Digest(mac)));
}

std::vector<uint8_t> SealAead(const ReferenceParams& p, uint64_t seq, uint8_t type,
                              ConstBytes payload, const ReferenceSealOptions& options) {
  if (p.version == kRefTls13) {
    // TLSInnerPlaintext = content || type || zeros; the header is the additional data.
    std::vector<uint8_t> inner(payload.begin(), payload.end());
    inner.push_back(type);
    inner.resize(inner.size() + options.tls13_padding, 0);
    std::vector<uint8_t> record = Header(kAppData, kRefTls12, inner.size() + kTag);
    const std::vector<uint8_t> aad = record;
    AeadSeal(p, XorNonce(p.iv, seq).data(), aad, inner, record);
    return record;
  }
  const std::vector<uint8_t> aad = Pseudoheader(seq, type, p.version, payload.size());
  if (p.cipher == RefCipher::kChaCha20Poly1305) {
    std::vector<uint8_t> record = Header(type, p.version, payload.size() + kTag);
    AeadSeal(p, XorNonce(p.iv, seq).data(), aad, payload, record);
    return record;
  }
  std::vector<uint8_t> record = Header(type, p.version, kExplicitNonce + payload.size() + kTag);
  uint8_t nonce[kNonce];
  std::memcpy(nonce, p.iv.data(), 4);
  PutBe64(nonce + 4, options.explicit_nonce);
  record.insert(record.end(), nonce + 4, nonce + kNonce);
  AeadSeal(p, nonce, aad, payload, record);
  return record;
}

std::vector<uint8_t> SealCbc(const ReferenceParams& p, uint64_t seq, uint8_t type,
                             ConstBytes payload, const ReferenceSealOptions& options) {
  const std::vector<uint8_t> mac =
      Hmac(p, Pseudoheader(seq, type, p.version, payload.size()), payload);
  std::vector<uint8_t> plain(payload.begin(), payload.end());
  plain.insert(plain.end(), mac.begin(), mac.end());
  if (options.cbc_extra_padding % kRefCbcBlock != 0) Misuse("extra padding not whole blocks");
  const size_t pad_len =
      kRefCbcBlock - plain.size() % kRefCbcBlock + options.cbc_extra_padding;  // 1..256
  if (pad_len > 256) Misuse("padding longer than 256 bytes");
  plain.resize(plain.size() + pad_len, static_cast<uint8_t>(pad_len - 1));
  if (options.corrupt_padding_byte) {
    if (*options.corrupt_padding_byte >= pad_len) Misuse("corrupt byte outside the padding");
    plain[plain.size() - pad_len + *options.corrupt_padding_byte] ^= 0x01;
  }
  const bool explicit_iv = p.version != kRefTls10;
  std::vector<uint8_t> record =
      Header(type, p.version, (explicit_iv ? kRefCbcBlock : 0) + plain.size());
  if (explicit_iv) record.insert(record.end(), options.cbc_iv.begin(), options.cbc_iv.end());
  const std::vector<uint8_t> encrypted = Cbc(p, options.cbc_iv, plain, /*encrypt=*/true);
  record.insert(record.end(), encrypted.begin(), encrypted.end());
  return record;
}

ReferenceOpened Fail(ReferenceError error) {
  ReferenceOpened opened;
  opened.error = error;
  return opened;
}

ReferenceOpened OpenAead(const ReferenceParams& p, uint64_t seq, ConstBytes record) {
  const ConstBytes body = record.subspan(kHeader);
  const uint8_t type = record[0];
  if (p.version == kRefTls13) {
    if (body.size() < kTag + 1) return Fail(ReferenceError::kBadSize);
    auto inner = AeadOpen(p, XorNonce(p.iv, seq).data(), record.first(kHeader), body);
    if (!inner) return Fail(ReferenceError::kBadTag);
    ReferenceOpened opened;
    while (!inner->empty() && inner->back() == 0) {
      inner->pop_back();
      ++opened.padding_len;
    }
    if (inner->empty()) return Fail(ReferenceError::kNoContentType);
    opened.type = inner->back();
    inner->pop_back();
    opened.payload = std::move(*inner);
    return opened;
  }
  const bool chacha = p.cipher == RefCipher::kChaCha20Poly1305;
  const size_t prefix = chacha ? 0 : kExplicitNonce;
  if (body.size() < prefix + kTag) return Fail(ReferenceError::kBadSize);
  std::array<uint8_t, kNonce> nonce;
  if (chacha) {
    nonce = XorNonce(p.iv, seq);
  } else {
    std::memcpy(nonce.data(), p.iv.data(), 4);
    std::memcpy(nonce.data() + 4, body.data(), kExplicitNonce);
  }
  const std::vector<uint8_t> aad = Pseudoheader(seq, type, p.version, body.size() - prefix - kTag);
  auto plain = AeadOpen(p, nonce.data(), aad, body.subspan(prefix));
  if (!plain) return Fail(ReferenceError::kBadTag);
  ReferenceOpened opened;
  opened.type = type;
  opened.payload = std::move(*plain);
  return opened;
}

ReferenceOpened OpenCbc(const ReferenceParams& p, uint64_t seq, ConstBytes record,
                        const RefCbcIv& tls10_iv) {
  const bool explicit_iv = p.version != kRefTls10;
  ConstBytes body = record.subspan(kHeader);
  const size_t mac_len = MacLen(p.mac);
  const size_t iv_len = explicit_iv ? kRefCbcBlock : 0;
  if (body.size() % kRefCbcBlock != 0 || body.size() < iv_len + mac_len + 1) {
    return Fail(ReferenceError::kBadSize);
  }
  RefCbcIv iv = tls10_iv;
  if (explicit_iv) std::memcpy(iv.data(), body.data(), kRefCbcBlock);
  const std::vector<uint8_t> plain = Cbc(p, iv, body.subspan(iv_len), /*encrypt=*/false);
  const size_t pad_len = size_t{plain.back()} + 1;
  if (pad_len + mac_len > plain.size()) return Fail(ReferenceError::kBadPadding);
  for (size_t i = plain.size() - pad_len; i < plain.size(); ++i) {
    if (plain[i] != plain.back()) return Fail(ReferenceError::kBadPadding);
  }
  const size_t payload_len = plain.size() - pad_len - mac_len;
  const ConstBytes payload(plain.data(), payload_len);
  const std::vector<uint8_t> mac =
      Hmac(p, Pseudoheader(seq, record[0], p.version, payload_len), payload);
  if (std::memcmp(mac.data(), plain.data() + payload_len, mac_len) != 0) {
    return Fail(ReferenceError::kBadMac);
  }
  ReferenceOpened opened;
  opened.type = record[0];
  opened.payload.assign(payload.begin(), payload.end());
  opened.padding_len = pad_len;
  return opened;
}

}  // namespace

ReferenceKeySizes ReferenceKeySizesFor(crypto::SuiteId suite) {
  using crypto::SuiteId;
  switch (suite) {
    case SuiteId::kAes128Gcm:
      return {16, 0};
    case SuiteId::kAes256Gcm:
    case SuiteId::kChaCha20Poly1305:
      return {32, 0};
    case SuiteId::kAes128CbcSha1:
      return {16, 20};
    case SuiteId::kAes256CbcSha1:
      return {32, 20};
    case SuiteId::kAes128CbcSha256:
      return {16, 32};
    case SuiteId::kAes256CbcSha256:
      return {32, 32};
    case SuiteId::kAes128CbcSha384:
      return {16, 48};
    case SuiteId::kAes256CbcSha384:
      return {32, 48};
  }
  Misuse("unknown suite");
}

ReferenceParams ReferenceParamsFor(crypto::SuiteId suite, crypto::TlsVersion version,
                                   ConstBytes key, ConstBytes iv, ConstBytes mac_key) {
  using crypto::SuiteId;
  ReferenceParams p;
  p.version = static_cast<uint16_t>(version);
  p.key.assign(key.begin(), key.end());
  switch (suite) {
    case SuiteId::kAes128Gcm:
      p.cipher = RefCipher::kAes128Gcm;
      break;
    case SuiteId::kAes256Gcm:
      p.cipher = RefCipher::kAes256Gcm;
      break;
    case SuiteId::kChaCha20Poly1305:
      p.cipher = RefCipher::kChaCha20Poly1305;
      break;
    case SuiteId::kAes128CbcSha1:
    case SuiteId::kAes128CbcSha256:
    case SuiteId::kAes128CbcSha384:
      p.cipher = RefCipher::kAes128Cbc;
      break;
    case SuiteId::kAes256CbcSha1:
    case SuiteId::kAes256CbcSha256:
    case SuiteId::kAes256CbcSha384:
      p.cipher = RefCipher::kAes256Cbc;
      break;
  }
  if (IsCbc(p.cipher)) {
    const size_t mac_len = ReferenceKeySizesFor(suite).mac_key_len;
    p.mac = mac_len == 20 ? RefMac::kHmacSha1
                          : (mac_len == 32 ? RefMac::kHmacSha256 : RefMac::kHmacSha384);
    p.mac_key.assign(mac_key.begin(), mac_key.end());
  } else {
    p.iv.assign(iv.begin(), iv.end());
  }
  return p;
}

std::vector<uint8_t> ReferenceSeal(const ReferenceParams& params, uint64_t seq, uint8_t type,
                                   ConstBytes payload, const ReferenceSealOptions& options) {
  CheckParams(params);
  return IsCbc(params.cipher) ? SealCbc(params, seq, type, payload, options)
                              : SealAead(params, seq, type, payload, options);
}

RefCbcIv NextTls10Iv(ConstBytes record) {
  if (record.size() < kHeader + kRefCbcBlock) Misuse("record too short to chain from");
  RefCbcIv iv;
  std::memcpy(iv.data(), record.data() + record.size() - kRefCbcBlock, kRefCbcBlock);
  return iv;
}

std::string_view ReferenceErrorName(ReferenceError error) {
  switch (error) {
    case ReferenceError::kNone:
      return "none";
    case ReferenceError::kBadHeader:
      return "bad header";
    case ReferenceError::kBadLength:
      return "bad length";
    case ReferenceError::kBadSize:
      return "bad size";
    case ReferenceError::kBadTag:
      return "bad tag";
    case ReferenceError::kBadPadding:
      return "bad padding";
    case ReferenceError::kBadMac:
      return "bad MAC";
    case ReferenceError::kNoContentType:
      return "no content type";
  }
  return "unknown";
}

ReferenceOpened ReferenceOpen(const ReferenceParams& params, uint64_t seq, ConstBytes record,
                              const RefCbcIv& tls10_iv) {
  CheckParams(params);
  if (record.size() < kHeader) return Fail(ReferenceError::kBadLength);
  // TLS 1.3 records wear a TLS 1.2 application_data header (RFC 8446 §5.1).
  const bool tls13 = params.version == kRefTls13;
  const uint16_t wire_version = tls13 ? kRefTls12 : params.version;
  if (record[1] != (wire_version >> 8) || record[2] != (wire_version & 0xff) ||
      (tls13 && record[0] != kAppData)) {
    return Fail(ReferenceError::kBadHeader);
  }
  if ((size_t{record[3]} << 8 | record[4]) != record.size() - kHeader) {
    return Fail(ReferenceError::kBadLength);
  }
  return IsCbc(params.cipher) ? OpenCbc(params, seq, record, tls10_iv)
                              : OpenAead(params, seq, record);
}

}  // namespace ktls::testing
