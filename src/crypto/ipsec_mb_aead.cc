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

// The job API keeps its queue in the manager, so unlike the direct calls it cannot
// use the shared one: each thread that needs it gets its own (~200 KB) on first use.
IMB_MGR* ThreadJobManager() {
  struct Owned {
    IMB_MGR* mgr = nullptr;
    ~Owned() {
      if (mgr != nullptr) free_mb_mgr(mgr);
    }
  };
  thread_local Owned owned = [] {
    Owned o;
    if (GetManager().mgr == nullptr) return o;
    o.mgr = alloc_mb_mgr(0);
    if (o.mgr == nullptr) return o;
    IMB_ARCH arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(o.mgr, &arch);
    if (imb_get_errno(o.mgr) != 0 || arch == IMB_ARCH_NONE) {
      free_mb_mgr(o.mgr);
      o.mgr = nullptr;
    }
    return o;
  }();
  return owned.mgr;
}

// ChaCha20-Poly1305 over one contiguous buffer as a single job. The direct API is
// slow on a trailing partial 64-byte block (a 1 KiB TLS 1.3 record is 1025 bytes):
// ~600 ns there against ~430 ns for the job. False if ipsec-mb rejected the job.
bool ChaChaJob(IMB_MGR* mgr, IMB_CIPHER_DIRECTION direction, const uint8_t* key,
               const uint8_t* nonce, ConstBytes aad, const uint8_t* src, uint8_t* dst, size_t len,
               uint8_t* tag) {
  IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
  job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
  job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
  job->cipher_direction = direction;
  job->chain_order = direction == IMB_DIR_ENCRYPT ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
  job->enc_keys = key;
  job->dec_keys = key;
  job->key_len_in_bytes = 32;
  job->iv = nonce;
  job->iv_len_in_bytes = kAeadNonceLen;
  job->src = src;
  job->dst = dst;
  job->cipher_start_src_offset_in_bytes = 0;
  job->msg_len_to_cipher_in_bytes = len;
  job->hash_start_src_offset_in_bytes = 0;
  job->msg_len_to_hash_in_bytes = len;
  job->u.CHACHA20_POLY1305.aad = aad.data();
  job->u.CHACHA20_POLY1305.aad_len_in_bytes = aad.size();
  job->auth_tag_output = tag;
  job->auth_tag_output_len_in_bytes = kAeadTagLen;
  // Only this job is ever in flight on the thread's manager, so what comes back is it.
  job = IMB_SUBMIT_JOB(mgr);
  while (job == nullptr) job = IMB_FLUSH_JOB(mgr);
  return job->status == IMB_STATUS_COMPLETED;
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
    const size_t len = TotalSize(in);
    // A short scatter list (a TLS 1.3 payload plus its type byte) is gathered into the
    // output and sealed there as one job: copying 1 KiB costs ~25 ns, the direct API's
    // second segment and partial block ~150 ns. From 16 KiB on the copy costs more.
    const bool gather = in.size() > 1 && len <= kGatherLimit;
    IMB_MGR* job_mgr = (in.size() == 1 || gather) ? JobManagerFor(len, out) : nullptr;
    if (job_mgr != nullptr) {
      const uint8_t* src = gather ? Gather(in, out[0]) : in[0].data();
      if (!ChaChaJob(job_mgr, IMB_DIR_ENCRYPT, key_, nonce.data(), aad, src, out[0].data(), len,
                     tag.data())) {
        AbortOnCryptoFailure("ipsec-mb ChaCha20-Poly1305 seal");
      }
      return;
    }
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
    uint8_t computed[kAeadTagLen];
    IMB_MGR* job_mgr = in.size() == 1 ? JobManagerFor(in[0].size(), out) : nullptr;
    if (job_mgr != nullptr) {
      // The job checks nothing: it decrypts and writes the tag it computed.
      if (!ChaChaJob(job_mgr, IMB_DIR_DECRYPT, key_, nonce.data(), aad, in[0].data(), out[0].data(),
                     in[0].size(), computed)) {
        AbortOnCryptoFailure("ipsec-mb ChaCha20-Poly1305 open");
      }
      return ConstantTimeEqual(computed, tag);
    }
    chacha20_poly1305_context_data ctx;
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
  static constexpr size_t kGatherLimit = 8192;

  // The one-shot job writes one non-empty output buffer; other shapes (and empty
  // messages) stream through the direct API instead.
  static IMB_MGR* JobManagerFor(size_t len, std::span<const MutableBytes> out) {
    if (out.size() != 1 || len == 0) return nullptr;
    return ThreadJobManager();
  }

  // Copies the input list into `out`, skipping a segment already in its place. The
  // Aead contract rules out any other overlap, so no copy clobbers a later input.
  static const uint8_t* Gather(std::span<const ConstBytes> in, MutableBytes out) {
    size_t offset = 0;
    for (const ConstBytes segment : in) {
      if (!segment.empty() && segment.data() != out.data() + offset) {
        std::memmove(out.data() + offset, segment.data(), segment.size());
      }
      offset += segment.size();
    }
    return out.data();
  }

  IMB_MGR* mgr_;
  uint8_t key_[32];
};

}  // namespace

bool IpsecMbAvailable() {
  return GetManager().mgr != nullptr;
}

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
