#include "crypto/raw_baselines.h"

#include <intel-ipsec-mb.h>
#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "base/secret_bytes.h"
#include "crypto/aead.h"
#include "crypto/backends.h"

namespace ktls::crypto {
namespace {

constexpr size_t kRecordAadLen = 5;  // a TLS 1.3 record header
constexpr std::array<uint8_t, kRecordAadLen> kAad = {23, 3, 3, 0x40, 0x11};

// Steps the low 8 bytes of the nonce, as XORing in a sequence number would.
void StepNonce(std::array<uint8_t, kAeadNonceLen>* nonce) {
  for (size_t i = nonce->size(); i-- > 4;) {
    if (++(*nonce)[i] != 0) break;
  }
}

// The baseline owns its manager: the job API keeps per-manager state, and sharing
// nothing with our backend keeps the comparison honest.
struct MgrDeleter {
  void operator()(IMB_MGR* mgr) const { free_mb_mgr(mgr); }
};
using MgrPtr = std::unique_ptr<IMB_MGR, MgrDeleter>;

MgrPtr NewManager() {
  MgrPtr mgr(alloc_mb_mgr(0));
  if (!mgr) return nullptr;
  IMB_ARCH arch = IMB_ARCH_NONE;
  init_mb_mgr_auto(mgr.get(), &arch);
  if (imb_get_errno(mgr.get()) != 0 || arch == IMB_ARCH_NONE || arch == IMB_ARCH_NOAESNI) {
    return nullptr;
  }
  return mgr;
}

class RawIpsecMbGcm final : public RawAeadBaseline {
 public:
  RawIpsecMbGcm(MgrPtr mgr, ConstBytes key) : mgr_(std::move(mgr)), aes256_(key.size() == 32) {
    if (aes256_) {
      IMB_AES256_GCM_PRE(mgr_.get(), key.data(), &key_);
    } else {
      IMB_AES128_GCM_PRE(mgr_.get(), key.data(), &key_);
    }
  }
  ~RawIpsecMbGcm() override { SecureWipe(&key_, sizeof(key_)); }

  void SealRecords(ConstBytes in, MutableBytes out, size_t count) override {
    IMB_MGR* mgr = mgr_.get();
    gcm_context_data ctx;
    for (size_t i = 0; i < count; ++i) {
      if (aes256_) {
        IMB_AES256_GCM_ENC(mgr, &key_, &ctx, out.data(), in.data(), in.size(), nonce_.data(),
                           kAad.data(), kAad.size(), tag_.data(), tag_.size());
      } else {
        IMB_AES128_GCM_ENC(mgr, &key_, &ctx, out.data(), in.data(), in.size(), nonce_.data(),
                           kAad.data(), kAad.size(), tag_.data(), tag_.size());
      }
      StepNonce(&nonce_);
    }
  }

 private:
  MgrPtr mgr_;
  bool aes256_;
  alignas(64) gcm_key_data key_;
  std::array<uint8_t, kAeadNonceLen> nonce_{};
  std::array<uint8_t, kAeadTagLen> tag_{};
};

// ipsec-mb has no one-shot direct ChaCha20-Poly1305 call; its one-shot form is a job.
class RawIpsecMbChaCha final : public RawAeadBaseline {
 public:
  RawIpsecMbChaCha(MgrPtr mgr, ConstBytes key) : mgr_(std::move(mgr)) {
    std::memcpy(key_.data(), key.data(), key_.size());
  }
  ~RawIpsecMbChaCha() override { SecureWipe(key_.data(), key_.size()); }

  void SealRecords(ConstBytes in, MutableBytes out, size_t count) override {
    IMB_MGR* mgr = mgr_.get();
    for (size_t i = 0; i < count; ++i) {
      IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
      job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
      job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
      job->cipher_direction = IMB_DIR_ENCRYPT;
      job->chain_order = IMB_ORDER_CIPHER_HASH;
      job->enc_keys = key_.data();
      job->key_len_in_bytes = key_.size();
      job->iv = nonce_.data();
      job->iv_len_in_bytes = nonce_.size();
      job->src = in.data();
      job->dst = out.data();
      job->cipher_start_src_offset_in_bytes = 0;
      job->msg_len_to_cipher_in_bytes = in.size();
      job->hash_start_src_offset_in_bytes = 0;
      job->msg_len_to_hash_in_bytes = in.size();
      job->u.CHACHA20_POLY1305.aad = kAad.data();
      job->u.CHACHA20_POLY1305.aad_len_in_bytes = kAad.size();
      job->auth_tag_output = tag_.data();
      job->auth_tag_output_len_in_bytes = tag_.size();
      job = IMB_SUBMIT_JOB(mgr);
      while (job == nullptr) job = IMB_FLUSH_JOB(mgr);
      if (job->status != IMB_STATUS_COMPLETED) AbortOnCryptoFailure("ipsec-mb ChaCha20 job");
      StepNonce(&nonce_);
    }
  }

