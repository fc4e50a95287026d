// Follows handshake-message framing across records, which may cut messages anywhere
// (RFC 8446 §5.1), to spot the KeyUpdate messages that change a direction's keys.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "base/bytes.h"

namespace ktls::openssl {

inline constexpr uint8_t kKeyUpdateMessage = 24;  // RFC 8446 §4

class HandshakeStream {
 public:
  // Consumes the next handshake bytes; returns how many KeyUpdate messages they ended.
  int Feed(ConstBytes bytes) {
    int key_updates = 0;
    size_t pos = 0;
    while (pos < bytes.size()) {
      if (header_len_ < kHeaderLen) {
        header_[header_len_++] = bytes[pos++];
        if (header_len_ < kHeaderLen) continue;
        body_left_ = size_t{header_[1]} << 16 | size_t{header_[2]} << 8 | header_[3];
      } else {
        const size_t take = std::min(body_left_, bytes.size() - pos);
        pos += take;
        body_left_ -= take;
      }
      if (body_left_ == 0) {
        if (header_[0] == kKeyUpdateMessage) ++key_updates;
        header_len_ = 0;
      }
    }
    return key_updates;
  }

 private:
  static constexpr size_t kHeaderLen = 4;  // msg_type(1) length(3)
  uint8_t header_[kHeaderLen] = {};
  size_t header_len_ = 0;
  size_t body_left_ = 0;
};

}  // namespace ktls::openssl
