// A wait's end time, for wrappers that may wait in several kernel calls (they re-wait
// when the kernel's readiness turns out not to be a whole record).
#pragma once

#include <time.h>

#include <chrono>

namespace ktls::preload {

class Deadline {
 public:
  // `timeout` null: no end.
  explicit Deadline(const struct timespec* timeout) : forever_(timeout == nullptr) {
    if (!forever_) {
      end_ = std::chrono::steady_clock::now() + std::chrono::seconds(timeout->tv_sec) +
             std::chrono::nanoseconds(timeout->tv_nsec);
    }
  }
  static struct timespec FromMilliseconds(int ms) {
    return {static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
  }

  bool forever() const { return forever_; }
  bool Expired() const { return !forever_ && std::chrono::steady_clock::now() >= end_; }
  // Zero once expired; meaningless when forever().
  struct timespec Remaining() const {
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
        end_ - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {0, 0};
    return {static_cast<time_t>(left.count() / 1000000000),
            static_cast<long>(left.count() % 1000000000)};
  }
  // For millisecond interfaces: -1 forever, otherwise rounded up so that a wait never
  // ends early.
  int RemainingMs() const {
    if (forever_) return -1;
    const struct timespec left = Remaining();
    const long long ms =
        static_cast<long long>(left.tv_sec) * 1000 + (left.tv_nsec + 999999) / 1000000;
    return static_cast<int>(ms > 0x7fffffff ? 0x7fffffff : ms);
  }

 private:
  bool forever_;
  std::chrono::steady_clock::time_point end_;
};

}  // namespace ktls::preload
