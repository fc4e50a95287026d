// close, close_range, closefrom, dup, dup2, dup3 and fcntl(F_DUPFD*): the calls that
// end or copy a descriptor number. A duplicate of an emulated socket is the same TLS
// connection (as with kernel kTLS, whose state lives in the socket); closing one
// number leaves the others working; closing the last one sends what is still queued.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdint>

#include "platform/next_libc.h"
#include "preload/descriptors.h"
#include "preload/epoll_tracker.h"
#include "preload/libc_result.h"

namespace libc = ktls::platform::libc;
namespace preload = ktls::preload;

namespace {

// `new_fd` has just been made a duplicate of `old_fd`.
void Duplicated(int old_fd, int new_fd) {
  if (new_fd < 0) return;
  preload::EpollTracker::Get().Forget(new_fd);
  if (!preload::AnyEmulated()) return;
  preload::ForgetStale(new_fd);
  if (auto socket = preload::Emulated(old_fd)) preload::AddAlias(new_fd, socket);
}

// dup2/dup3 onto `new_fd` closes what it referred to; the number itself stays taken.
// False (errno set) when the call must fail before anything changes.
bool BeforeReplacing(int old_fd, int new_fd) {
  if (old_fd == new_fd) return true;
  if (!preload::Emulated(new_fd)) {
    preload::EpollTracker::Get().Forget(new_fd);
    return true;
  }
  if (libc::Fcntl(old_fd, F_GETFD, 0) < 0) return false;  // EBADF, new_fd untouched
  preload::EpollTracker::Get().Forget(new_fd);
  int ignored = 0;
  preload::ReleaseNumber(new_fd, /*number_stays=*/true, &ignored);
  return true;
}

int FcntlCall(int fd, int cmd, uintptr_t arg) {
  const int result = libc::Fcntl(fd, cmd, arg);
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) Duplicated(fd, result);
  return result;
}

}  // namespace

extern "C" {

int close(int fd) {
  preload::EpollTracker::Get().Forget(fd);
  if (preload::AnyEmulated()) {
    const preload::ErrnoGuard guard;
    int result = 0;
    if (preload::ReleaseNumber(fd, /*number_stays=*/false, &result) == preload::Release::kClosed) {
      return guard.Return(result);
    }
  }
  return libc::Close(fd);
}

int close_range(unsigned int first, unsigned int last, int flags) noexcept {
  if ((flags & CLOSE_RANGE_CLOEXEC) == 0) {
    preload::EpollTracker::Get().ForgetRange(first, last);
    if (preload::AnyEmulated()) {
      // The real call closes the numbers, all at once.
      for (int fd : preload::EmulatedInRange(first, last)) {
        int ignored = 0;
        preload::ReleaseNumber(fd, /*number_stays=*/true, &ignored);
      }
    }
  }
  return libc::CloseRange(first, last, flags);
}

void closefrom(int lowfd) noexcept {
  if (lowfd >= 0) {
    const auto first = static_cast<unsigned int>(lowfd);
    preload::EpollTracker::Get().ForgetRange(first, ~0U);
    if (preload::AnyEmulated()) {
      for (int fd : preload::EmulatedInRange(first, ~0U)) {
        int ignored = 0;
        preload::ReleaseNumber(fd, /*number_stays=*/true, &ignored);
      }
    }
  }
  libc::Closefrom(lowfd);
}

int dup(int fd) noexcept {
  const int new_fd = libc::Dup(fd);
  Duplicated(fd, new_fd);
  return new_fd;
}

int dup2(int old_fd, int new_fd) noexcept {
  if (!BeforeReplacing(old_fd, new_fd)) return -1;
  const int result = libc::Dup2(old_fd, new_fd);
  if (old_fd != new_fd) Duplicated(old_fd, result);
  return result;
}

int dup3(int old_fd, int new_fd, int flags) noexcept {
  if (old_fd != new_fd && !BeforeReplacing(old_fd, new_fd)) return -1;
  const int result = libc::Dup3(old_fd, new_fd, flags);
  if (old_fd != new_fd) Duplicated(old_fd, result);
  return result;
}

// The optional third argument is an int or a pointer; libc reads it as a pointer-sized
// value too, so passing it on this way is exact for every command.
int fcntl(int fd, int cmd, ...) {
  va_list args;
  va_start(args, cmd);
  const auto arg = reinterpret_cast<uintptr_t>(va_arg(args, void*));
  va_end(args);
  return FcntlCall(fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
  va_list args;
  va_start(args, cmd);
  const auto arg = reinterpret_cast<uintptr_t>(va_arg(args, void*));
  va_end(args);
  return FcntlCall(fd, cmd, arg);
}

}  // extern "C"
