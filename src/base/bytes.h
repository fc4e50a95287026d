// Byte-span vocabulary shared by every layer, plus big-endian load/store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace ktls {

using ConstBytes = std::span<const uint8_t>;
using MutableBytes = std::span<uint8_t>;

// Total length of a scatter/gather list.
inline size_t TotalSize(std::span<const ConstBytes> segments) {
  size_t total = 0;
  for (ConstBytes segment : segments) total += segment.size();
  return total;
}
inline size_t TotalSize(std::span<const MutableBytes> segments) {
  size_t total = 0;
  for (MutableBytes segment : segments) total += segment.size();
  return total;
}

// The segments of `data` after its first `skip` bytes (for resuming a partial send).
inline std::vector<ConstBytes> SkipBytes(std::span<const ConstBytes> data, size_t skip) {
  std::vector<ConstBytes> rest;
  for (ConstBytes segment : data) {
    if (skip >= segment.size()) {
      skip -= segment.size();
      continue;
    }
    rest.push_back(segment.subspan(skip));
    skip = 0;
  }
  return rest;
}

inline void StoreBe16(uint8_t* out, uint16_t value) {
  out[0] = static_cast<uint8_t>(value >> 8);
  out[1] = static_cast<uint8_t>(value);
}
inline uint16_t LoadBe16(const uint8_t* in) {
  return static_cast<uint16_t>((uint16_t{in[0]} << 8) | in[1]);
}
inline void StoreBe64(uint8_t* out, uint64_t value) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(value);
    value >>= 8;
  }
}
inline uint64_t LoadBe64(const uint8_t* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | in[i];
  return value;
}

// Compares without an early exit, so timing does not reveal where a tag differs.
inline bool ConstantTimeEqual(ConstBytes a, ConstBytes b) {
  if (a.size() != b.size()) return false;
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace ktls
