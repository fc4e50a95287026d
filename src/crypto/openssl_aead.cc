// AEADs on OpenSSL 3 EVP: the portable backend, used for every suite on every CPU.
#include <openssl/evp.h>

#include <cassert>
#include <cerrno>
#include <climits>

#include "crypto/aead.h"
#include "crypto/backends.h"
#include "crypto/segment_walk.h"

namespace ktls::crypto {
namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

class OpenSslAead final : public Aead {
 public:
  OpenSslAead(CipherCtx seal, CipherCtx open) : seal_(std::move(seal)), open_(std::move(open)) {}

  void Seal(std::span<const uint8_t, kAeadNonceLen> nonce, ConstBytes aad,
            std::span<const ConstBytes> in, std::span<const MutableBytes> out,
            std::span<uint8_t, kAeadTagLen> tag) override {
    EVP_CIPHER_CTX* ctx = seal_.get();
    int len = 0;
    bool ok = EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) == 1;
    ok = ok && (aad.empty() || EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(),
                                                 static_cast<int>(aad.size())) == 1);
    WalkSegments(in, out, [&](uint8_t* dst, const uint8_t* src, size_t n) {
      ok = ok && EVP_EncryptUpdate(ctx, dst, &len, src, static_cast<int>(n)) == 1;
    });
    ok = ok && EVP_EncryptFinal_ex(ctx, nullptr, &len) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kAeadTagLen, tag.data()) == 1;
    // Stream AEAD encryption with a valid key cannot fail; if it ever did, sending
    // the output would put garbage (or plaintext) on the wire.
    if (!ok) AbortOnCryptoFailure("EVP AEAD seal");
  }

  bool Open(std::span<const uint8_t, kAeadNonceLen> nonce, ConstBytes aad,
            std::span<const ConstBytes> in, std::span<const MutableBytes> out,
            std::span<const uint8_t, kAeadTagLen> tag) override {
    EVP_CIPHER_CTX* ctx = open_.get();
    int len = 0;
    bool ok = EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) == 1;
    ok = ok && (aad.empty() || EVP_DecryptUpdate(ctx, nullptr, &len, aad.data(),
                                                 static_cast<int>(aad.size())) == 1);
    WalkSegments(in, out, [&](uint8_t* dst, const uint8_t* src, size_t n) {
      ok = ok && EVP_DecryptUpdate(ctx, dst, &len, src, static_cast<int>(n)) == 1;
    });
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kAeadTagLen,
                                   const_cast<uint8_t*>(tag.data())) == 1;
    return ok && EVP_DecryptFinal_ex(ctx, nullptr, &len) == 1;
  }

  Backend backend() const override { return Backend::kOpenSsl; }

 private:
  CipherCtx seal_;
  CipherCtx open_;
};

const EVP_CIPHER* AeadCipher(CipherKind cipher, size_t key_len) {
  switch (cipher) {
    case CipherKind::kAesGcm:
      if (key_len == 16) return EVP_aes_128_gcm();
      if (key_len == 32) return EVP_aes_256_gcm();
      return nullptr;
    case CipherKind::kChaCha20Poly1305:
      return key_len == 32 ? EVP_chacha20_poly1305() : nullptr;
    case CipherKind::kAesCbc:
      return nullptr;
  }
  return nullptr;
}

CipherCtx NewKeyedCtx(const EVP_CIPHER* cipher, ConstBytes key, bool encrypt) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return nullptr;
  if (EVP_CipherInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, kAeadNonceLen, nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key.data(), nullptr, encrypt ? 1 : 0) != 1) {
    return nullptr;
  }
  return ctx;
}

}  // namespace

Result<std::unique_ptr<Aead>> MakeOpenSslAead(CipherKind cipher, ConstBytes key) {
  const EVP_CIPHER* evp = AeadCipher(cipher, key.size());
  if (evp == nullptr) return Status::Error(EINVAL);
  CipherCtx seal = NewKeyedCtx(evp, key, /*encrypt=*/true);
  CipherCtx open = NewKeyedCtx(evp, key, /*encrypt=*/false);
  if (!seal || !open) return Status::Error(ENOMEM);
  return std::unique_ptr<Aead>(std::make_unique<OpenSslAead>(std::move(seal), std::move(open)));
}

}  // namespace ktls::crypto
