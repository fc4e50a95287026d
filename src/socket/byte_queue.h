// A FIFO of bytes in one contiguous buffer: sealed records wait here until the kernel
// takes them, received ciphertext waits here until a whole record is present.
// Appending reserves space at the tail; consuming advances the head; the buffer
// compacts lazily so the common case never moves data. The storage is not zeroed: only
// committed bytes are ever read, and zeroing would touch (make resident) every page of
// a receive buffer that mostly holds a request of a few hundred bytes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "base/bytes.h"

namespace ktls::socket {

class ByteQueue {
 public:
  size_t size() const { return tail_ - head_; }
  bool empty() const { return head_ == tail_; }
  size_t capacity() const { return capacity_; }
  const uint8_t* data() const { return buffer_.get() + head_; }
  uint8_t* data() { return buffer_.get() + head_; }
  ConstBytes view() const { return {data(), size()}; }

  // Returns `len` writable bytes at the tail; they count once Commit()ed.
  MutableBytes Reserve(size_t len) {
    if (capacity_ - tail_ < len) MakeRoom(len);
    return {buffer_.get() + tail_, len};
  }
  void Commit(size_t len) { tail_ += len; }

  // Makes room for `len` more bytes in one step, sized exactly: a burst of known size
  // (a file response) then does not double the buffer past what it needs.
  void Prepare(size_t len) {
    if (capacity_ - size() < len) Grow(size() + len);
  }

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
    if (empty() && capacity_ > keep) {
      buffer_ = keep > 0 ? std::make_unique_for_overwrite<uint8_t[]>(keep) : nullptr;
      capacity_ = keep;
      head_ = tail_ = 0;
    }
  }

 private:
  void MakeRoom(size_t len) {
    const size_t live = size();
    if (capacity_ - live >= len) {
      if (live > 0) std::memmove(buffer_.get(), buffer_.get() + head_, live);
      head_ = 0;
      tail_ = live;
    } else {
      Grow(std::max(capacity_ * 2, live + len));
    }
  }

  // Moves the live bytes to the front of a new buffer of `capacity` bytes.
  void Grow(size_t capacity) {
    const size_t live = size();
    auto bigger = std::make_unique_for_overwrite<uint8_t[]>(capacity);
    if (live > 0) std::memcpy(bigger.get(), buffer_.get() + head_, live);
    buffer_ = std::move(bigger);
    capacity_ = capacity;
    head_ = 0;
    tail_ = live;
  }

  std::unique_ptr<uint8_t[]> buffer_;
  size_t capacity_ = 0;
  size_t head_ = 0;
  size_t tail_ = 0;
};

}  // namespace ktls::socket
