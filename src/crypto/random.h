// Cryptographically secure random bytes (explicit IVs, nonce counters, test keys).
#pragma once

#include <cstdint>

#include "base/bytes.h"

namespace ktls::crypto {

// Fills `out`; aborts if the system generator fails, since a predictable IV or nonce
// start is worse than stopping.
void FillRandom(MutableBytes out);
uint64_t RandomU64();

}  // namespace ktls::crypto
