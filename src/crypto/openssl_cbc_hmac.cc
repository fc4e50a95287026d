// AES-CBC and HMAC on OpenSSL 3 EVP for the MAC-then-encrypt suites.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cerrno>

#include "crypto/backends.h"
#include "crypto/cbc_hmac.h"

namespace ktls::crypto {
namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
struct MacDeleter {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;
using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

const char* DigestName(MacKind mac) {
  switch (mac) {
    case MacKind::kHmacSha1:
      return "SHA1";
    case MacKind::kHmacSha256:
      return "SHA256";
    case MacKind::kHmacSha384:
      return "SHA384";
    case MacKind::kNone:
      break;
  }
  return nullptr;
}

class OpenSslCbcHmac final : public CbcHmac {
 public:
  OpenSslCbcHmac(CipherCtx enc, CipherCtx dec, MacCtx mac, size_t mac_len)
      : enc_(std::move(enc)), dec_(std::move(dec)), mac_(std::move(mac)), mac_len_(mac_len) {}

  void Mac(std::span<const ConstBytes> in, MutableBytes out) override {
    // A null key re-initialises the context with the key it already holds.
    bool ok = EVP_MAC_init(mac_.get(), nullptr, 0, nullptr) == 1;
    for (ConstBytes segment : in) {
      ok = ok && EVP_MAC_update(mac_.get(), segment.data(), segment.size()) == 1;
    }
    size_t written = 0;
    ok = ok && EVP_MAC_final(mac_.get(), out.data(), &written, out.size()) == 1;
    if (!ok || written != mac_len_) AbortOnCryptoFailure("HMAC");
  }

  void Encrypt(std::span<const uint8_t, kCbcBlockLen> iv, ConstBytes in,
               MutableBytes out) override {
    Run(enc_.get(), iv, in, out, /*encrypt=*/true);
  }
  void Decrypt(std::span<const uint8_t, kCbcBlockLen> iv, ConstBytes in,
               MutableBytes out) override {
    Run(dec_.get(), iv, in, out, /*encrypt=*/false);
  }

  size_t mac_len() const override { return mac_len_; }
  Backend backend() const override { return Backend::kOpenSsl; }

 private:
  static void Run(EVP_CIPHER_CTX* ctx, std::span<const uint8_t, kCbcBlockLen> iv, ConstBytes in,
                  MutableBytes out, bool encrypt) {
    int len = 0;
    bool ok = in.size() % kCbcBlockLen == 0 && out.size() >= in.size();
    ok = ok && EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, iv.data(), encrypt ? 1 : 0) == 1;
    ok = ok && (in.empty() || EVP_CipherUpdate(ctx, out.data(), &len, in.data(),
                                               static_cast<int>(in.size())) == 1);
    if (!ok) AbortOnCryptoFailure("AES-CBC");
  }

  CipherCtx enc_;
  CipherCtx dec_;
  MacCtx mac_;
  size_t mac_len_;
};

CipherCtx NewCbcCtx(ConstBytes key, bool encrypt) {
  const EVP_CIPHER* cipher = key.size() == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return nullptr;
  if (EVP_CipherInit_ex(ctx.get(), cipher, nullptr, key.data(), nullptr, encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) {
    return nullptr;
  }
  return ctx;
}

}  // namespace

Result<std::unique_ptr<CbcHmac>> MakeCbcHmac(MacKind mac, ConstBytes cipher_key,
                                             ConstBytes mac_key) {
  const char* digest = DigestName(mac);
  if (digest == nullptr) return Status::Error(EINVAL);
  if (cipher_key.size() != 16 && cipher_key.size() != 32) return Status::Error(EINVAL);
  if (mac_key.empty()) return Status::Error(EINVAL);

  std::unique_ptr<EVP_MAC, MacDeleter> hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!hmac) return Status::Error(ENOMEM);
  MacCtx mac_ctx(EVP_MAC_CTX_new(hmac.get()));
  if (!mac_ctx) return Status::Error(ENOMEM);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(mac_ctx.get(), mac_key.data(), mac_key.size(), params) != 1) {
    return Status::Error(EINVAL);
  }
  const size_t mac_len = EVP_MAC_CTX_get_mac_size(mac_ctx.get());

  CipherCtx enc = NewCbcCtx(cipher_key, /*encrypt=*/true);
  CipherCtx dec = NewCbcCtx(cipher_key, /*encrypt=*/false);
  if (!enc || !dec) return Status::Error(ENOMEM);
  return std::unique_ptr<CbcHmac>(std::make_unique<OpenSslCbcHmac>(std::move(enc), std::move(dec),
                                                                   std::move(mac_ctx), mac_len));
}

}  // namespace ktls::crypto
