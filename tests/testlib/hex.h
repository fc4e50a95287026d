// Hex conversion for test vectors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"

namespace ktls::testing {

// Decodes hex, ignoring whitespace; aborts the test binary on malformed input.
std::vector<uint8_t> FromHex(std::string_view hex);
std::string ToHex(ConstBytes bytes);

}  // namespace ktls::testing
