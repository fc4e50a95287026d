#include "crypto/random.h"

#include <openssl/rand.h>

#include "crypto/backends.h"

namespace ktls::crypto {

void FillRandom(MutableBytes out) {
  if (out.empty()) return;
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    AbortOnCryptoFailure("RAND_bytes");
  }
}

uint64_t RandomU64() {
  uint8_t bytes[8];
  FillRandom(bytes);
  return LoadBe64(bytes);
}

}  // namespace ktls::crypto
