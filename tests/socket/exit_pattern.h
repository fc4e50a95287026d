// The byte stream exit_drain_helper writes and api_lifecycle_test expects: byte i of a
// fixed pseudo-random sequence, so both sides agree without sharing the data.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ktls::testing {

inline uint8_t ExitPatternByte(uint64_t index) {
  uint64_t z = (index / 8 + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<uint8_t>(z >> (8 * (index % 8)));
}

inline void FillExitPattern(uint64_t offset, uint8_t* out, size_t len) {
  for (size_t i = 0; i < len; ++i) out[i] = ExitPatternByte(offset + i);
}

}  // namespace ktls::testing
