#include "session/linux_session.h"

#include <linux/tls.h>

#include <cerrno>
#include <cstring>

#include "crypto/suite.h"
#include "session/freebsd_session.h"

namespace ktls::session {
namespace {

using crypto::TlsVersion;

// Field layout of one tls12_crypto_info_* struct: header, iv, key, salt, rec_seq.
struct CipherLayout {
  uint16_t cipher_type;
  size_t iv;
  size_t key;
  size_t salt;
};

constexpr CipherLayout kLayouts[] = {
    {TLS_CIPHER_AES_GCM_128, 8, 16, 4},  {TLS_CIPHER_AES_GCM_256, 8, 32, 4},
    {TLS_CIPHER_AES_CCM_128, 8, 16, 4},  {TLS_CIPHER_CHACHA20_POLY1305, 12, 32, 0},
    {TLS_CIPHER_SM4_GCM, 8, 16, 4},      {TLS_CIPHER_SM4_CCM, 8, 16, 4},
    {TLS_CIPHER_ARIA_GCM_128, 8, 16, 4}, {TLS_CIPHER_ARIA_GCM_256, 8, 32, 4},
};
constexpr size_t kHeaderSize = 4;
constexpr size_t kRecSeqSize = 8;

const CipherLayout* LayoutOf(uint16_t cipher_type) {
  for (const CipherLayout& layout : kLayouts) {
    if (layout.cipher_type == cipher_type) return &layout;
  }
  return nullptr;
}

size_t StructSize(const CipherLayout& layout) {
  return kHeaderSize + layout.iv + layout.key + layout.salt + kRecSeqSize;
}

bool SameHeader(const LinuxCryptoHeader& a, const LinuxCryptoHeader& b) {
  return a.version == b.version && a.cipher_type == b.cipher_type;
}

}  // namespace

size_t LinuxCryptoInfoSize(uint16_t cipher_type) {
  const CipherLayout* layout = LayoutOf(cipher_type);
  return layout ? StructSize(*layout) : 0;
}

Result<LinuxSession> ParseLinuxCryptoInfo(const void* optval, socklen_t optlen,
                                          const LinuxInstallContext& context) {
  if (optval == nullptr || optlen < kHeaderSize) return Status::Error(EINVAL);
  if (context.this_direction && context.this_direction->version != TLS_1_3_VERSION) {
    return Status::Error(EBUSY);  // only TLS 1.3 can replace its keys (KeyUpdate)
  }
  uint8_t head[kHeaderSize];
  KTLS_RETURN_IF_ERROR(CopyFromUser(head, optval, sizeof(head)));
  LinuxCryptoHeader header;
  std::memcpy(&header.version, head, 2);  // host byte order, as the kernel reads it
  std::memcpy(&header.cipher_type, head + 2, 2);
  if (context.this_direction) {
    if (!SameHeader(header, *context.this_direction)) return Status::Error(EINVAL);
  } else {
    if (header.version != TLS_1_2_VERSION && header.version != TLS_1_3_VERSION) {
      return Status::Error(EINVAL);
    }
    const bool aria = header.cipher_type == TLS_CIPHER_ARIA_GCM_128 ||
                      header.cipher_type == TLS_CIPHER_ARIA_GCM_256;
    if (aria && header.version == TLS_1_3_VERSION) return Status::Error(EINVAL);
    if (context.other_direction && !SameHeader(header, *context.other_direction)) {
      return Status::Error(EINVAL);
    }
  }
  const CipherLayout* layout = LayoutOf(header.cipher_type);
  if (layout == nullptr) return Status::Error(EINVAL);
  if (optlen != StructSize(*layout)) return Status::Error(EINVAL);

  LinuxSession session;
  session.header = header;
  session.installed = SecretBytes(StructSize(*layout));
  KTLS_RETURN_IF_ERROR(CopyFromUser(session.installed.data(), optval, session.installed.size()));

  const std::optional<crypto::SuiteId> suite = crypto::SuiteFromLinux(header.cipher_type);
  if (!suite) return Status::Error(ENOENT);  // Linux's answer when the AEAD is missing

  const uint8_t* iv = session.installed.data() + kHeaderSize;
  const uint8_t* key = iv + layout->iv;
  const uint8_t* salt = key + layout->key;
  const uint8_t* rec_seq = salt + layout->salt;
  record::RecordKeys& keys = session.keys;
  keys.suite = *suite;
  keys.version = header.version == TLS_1_3_VERSION ? TlsVersion::kTls13 : TlsVersion::kTls12;
  keys.cipher_key = SecretBytes(ConstBytes(key, layout->key));
  keys.sequence = LoadBe64(rec_seq);
  // The kernel keeps salt || iv as one static IV. TLS 1.2 GCM uses only the salt as the
  // implicit part; the iv field is the first explicit nonce.
  if (keys.version == TlsVersion::kTls12 && layout->salt > 0) {
    keys.iv = SecretBytes(ConstBytes(salt, layout->salt));
    session.explicit_nonce = LoadBe64(iv);
  } else {
    std::vector<uint8_t> static_iv(salt, salt + layout->salt);
    static_iv.insert(static_iv.end(), iv, iv + layout->iv);
    keys.iv = SecretBytes(static_iv);
    SecureWipe(static_iv.data(), static_iv.size());
  }
  return session;
}

int WriteLinuxCryptoInfo(const LinuxSession& session, uint64_t next_sequence,
                         uint64_t next_explicit_nonce, void* optval, socklen_t* optlen) {
  if (optval == nullptr || optlen == nullptr || *optlen < kHeaderSize) return EINVAL;
  if (*optlen == kHeaderSize) {
    std::memcpy(optval, session.installed.data(), kHeaderSize);
    return 0;
  }
  const CipherLayout* layout = LayoutOf(session.header.cipher_type);
  if (layout == nullptr || *optlen != StructSize(*layout)) return EINVAL;
  auto* out = static_cast<uint8_t*>(optval);
  std::memcpy(out, session.installed.data(), session.installed.size());
  uint8_t* iv = out + kHeaderSize;
  uint8_t* rec_seq = iv + layout->iv + layout->key + layout->salt;
  if (session.keys.version == TlsVersion::kTls12 && layout->salt > 0) {
    StoreBe64(iv, next_explicit_nonce);
  }
  StoreBe64(rec_seq, next_sequence);
  return 0;
}

}  // namespace ktls::session
