// Range requests (RFC 9110 §14) over one file of known size. Policy: a single
// satisfiable range gets 206; a set of several ranges is answered with the whole file
// (200) when any of them is satisfiable, 416 otherwise (no multipart/byteranges); a
// malformed field or another unit is ignored (200), as §14.2 allows.
#pragma once

#include <cstdint>
#include <string_view>

namespace ktls::server {

enum class RangeKind : uint8_t { kWhole, kPartial, kUnsatisfiable };

struct RangeDecision {
  RangeKind kind = RangeKind::kWhole;
  uint64_t first = 0;   // kPartial: first byte
  uint64_t length = 0;  // kPartial: bytes from `first`
};

// `field` is the Range field value, e.g. "bytes=0-99", "bytes=-500", "bytes=100-".
RangeDecision EvaluateRange(std::string_view field, uint64_t size);

}  // namespace ktls::server
