#include "crypto/key_schedule.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <cerrno>
#include <memory>
#include <vector>

namespace ktls::crypto {
namespace {

struct KdfDeleter {
  void operator()(EVP_KDF* kdf) const { EVP_KDF_free(kdf); }
};
struct KdfCtxDeleter {
  void operator()(EVP_KDF_CTX* ctx) const { EVP_KDF_CTX_free(ctx); }
};

const char* DigestName(HashKind hash) {
  switch (hash) {
    case HashKind::kSha256:
      return "SHA256";
    case HashKind::kSha384:
      return "SHA384";
    case HashKind::kMd5Sha1:
      return "MD5-SHA1";
  }
  return "SHA256";
}

Result<SecretBytes> Derive(const char* kdf_name, OSSL_PARAM* params, size_t length) {
  std::unique_ptr<EVP_KDF, KdfDeleter> kdf(EVP_KDF_fetch(nullptr, kdf_name, nullptr));
  if (!kdf) return Status::Error(ENOTSUP);
  std::unique_ptr<EVP_KDF_CTX, KdfCtxDeleter> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return Status::Error(ENOMEM);
  SecretBytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return Status::Error(EINVAL);
  }
  return out;
}

}  // namespace

size_t HashLen(HashKind hash) {
  switch (hash) {
    case HashKind::kSha256:
      return 32;
    case HashKind::kSha384:
      return 48;
    case HashKind::kMd5Sha1:
      return 36;
  }
  return 0;
}

Result<SecretBytes> HkdfExpandLabel(HashKind hash, ConstBytes secret, std::string_view label,
                                    ConstBytes context, size_t length) {
  constexpr std::string_view kPrefix = "tls13 ";
  if (length > 0xffff || kPrefix.size() + label.size() > 255 || context.size() > 255) {
    return Status::Error(EINVAL);
  }
  // struct HkdfLabel { uint16 length; opaque label<7..255>; opaque context<0..255>; }
  std::vector<uint8_t> info;
  info.reserve(4 + kPrefix.size() + label.size() + context.size());
  info.push_back(static_cast<uint8_t>(length >> 8));
  info.push_back(static_cast<uint8_t>(length));
  info.push_back(static_cast<uint8_t>(kPrefix.size() + label.size()));
  info.insert(info.end(), kPrefix.begin(), kPrefix.end());
  info.insert(info.end(), label.begin(), label.end());
  info.push_back(static_cast<uint8_t>(context.size()));
  info.insert(info.end(), context.begin(), context.end());

  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(DigestName(hash)),
                                       0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(secret.data()),
                                        secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end()};
  return Derive("HKDF", params, length);
}

Result<SecretBytes> TlsPrf(HashKind hash, ConstBytes secret, std::string_view label,
                           ConstBytes seed, size_t length) {
  // The PRF's seed is label || seed; OpenSSL concatenates repeated seed parameters.
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(DigestName(hash)),
                                       0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, const_cast<uint8_t*>(secret.data()),
                                        secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, const_cast<char*>(label.data()),
                                        label.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, const_cast<uint8_t*>(seed.data()),
                                        seed.size()),
      OSSL_PARAM_construct_end()};
  return Derive("TLS1-PRF", params, length);
}

}  // namespace ktls::crypto
