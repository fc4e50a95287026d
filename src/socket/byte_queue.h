// A FIFO of bytes in one contiguous buffer: sealed records wait here until the kernel
// takes them, received ciphertext waits here until a whole record is present.
// Appending reserves space at the tail; consuming advances the head; the buffer
// compacts lazily so the common case never moves data.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "base/bytes.h"

namespace ktls::socket {

class ByteQueue {
 public:
  size_t size() const { return tail_ - head_; }
  bool empty() const { return head_ == tail_; }
  const uint8_t* data() const { return buffer_.data() + head_; }
  uint8_t* data() { return buffer_.data() + head_; }
  ConstBytes view() const { return {data(), size()}; }

  // Returns `len` writable bytes at the tail; they count once Commit()ed.
  MutableBytes Reserve(size_t len) {
    if (buffer_.size() - tail_ < len) MakeRoom(len);
    return {buffer_.data() + tail_, len};
  }
  void Commit(size_t len) { tail_ += len; }

  void Append(ConstBytes bytes) {
    MutableBytes space = Reserve(bytes.size());
    if (!bytes.empty()) std::memcpy(space.data(), bytes.data(), bytes.size());
    Commit(bytes.size());
  }

  void Consume(size_t len) {
    head_ += len;
    if (head_ == tail_) head_ = tail_ = 0;
  }

  void Clear() { head_ = tail_ = 0; }
  // Drops memory beyond `keep` bytes of capacity when idle.
  void ShrinkIfIdle(size_t keep) {
    if (empty() && buffer_.size() > keep) {
      buffer_.resize(keep);
      buffer_.shrink_to_fit();
    }
  }

 private:
  void MakeRoom(size_t len) {
    const size_t live = size();
    if (buffer_.size() - live >= len) {
      std::memmove(buffer_.data(), buffer_.data() + head_, live);
    } else {
      std::vector<uint8_t> bigger(std::max(buffer_.size() * 2, live + len));
      if (live > 0) std::memcpy(bigger.data(), buffer_.data() + head_, live);
      buffer_.swap(bigger);
    }
    head_ = 0;
    tail_ = live;
  }

  std::vector<uint8_t> buffer_;
  size_t head_ = 0;
  size_t tail_ = 0;
};

}  // namespace ktls::socket
