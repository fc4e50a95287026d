// Which backend seals a suite on this machine: the fastest one the CPU supports,
// unless KTLS_CRYPTO=openssl|ipsec_mb says otherwise.
#pragma once

#include <optional>
#include <string>

#include "crypto/aead.h"
#include "crypto/suite.h"

namespace ktls::crypto {

struct CpuFeatures {
  bool aesni = false;
  bool pclmulqdq = false;
  bool avx2 = false;
  bool avx512f = false;
  bool vaes = false;
  bool vpclmulqdq = false;
  bool sha_ni = false;
};
CpuFeatures DetectCpuFeatures();

// True when ipsec-mb is linked in and has a manager for this CPU.
bool IpsecMbAvailable();
// The ipsec-mb architecture in use ("avx512", "avx2", "sse", ...), or "" if unavailable.
std::string IpsecMbArch();

// The backend for `suite`, honouring KTLS_CRYPTO when it names a usable backend.
Backend ChooseBackend(SuiteId suite);
// The backend ChooseBackend would pick without KTLS_CRYPTO (what `ktls probe` compares).
Backend AutomaticBackend(SuiteId suite);
// Parses KTLS_CRYPTO (base/startup_environment.h); nullopt when unset or not a backend
// name.
std::optional<Backend> BackendOverride();

}  // namespace ktls::crypto
