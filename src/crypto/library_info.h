// Versions and build options of the crypto libraries we link, for diagnostics
// (`ktls probe`). Here because only crypto/ may include their headers.
#pragma once

#include <string>

namespace ktls::crypto {

// OpenSSL's runtime version string, e.g. "OpenSSL 3.0.19 27 Jan 2026".
std::string OpenSslVersion();

// True when the OpenSSL headers we built against were configured with kernel TLS
// support (no OPENSSL_NO_KTLS), i.e. OpenSSL itself would try the Linux TLS ULP.
bool OpenSslBuiltWithKtls();

// intel-ipsec-mb's runtime version string, e.g. "1.3.0".
std::string IpsecMbVersion();

}  // namespace ktls::crypto
