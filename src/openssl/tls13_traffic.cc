#include "openssl/tls13_traffic.h"

#include <cerrno>

#include "crypto/key_schedule.h"

namespace ktls::openssl {
namespace {

constexpr size_t kTls13IvLen = 12;

Result<crypto::HashKind> HashOfSecret(ConstBytes secret) {
  if (secret.size() == crypto::HashLen(crypto::HashKind::kSha256)) return crypto::HashKind::kSha256;
  if (secret.size() == crypto::HashLen(crypto::HashKind::kSha384)) return crypto::HashKind::kSha384;
  return Status::Error(EINVAL);
}

}  // namespace

Result<SecretBytes> NextTrafficSecret(ConstBytes secret) {
  Result<crypto::HashKind> hash = HashOfSecret(secret);
  if (!hash.ok()) return hash.status();
  return crypto::HkdfExpandLabel(*hash, secret, "traffic upd", {}, secret.size());
}

Result<record::RecordKeys> Tls13KeysFromSecret(crypto::SuiteId suite, ConstBytes secret,
                                               uint64_t sequence) {
  Result<crypto::HashKind> hash = HashOfSecret(secret);
  if (!hash.ok()) return hash.status();
  const crypto::SuiteInfo& info = crypto::GetSuite(suite);
  if (info.tls13_iv_len == 0) return Status::Error(ENOTSUP);
  Result<SecretBytes> key = crypto::HkdfExpandLabel(*hash, secret, "key", {}, info.key_len);
  if (!key.ok()) return key.status();
  Result<SecretBytes> iv = crypto::HkdfExpandLabel(*hash, secret, "iv", {}, kTls13IvLen);
  if (!iv.ok()) return iv.status();
  record::RecordKeys keys;
  keys.suite = suite;
  keys.version = crypto::TlsVersion::kTls13;
  keys.cipher_key = std::move(key).value();
  keys.iv = std::move(iv).value();
  keys.sequence = sequence;
  return keys;
}

}  // namespace ktls::openssl
