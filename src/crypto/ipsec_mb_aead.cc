// AEADs on Intel Multi-Buffer Crypto: vector AES (VAES/VPCLMULQDQ) GCM and AVX-512
// ChaCha20-Poly1305, through the library's direct (non-job) streaming API.
#include <intel-ipsec-mb.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "base/secret_bytes.h"
#include "crypto/backend_choice.h"
#include "crypto/backends.h"
#include "crypto/segment_walk.h"

namespace ktls::crypto {
namespace {

// One manager for the process. The direct GCM and ChaCha20-Poly1305 calls keep all
// per-operation state in caller-owned contexts, so a shared manager is thread-safe.
struct Manager {
  IMB_MGR* mgr = nullptr;
  IMB_ARCH arch = IMB_ARCH_NONE;
};

const Manager& GetManager() {
  static const Manager manager = [] {
    Manager m;
    m.mgr = alloc_mb_mgr(0);
    if (m.mgr == nullptr) return m;
    init_mb_mgr_auto(m.mgr, &m.arch);
    if (imb_get_errno(m.mgr) != 0 || m.arch == IMB_ARCH_NONE || m.arch == IMB_ARCH_NOAESNI) {
      free_mb_mgr(m.mgr);
      m.mgr = nullptr;
    }
    return m;
  }();
  return manager;
}

// Expanded GCM keys live in aligned storage and are wiped with the object.
struct AlignedGcmKey {
  alignas(64) gcm_key_data data;
};

class IpsecMbGcm final : public Aead {
 public:
  IpsecMbGcm(IMB_MGR* mgr, ConstBytes key) : mgr_(mgr), aes256_(key.size() == 32) {
    if (aes256_) {
      IMB_AES256_GCM_PRE(mgr_, key.data(), &key_.data);
    } else {
      IMB_AES128_GCM_PRE(mgr_, key.data(), &key_.data);
    }
  }
  ~IpsecMbGcm() override { SecureWipe(&key_, sizeof(key_)); }

  void Seal(std::span<const uint8_t, kAeadNonceLen> nonce, ConstBytes aad,
            std::span<const ConstBytes> in, std::span<const MutableBytes> out,
            std::span<uint8_t, kAeadTagLen> tag) override {
    gcm_context_data ctx;
    if (aes256_) {
      IMB_AES256_GCM_INIT(mgr_, &key_.data, &ctx, nonce.data(), aad.data(), aad.size());
      WalkSegments(in, out, [&](uint8_t* dst, const uint8_t* src, size_t n) {
        IMB_AES256_GCM_ENC_UPDATE(mgr_, &key_.data, &ctx, dst, src, n);
      });
      IMB_AES256_GCM_ENC_FINALIZE(mgr_, &key_.data, &ctx, tag.data(), tag.size());
    } else {
      IMB_AES128_GCM_INIT(mgr_, &key_.data, &ctx, nonce.data(), aad.data(), aad.size());
      WalkSegments(in, out, [&](uint8_t* dst, const uint8_t* src, size_t n) {
        IMB_AES128_GCM_ENC_UPDATE(mgr_, &key_.data, &ctx, dst, src, n);
      });
      IMB_AES128_GCM_ENC_FINALIZE(mgr_, &key_.data, &ctx, tag.data(), tag.size());
    }
    SecureWipe(&ctx, sizeof(ctx));
  }

  bool Open(std::span<const uint8_t, kAeadNonceLen> nonce, ConstBytes aad,
            std::span<const ConstBytes> in, std::span<const MutableBytes> out,
            std::span<const uint8_t, kAeadTagLen> tag) override {
    gcm_context_data ctx;
    uint8_t computed[kAeadTagLen];
    if (aes256_) {
      IMB_AES256_GCM_INIT(mgr_, &key_.data, &ctx, nonce.data(), aad.data(), aad.size());
      WalkSegments(in, out, [&](uint8_t* dst, const uint8_t* src, size_t n) {
        IMB_AES256_GCM_DEC_UPDATE(mgr_, &key_.data, &ctx, dst, src, n);
      });
      IMB_AES256_GCM_DEC_FINALIZE(mgr_, &key_.data, &ctx, computed, sizeof(computed));
    } else {
      IMB_AES128_GCM_INIT(mgr_, &key_.data, &ctx, nonce.data(), aad.data(), aad.size());
      WalkSegments(in, out, [&](uint8_t* dst, const uint8_t* src, size_t n) {
        IMB_AES128_GCM_DEC_UPDATE(mgr_, &key_.data, &ctx, dst, src, n);
      });
      IMB_AES128_GCM_DEC_FINALIZE(mgr_, &key_.data, &ctx, computed, sizeof(computed));
    }
    SecureWipe(&ctx, sizeof(ctx));
    return ConstantTimeEqual(computed, tag);
  }

