#include "base/secret_bytes.h"

#include <cstring>

namespace ktls {

void SecureWipe(void* data, size_t len) {
  if (len == 0) return;
  std::memset(data, 0, len);
  // The empty asm with a memory clobber tells the compiler the zeroes are observed.
  asm volatile("" : : "r"(data) : "memory");
}

SecretBytes::SecretBytes(ConstBytes bytes) : bytes_(bytes.begin(), bytes.end()) {}
SecretBytes::SecretBytes(size_t len) : bytes_(len, 0) {}
SecretBytes::~SecretBytes() {
  Wipe();
}

SecretBytes::SecretBytes(const SecretBytes& other) : bytes_(other.bytes_) {}

SecretBytes& SecretBytes::operator=(const SecretBytes& other) {
  if (this != &other) {
    Wipe();
    bytes_ = other.bytes_;
  }
  return *this;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {
  other.bytes_.clear();
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Wipe();
    bytes_ = std::move(other.bytes_);
    other.bytes_.clear();
  }
  return *this;
}

void SecretBytes::Wipe() {
  SecureWipe(bytes_.data(), bytes_.size());
  bytes_.clear();
}

}  // namespace ktls
