// Key material: owned, wiped on destruction and on move-from, never printed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/bytes.h"

namespace ktls {

// Overwrites memory in a way the optimizer may not elide.
void SecureWipe(void* data, size_t len);

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(ConstBytes bytes);
  explicit SecretBytes(size_t len);
  ~SecretBytes();

  SecretBytes(const SecretBytes& other);
  SecretBytes& operator=(const SecretBytes& other);
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;

  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  const uint8_t* data() const { return bytes_.data(); }
  uint8_t* data() { return bytes_.data(); }
  ConstBytes view() const { return bytes_; }
  MutableBytes mutable_view() { return bytes_; }

  void Wipe();

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace ktls
