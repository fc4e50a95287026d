// A statistics counter: relaxed atomic, cheap enough for per-record hot paths.
#pragma once

#include <atomic>
#include <cstdint>

namespace ktls::control {

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  // Gauges (active sessions, queue depths) go down as well as up.
  void Sub(uint64_t n = 1) { value_.fetch_sub(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }
  void Reset() { value_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

}  // namespace ktls::control