 private:
  MgrPtr mgr_;
  std::array<uint8_t, 32> key_{};
  std::array<uint8_t, kAeadNonceLen> nonce_{};
  std::array<uint8_t, kAeadTagLen> tag_{};
};

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

class RawEvp final : public RawAeadBaseline {
 public:
  explicit RawEvp(CipherCtx ctx) : ctx_(std::move(ctx)) {}

  void SealRecords(ConstBytes in, MutableBytes out, size_t count) override {
    EVP_CIPHER_CTX* ctx = ctx_.get();
    for (size_t i = 0; i < count; ++i) {
      int len = 0;
      bool ok = EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce_.data()) == 1;
      ok = ok && EVP_EncryptUpdate(ctx, nullptr, &len, kAad.data(), kAad.size()) == 1;
      ok = ok &&
           EVP_EncryptUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(in.size())) == 1;
      ok = ok && EVP_EncryptFinal_ex(ctx, nullptr, &len) == 1;
      ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, tag_.size(), tag_.data()) == 1;
      if (!ok) AbortOnCryptoFailure("EVP baseline seal");
      StepNonce(&nonce_);
    }
  }

 private:
  CipherCtx ctx_;
  std::array<uint8_t, kAeadNonceLen> nonce_{};
  std::array<uint8_t, kAeadTagLen> tag_{};
};

Result<std::unique_ptr<RawAeadBaseline>> MakeIpsecMb(CipherKind cipher, ConstBytes key) {
  MgrPtr mgr = NewManager();
  if (!mgr) return Status::Error(ENOTSUP);
  if (cipher == CipherKind::kAesGcm && (key.size() == 16 || key.size() == 32)) {
    return std::unique_ptr<RawAeadBaseline>(std::make_unique<RawIpsecMbGcm>(std::move(mgr), key));
  }
  if (cipher == CipherKind::kChaCha20Poly1305 && key.size() == 32) {
    return std::unique_ptr<RawAeadBaseline>(
        std::make_unique<RawIpsecMbChaCha>(std::move(mgr), key));
  }
  return Status::Error(EINVAL);
}

Result<std::unique_ptr<RawAeadBaseline>> MakeEvp(CipherKind cipher, ConstBytes key) {
  const EVP_CIPHER* evp = nullptr;
  if (cipher == CipherKind::kAesGcm && key.size() == 16) evp = EVP_aes_128_gcm();
  if (cipher == CipherKind::kAesGcm && key.size() == 32) evp = EVP_aes_256_gcm();
  if (cipher == CipherKind::kChaCha20Poly1305 && key.size() == 32) evp = EVP_chacha20_poly1305();
  if (evp == nullptr) return Status::Error(EINVAL);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return Status::Error(ENOMEM);
  // Key once; only the IV changes per record, as a TLS stack does it.
  if (EVP_EncryptInit_ex(ctx.get(), evp, nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, kAeadNonceLen, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nullptr) != 1) {
    return Status::Error(EINVAL);
  }
  return std::unique_ptr<RawAeadBaseline>(std::make_unique<RawEvp>(std::move(ctx)));
}

}  // namespace

std::string_view RawLibraryName(RawLibrary library) {
  switch (library) {
    case RawLibrary::kIpsecMb:
      return "ipsec-mb";
    case RawLibrary::kOpenSslEvp:
      return "openssl-evp";
  }
  return "unknown";
}

Result<std::unique_ptr<RawAeadBaseline>> MakeRawAeadBaseline(RawLibrary library, CipherKind cipher,
                                                             ConstBytes key) {
  switch (library) {
    case RawLibrary::kIpsecMb:
      return MakeIpsecMb(cipher, key);
    case RawLibrary::kOpenSslEvp:
      return MakeEvp(cipher, key);
  }
  return Status::Error(EINVAL);
}

}  // namespace ktls::crypto
