// Turns the socket layer's results (a value, or -errno) into libc's (-1 and errno).
#pragma once

#include <cerrno>

namespace ktls::preload {

// Keeps the caller's errno on success, as a system call that succeeds does; our own
// internal calls (a read-ahead that found nothing, say) may have changed it.
class ErrnoGuard {
 public:
  ErrnoGuard() : saved_(errno) {}
  template <typename T>
  T Return(T result) const {
    if (result < 0) {
      errno = static_cast<int>(-result);
      return static_cast<T>(-1);
    }
    errno = saved_;
    return result;
  }

 private:
  int saved_;
};

}  // namespace ktls::preload
