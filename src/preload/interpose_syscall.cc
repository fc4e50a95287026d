// syscall(2): programs that bypass libc's wrappers with syscall(SYS_write, ...) still
// go through libc's syscall() function, so the calls that matter for an emulated
// socket are routed to our wrappers here. Once a socket is emulated, io_uring_setup
// is refused (ENOSYS, as on a kernel without io_uring): a ring would move bytes with
// no system call we could see. Inline system calls (no libc) cannot be caught.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <type_traits>

#include "platform/next_libc.h"
#include "preload/descriptors.h"
#include "preload/summary.h"

namespace libc = ktls::platform::libc;
namespace preload = ktls::preload;

namespace {

template <typename T>
T Arg(long value) {
  if constexpr (std::is_pointer_v<T>) {
    return reinterpret_cast<T>(value);
  } else {
    return static_cast<T>(value);
  }
}

// A call of ours for `number`, or false when libc's syscall() should make it.
bool Route(long number, const long* a, long* result) {
  switch (number) {
    case SYS_read:
      *result = read(Arg<int>(a[0]), Arg<void*>(a[1]), Arg<size_t>(a[2]));
      return true;
    case SYS_write:
      *result = write(Arg<int>(a[0]), Arg<const void*>(a[1]), Arg<size_t>(a[2]));
      return true;
    case SYS_readv:
      *result = readv(Arg<int>(a[0]), Arg<const struct iovec*>(a[1]), Arg<int>(a[2]));
      return true;
    case SYS_writev:
      *result = writev(Arg<int>(a[0]), Arg<const struct iovec*>(a[1]), Arg<int>(a[2]));
      return true;
    case SYS_recvfrom:
      *result = recvfrom(Arg<int>(a[0]), Arg<void*>(a[1]), Arg<size_t>(a[2]), Arg<int>(a[3]),
                         Arg<struct sockaddr*>(a[4]), Arg<socklen_t*>(a[5]));
      return true;
    case SYS_sendto:
      *result = sendto(Arg<int>(a[0]), Arg<const void*>(a[1]), Arg<size_t>(a[2]), Arg<int>(a[3]),
                       Arg<const struct sockaddr*>(a[4]), Arg<socklen_t>(a[5]));
      return true;
    case SYS_recvmsg:
      *result = recvmsg(Arg<int>(a[0]), Arg<struct msghdr*>(a[1]), Arg<int>(a[2]));
      return true;
    case SYS_sendmsg:
      *result = sendmsg(Arg<int>(a[0]), Arg<const struct msghdr*>(a[1]), Arg<int>(a[2]));
      return true;
    case SYS_recvmmsg:
      *result = recvmmsg(Arg<int>(a[0]), Arg<struct mmsghdr*>(a[1]), Arg<unsigned int>(a[2]),
                         Arg<int>(a[3]), Arg<struct timespec*>(a[4]));
      return true;
    case SYS_sendmmsg:
      *result = sendmmsg(Arg<int>(a[0]), Arg<struct mmsghdr*>(a[1]), Arg<unsigned int>(a[2]),
                         Arg<int>(a[3]));
      return true;
    case SYS_sendfile:
      *result = sendfile(Arg<int>(a[0]), Arg<int>(a[1]), Arg<off_t*>(a[2]), Arg<size_t>(a[3]));
      return true;
    case SYS_splice:
      *result = splice(Arg<int>(a[0]), Arg<off64_t*>(a[1]), Arg<int>(a[2]), Arg<off64_t*>(a[3]),
                       Arg<size_t>(a[4]), Arg<unsigned int>(a[5]));
      return true;
    case SYS_close:
      *result = close(Arg<int>(a[0]));
      return true;
    case SYS_shutdown:
      *result = shutdown(Arg<int>(a[0]), Arg<int>(a[1]));
      return true;
    case SYS_setsockopt:
      *result = setsockopt(Arg<int>(a[0]), Arg<int>(a[1]), Arg<int>(a[2]), Arg<const void*>(a[3]),
                           Arg<socklen_t>(a[4]));
      return true;
    case SYS_getsockopt:
      *result = getsockopt(Arg<int>(a[0]), Arg<int>(a[1]), Arg<int>(a[2]), Arg<void*>(a[3]),
                           Arg<socklen_t*>(a[4]));
      return true;
    case SYS_dup:
      *result = dup(Arg<int>(a[0]));
      return true;
    case SYS_dup3:
      *result = dup3(Arg<int>(a[0]), Arg<int>(a[1]), Arg<int>(a[2]));
      return true;
    case SYS_close_range:
      *result = close_range(Arg<unsigned int>(a[0]), Arg<unsigned int>(a[1]), Arg<int>(a[2]));
      return true;
    case SYS_io_uring_setup:
      preload::GetSummary().bypass_refused.Add();
      errno = ENOSYS;
      *result = -1;
      return true;
    default:
      return false;
  }
}

}  // namespace

extern "C" long syscall(long number, ...) noexcept {
  long a[6];
  va_list args;
  va_start(args, number);
  for (long& value : a) value = va_arg(args, long);
  va_end(args);
  long result = 0;
  if (preload::AnyEmulated() && Route(number, a, &result)) return result;
  return libc::Syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
