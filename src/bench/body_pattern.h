// The benchmark's file bodies: bytes computed from their offset (and a seed), so a 1 GiB
// download can be checked for every byte in place without keeping a copy or hashing it,
// and a body shifted, repeated or truncated anywhere shows up at its first wrong byte.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/result.h"

namespace ktls::bench {

// The byte at `offset` of the body made from `seed`, for a whole span from `offset`.
void FillPattern(uint64_t seed, uint64_t offset, std::span<uint8_t> out);

// Writes `size` pattern bytes to `path` (created or truncated, mode 0644). errno.
Status WritePatternFile(const std::string& path, uint64_t size, uint64_t seed);

// Checks a body fed in arbitrary pieces against the pattern.
class PatternChecker {
 public:
  explicit PatternChecker(uint64_t seed) : seed_(seed) {}
  void Feed(std::span<const uint8_t> data);
  bool ok() const { return !mismatch_; }
  uint64_t bytes() const { return offset_; }
  // Offset of the first wrong byte; meaningful when !ok().
  uint64_t first_mismatch() const { return first_mismatch_; }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
  bool mismatch_ = false;
  uint64_t first_mismatch_ = 0;
};

}  // namespace ktls::bench
