// Factories of the individual backends. Internal to crypto/: callers use MakeAead.
#pragma once

#include <memory>

#include "crypto/aead.h"

namespace ktls::crypto {

Result<std::unique_ptr<Aead>> MakeOpenSslAead(CipherKind cipher, ConstBytes key);
Result<std::unique_ptr<Aead>> MakeIpsecMbAead(CipherKind cipher, ConstBytes key);

// Crypto that cannot fail with valid inputs failed: stop rather than emit bad records.
[[noreturn]] void AbortOnCryptoFailure(const char* what);

}  // namespace ktls::crypto
