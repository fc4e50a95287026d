#include "crypto/backend_choice.h"

#include <cpuid.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "base/startup_environment.h"
#include "crypto/backends.h"

namespace ktls::crypto {

std::string_view BackendName(Backend backend) {
  switch (backend) {
    case Backend::kOpenSsl:
      return "openssl";
    case Backend::kIpsecMb:
      return "ipsec_mb";
  }
  return "unknown";
}

void AbortOnCryptoFailure(const char* what) {
  (void)std::fprintf(stderr, "ktls: fatal: %s failed; refusing to emit an unprotected record\n",
                     what);
  std::abort();
}

CpuFeatures DetectCpuFeatures() {
  // Asked for every key a socket takes (ChooseBackend), but the answer never changes,
  // and in a virtual machine each cpuid traps to the hypervisor: tens of microseconds,
  // 7% of `ktls serve`'s CPU while thousands of clients connected.
  static const CpuFeatures features = [] {
    CpuFeatures f;
    unsigned eax = 0;
    unsigned ebx = 0;
    unsigned ecx = 0;
    unsigned edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0) {
      f.aesni = (ecx & bit_AES) != 0;
      f.pclmulqdq = (ecx & bit_PCLMUL) != 0;
    }
    if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) != 0) {
      f.avx2 = (ebx & bit_AVX2) != 0;
      f.avx512f = (ebx & bit_AVX512F) != 0;
      f.sha_ni = (ebx & bit_SHA) != 0;
      f.vaes = (ecx & bit_VAES) != 0;
      f.vpclmulqdq = (ecx & bit_VPCLMULQDQ) != 0;
    }
    return f;
  }();
  return features;
}

std::optional<Backend> BackendOverride() {
  const char* value = LibraryEnv(LibraryVariable::kCrypto);
  if (value == nullptr) return std::nullopt;
  const std::string_view name(value);
  if (name == "openssl") return Backend::kOpenSsl;
  if (name == "ipsec_mb") return Backend::kIpsecMb;
  return std::nullopt;
}

Backend ChooseBackend(SuiteId suite) {
  const std::optional<Backend> forced = BackendOverride();
  if (forced && GetSuite(suite).cipher != CipherKind::kAesCbc &&
      (*forced == Backend::kOpenSsl || IpsecMbAvailable())) {
    return *forced;
  }
  return AutomaticBackend(suite);
}

Backend AutomaticBackend(SuiteId suite) {
  const SuiteInfo& info = GetSuite(suite);
  // ipsec-mb serves only the AEADs; CBC suites always run on OpenSSL.
  if (info.cipher == CipherKind::kAesCbc) return Backend::kOpenSsl;
  if (!IpsecMbAvailable()) return Backend::kOpenSsl;
  // ipsec-mb's GCM wins wherever it has vector AES; without VAES OpenSSL's stitched
  // AES-NI GCM is as fast. Its ChaCha20-Poly1305 needs AVX-512 to beat OpenSSL.
  const CpuFeatures cpu = DetectCpuFeatures();
  if (info.cipher == CipherKind::kAesGcm) {
    return cpu.vaes && cpu.vpclmulqdq && IpsecMbArch() == "avx512" ? Backend::kIpsecMb
                                                                   : Backend::kOpenSsl;
  }
  return IpsecMbArch() == "avx512" ? Backend::kIpsecMb : Backend::kOpenSsl;
}

Result<std::unique_ptr<Aead>> MakeAead(CipherKind cipher, ConstBytes key, Backend backend) {
  switch (backend) {
    case Backend::kOpenSsl:
      return MakeOpenSslAead(cipher, key);
    case Backend::kIpsecMb:
      return MakeIpsecMbAead(cipher, key);
  }
  return Status::Error(EINVAL);
}

}  // namespace ktls::crypto
