#include "crypto/library_info.h"

#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>
#include <openssl/opensslconf.h>

namespace ktls::crypto {

std::string OpenSslVersion() {
  return OpenSSL_version(OPENSSL_VERSION);
}

bool OpenSslBuiltWithKtls() {
  // OpenSSL 3 has no runtime query; its configuration header says it at build time.
#ifdef OPENSSL_NO_KTLS
  return false;
#else
  return true;
#endif
}

std::string IpsecMbVersion() {
  const char* version = imb_get_version_str();
  return version != nullptr ? version : "";
}

}  // namespace ktls::crypto
