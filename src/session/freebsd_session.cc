#include "session/freebsd_session.h"

#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/secret_bytes.h"
#include "crypto/suite.h"

namespace ktls::session {
namespace {

using crypto::SuiteId;
using crypto::TlsVersion;

constexpr int kMaxParamLen = TLS_MAX_PARAM_SIZE;
constexpr int kMaxIvLen = 16;

Result<SecretBytes> CopyKey(const uint8_t* ptr, int len) {
  SecretBytes key(static_cast<size_t>(len));
  if (len > 0) KTLS_RETURN_IF_ERROR(CopyFromUser(key.data(), ptr, key.size()));
  return key;
}

// ktls_create_session's per-cipher checks; returns the suite or EINVAL.
Result<SuiteId> CheckCipher(const struct tls_enable& en, TlsVersion version) {
  switch (en.cipher_algorithm) {
    case CRYPTO_AES_NIST_GCM_16: {
      if (en.auth_algorithm != 0 || en.auth_key_len != 0) return Status::Error(EINVAL);
      if (version == TlsVersion::kTls12 && en.iv_len != TLS_AEAD_GCM_LEN) {
        return Status::Error(EINVAL);
      }
      if (version == TlsVersion::kTls13 && en.iv_len != TLS_1_3_GCM_IV_LEN) {
        return Status::Error(EINVAL);
      }
      if (version != TlsVersion::kTls12 && version != TlsVersion::kTls13) {
        return Status::Error(EINVAL);
      }
      break;
    }
    case CRYPTO_AES_CBC: {
      switch (en.auth_algorithm) {
        case CRYPTO_SHA1_HMAC:
          break;
        case CRYPTO_SHA2_256_HMAC:
        case CRYPTO_SHA2_384_HMAC:
          if (version != TlsVersion::kTls12) return Status::Error(EINVAL);
          break;
        default:
          return Status::Error(EINVAL);
      }
      if (en.auth_key_len == 0) return Status::Error(EINVAL);
      if (version == TlsVersion::kTls13) return Status::Error(EINVAL);
      if (version == TlsVersion::kTls10 && en.iv_len != TLS_CBC_IMPLICIT_IV_LEN) {
        return Status::Error(EINVAL);
      }
      break;
    }
    case CRYPTO_CHACHA20_POLY1305: {
      if (en.auth_algorithm != 0 || en.auth_key_len != 0) return Status::Error(EINVAL);
      if (version != TlsVersion::kTls12 && version != TlsVersion::kTls13) {
        return Status::Error(EINVAL);
      }
      if (en.iv_len != TLS_CHACHA20_IV_LEN) return Status::Error(EINVAL);
      break;
    }
    default:
      return Status::Error(EINVAL);
  }
  // The software backend's checks (ktls_ocf_try): key sizes it can run.
  const int auth = en.cipher_algorithm == CRYPTO_AES_CBC ? en.auth_algorithm : 0;
  std::optional<SuiteId> suite =
      crypto::SuiteFromFreeBsd(en.cipher_algorithm, en.cipher_key_len, auth);
  if (!suite) return Status::Error(EINVAL);
  return *suite;
}

}  // namespace

Status CopyFromUser(void* dst, const void* src, size_t len) {
  if (len == 0) return Status::Ok();
  if (src == nullptr) return Status::Error(EFAULT);
  // process_vm_readv on ourselves reports EFAULT for unmapped memory instead of
  // crashing, as copyin(9) does in the kernel.
  struct iovec local = {dst, len};
  struct iovec remote = {const_cast<void*>(src), len};
  const ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
  if (n == static_cast<ssize_t>(len)) return Status::Ok();
  if (n < 0 && errno == ENOSYS) {
    std::memcpy(dst, src, len);  // kernels without the call: trust the pointer
    return Status::Ok();
  }
  return Status::Error(EFAULT);
}

Result<struct tls_enable> CopyInTlsEnable(const void* optval, socklen_t optlen, Direction dir) {
  struct tls_enable en;
  std::memset(&en, 0, sizeof(en));
  size_t len = sizeof(en);
  if (dir == Direction::kTransmit && optlen == kTlsEnableV0Size) {
    len = offsetof(struct tls_enable, rec_seq);  // rec_seq stays zero
  } else if (optlen < sizeof(en)) {
    return Status::Error(EINVAL);
  }
  KTLS_RETURN_IF_ERROR(CopyFromUser(&en, optval, len));
  return en;
}

Result<record::RecordKeys> SessionFromTlsEnable(const struct tls_enable& en, Direction dir) {
  // Generic checks, in ktls_create_session's order.
  if (en.tls_vmajor != TLS_MAJOR_VER_ONE) return Status::Error(EINVAL);
  if (en.tls_vminor < TLS_MINOR_VER_ZERO || en.tls_vminor > TLS_MINOR_VER_THREE) {
    return Status::Error(EINVAL);
  }
  if (en.auth_key_len < 0 || en.auth_key_len > kMaxParamLen) return Status::Error(EINVAL);
  if (en.cipher_key_len < 0 || en.cipher_key_len > kMaxParamLen) return Status::Error(EINVAL);
  if (en.iv_len < 0 || en.iv_len > kMaxIvLen) return Status::Error(EINVAL);
  if (en.cipher_key_len == 0) return Status::Error(EINVAL);
  if (en.flags != 0) return Status::Error(EINVAL);

  const auto version = static_cast<TlsVersion>((en.tls_vmajor << 8) | en.tls_vminor);
  Result<SuiteId> suite = CheckCipher(en, version);
  if (!suite.ok()) return suite.status();
  // TLS 1.0 receive is not supported by FreeBSD's software backend.
  if (dir == Direction::kReceive && version == TlsVersion::kTls10) {
    return Status::Error(EPROTONOSUPPORT);
  }

  record::RecordKeys keys;
  keys.suite = suite.value();
  keys.version = version;
  Result<SecretBytes> cipher_key = CopyKey(en.cipher_key, en.cipher_key_len);
  if (!cipher_key.ok()) return cipher_key.status();
  keys.cipher_key = std::move(cipher_key.value());
  // CBC TLS 1.1/1.2 ignore any IV the caller passes: records carry their own.
  const bool cbc_explicit = en.cipher_algorithm == CRYPTO_AES_CBC && version != TlsVersion::kTls10;
  Result<SecretBytes> iv = CopyKey(en.iv, cbc_explicit ? 0 : en.iv_len);
  if (!iv.ok()) return iv.status();
  keys.iv = std::move(iv.value());
  if (en.cipher_algorithm == CRYPTO_AES_CBC) {
    Result<SecretBytes> mac_key = CopyKey(en.auth_key, en.auth_key_len);
    if (!mac_key.ok()) return mac_key.status();
    keys.mac_key = std::move(mac_key.value());
  }
  keys.sequence = LoadBe64(en.rec_seq);
  return keys;
}

}  // namespace ktls::session
