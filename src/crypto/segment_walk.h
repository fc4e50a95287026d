// Walks two scatter/gather lists of equal total length in lock step, handing each
// maximal run that lies inside one input and one output segment to `fn`. Backends use
// it to drive streaming cipher updates without copying into a bounce buffer.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>

#include "base/bytes.h"

namespace ktls::crypto {

template <typename Fn>
void WalkSegments(std::span<const ConstBytes> in, std::span<const MutableBytes> out, Fn&& fn) {
  size_t in_index = 0;
  size_t in_offset = 0;
  size_t out_index = 0;
  size_t out_offset = 0;
  while (in_index < in.size() && out_index < out.size()) {
    const ConstBytes src = in[in_index];
    const MutableBytes dst = out[out_index];
    const size_t run = std::min(src.size() - in_offset, dst.size() - out_offset);
    if (run > 0) fn(dst.data() + out_offset, src.data() + in_offset, run);
    in_offset += run;
    out_offset += run;
    if (in_offset == src.size()) {
      ++in_index;
      in_offset = 0;
    }
    if (out_offset == dst.size()) {
      ++out_index;
      out_offset = 0;
    }
  }
}

}  // namespace ktls::crypto