  Backend backend() const override { return Backend::kIpsecMb; }

 private:
  IMB_MGR* mgr_;
  bool aes256_;
  AlignedGcmKey key_;
};

class IpsecMbChaCha final : public Aead {
 public:
  IpsecMbChaCha(IMB_MGR* mgr, ConstBytes key) : mgr_(mgr) {
    std::memcpy(key_, key.data(), sizeof(key_));
  }
  ~IpsecMbChaCha() override { SecureWipe(key_, sizeof(key_)); }

  void Seal(std::span<const uint8_t, kAeadNonceLen> nonce, ConstBytes aad,
            std::span<const ConstBytes> in, std::span<const MutableBytes> out,
            std::span<uint8_t, kAeadTagLen> tag) override {
    chacha20_poly1305_context_data ctx;
    IMB_CHACHA20_POLY1305_INIT(mgr_, key_, &ctx, nonce.data(), aad.data(), aad.size());
    WalkSegments(in, out, [&](uint8_t* dst, const uint8_t* src, size_t n) {
      IMB_CHACHA20_POLY1305_ENC_UPDATE(mgr_, key_, &ctx, dst, src, n);
    });
    IMB_CHACHA20_POLY1305_ENC_FINALIZE(mgr_, &ctx, tag.data(), tag.size());
    SecureWipe(&ctx, sizeof(ctx));
  }

  bool Open(std::span<const uint8_t, kAeadNonceLen> nonce, ConstBytes aad,
            std::span<const ConstBytes> in, std::span<const MutableBytes> out,
            std::span<const uint8_t, kAeadTagLen> tag) override {
    chacha20_poly1305_context_data ctx;
    uint8_t computed[kAeadTagLen];
    IMB_CHACHA20_POLY1305_INIT(mgr_, key_, &ctx, nonce.data(), aad.data(), aad.size());
    WalkSegments(in, out, [&](uint8_t* dst, const uint8_t* src, size_t n) {
      IMB_CHACHA20_POLY1305_DEC_UPDATE(mgr_, key_, &ctx, dst, src, n);
    });
    IMB_CHACHA20_POLY1305_DEC_FINALIZE(mgr_, &ctx, computed, sizeof(computed));
    SecureWipe(&ctx, sizeof(ctx));
    return ConstantTimeEqual(computed, tag);
  }

  Backend backend() const override { return Backend::kIpsecMb; }

 private:
  IMB_MGR* mgr_;
  uint8_t key_[32];
};

}  // namespace

bool IpsecMbAvailable() { return GetManager().mgr != nullptr; }

std::string IpsecMbArch() {
  switch (GetManager().arch) {
    case IMB_ARCH_SSE:
      return "sse";
    case IMB_ARCH_AVX:
      return "avx";
    case IMB_ARCH_AVX2:
      return "avx2";
    case IMB_ARCH_AVX512:
      return "avx512";
    default:
      return "";
  }
}

Result<std::unique_ptr<Aead>> MakeIpsecMbAead(CipherKind cipher, ConstBytes key) {
  IMB_MGR* mgr = GetManager().mgr;
  if (mgr == nullptr) return Status::Error(ENOTSUP);
  switch (cipher) {
    case CipherKind::kAesGcm:
      if (key.size() != 16 && key.size() != 32) return Status::Error(EINVAL);
      return std::unique_ptr<Aead>(std::make_unique<IpsecMbGcm>(mgr, key));
    case CipherKind::kChaCha20Poly1305:
      if (key.size() != 32) return Status::Error(EINVAL);
      return std::unique_ptr<Aead>(std::make_unique<IpsecMbChaCha>(mgr, key));
    case CipherKind::kAesCbc:
      break;
  }
  return Status::Error(EINVAL);
}

}  // namespace ktls::crypto
