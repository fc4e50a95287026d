// The 5-byte TLS record header (RFC 5246 §6.2.1, RFC 8446 §5.1) and content types.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/bytes.h"

namespace ktls::record {

inline constexpr size_t kHeaderLen = 5;
inline constexpr size_t kMaxPlaintextLen = 16384;  // 2^14, every version

enum class ContentType : uint8_t {
  kChangeCipherSpec = 20,
  kAlert = 21,
  kHandshake = 22,
  kApplicationData = 23,
};
inline constexpr uint8_t kApplicationData = static_cast<uint8_t>(ContentType::kApplicationData);

struct Header {
  uint8_t type = 0;
  uint8_t major = 0;
  uint8_t minor = 0;
  uint16_t length = 0;  // bytes after the header
};

inline Header ParseHeader(const uint8_t* in) {
  return Header{in[0], in[1], in[2], LoadBe16(in + 3)};
}

inline void WriteHeader(const Header& header, uint8_t* out) {
  out[0] = header.type;
  out[1] = header.major;
  out[2] = header.minor;
  StoreBe16(out + 3, header.length);
}

}  // namespace ktls::record
