// The data path: every libc call that moves bytes through a socket. On a socket whose
// direction we emulate they go through the record layer (linux_abi); on any other
// descriptor they are libc's own, after one atomic load.
#include <limits.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "api/linux_abi.h"
#include "platform/next_libc.h"
#include "preload/descriptors.h"
#include "preload/libc_result.h"

namespace libc = ktls::platform::libc;
namespace linux_abi = ktls::api::linux_abi;
using ktls::preload::AnyEmulated;
using ktls::preload::ErrnoGuard;

namespace {

constexpr ssize_t kNotHandled = linux_abi::kNotHandled;

// A send through the record layer, or kNotHandled.
ssize_t SendRecords(int fd, const struct iovec* iov, size_t iovcnt, int flags,
                    const ErrnoGuard& guard) {
  struct msghdr msg = {};
  msg.msg_iov = const_cast<struct iovec*>(iov);
  msg.msg_iovlen = iovcnt;
  const ssize_t result = linux_abi::Sendmsg(fd, &msg, flags);
  return result == kNotHandled ? kNotHandled : guard.Return(result);
}

// A receive through the record layer, or kNotHandled. TCP reports no peer address.
ssize_t ReceiveRecords(int fd, struct msghdr* msg, int flags, const ErrnoGuard& guard) {
  if ((flags & MSG_ERRQUEUE) != 0) return kNotHandled;  // the kernel's error queue
  const ssize_t result = linux_abi::Recvmsg(fd, msg, flags);
  if (result == kNotHandled) return kNotHandled;
  if (result >= 0) msg->msg_namelen = 0;
  return guard.Return(result);
}

ssize_t ReceiveInto(int fd, void* buf, size_t len, int flags, const ErrnoGuard& guard) {
  struct iovec iov = {buf, len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  return ReceiveRecords(fd, &msg, flags, guard);
}

bool BadIovCount(int iovcnt) {
  return iovcnt < 0 || iovcnt > IOV_MAX;
}

}  // namespace

extern "C" {

[[noreturn]] void __chk_fail(void);

ssize_t read(int fd, void* buf, size_t len) {
  if (AnyEmulated()) {
    const ErrnoGuard guard;
    const ssize_t n = ReceiveInto(fd, buf, len, 0, guard);
    if (n != kNotHandled) return n;
  }
  return libc::Read(fd, buf, len);
}

ssize_t __read_chk(int fd, void* buf, size_t len, size_t buf_len) {
  if (len > buf_len) __chk_fail();
  return read(fd, buf, len);
}

ssize_t readv(int fd, const struct iovec* iov, int iovcnt) {
  if (AnyEmulated() && !BadIovCount(iovcnt)) {
    const ErrnoGuard guard;
    struct msghdr msg = {};
    msg.msg_iov = const_cast<struct iovec*>(iov);
    msg.msg_iovlen = static_cast<size_t>(iovcnt);
    const ssize_t n = ReceiveRecords(fd, &msg, 0, guard);
    if (n != kNotHandled) return n;
  }
  return libc::Readv(fd, iov, iovcnt);
}

ssize_t recv(int fd, void* buf, size_t len, int flags) {
  if (AnyEmulated()) {
    const ErrnoGuard guard;
    const ssize_t n = ReceiveInto(fd, buf, len, flags, guard);
    if (n != kNotHandled) return n;
  }
  return libc::Recv(fd, buf, len, flags);
}

ssize_t __recv_chk(int fd, void* buf, size_t len, size_t buf_len, int flags) {
  if (len > buf_len) __chk_fail();
  return recv(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void* buf, size_t len, int flags, struct sockaddr* addr,
                 socklen_t* addr_len) {
  if (AnyEmulated()) {
    const ErrnoGuard guard;
    const ssize_t n = ReceiveInto(fd, buf, len, flags, guard);
    if (n != kNotHandled) {
      if (n >= 0 && addr != nullptr && addr_len != nullptr) *addr_len = 0;
      return n;
    }
  }
  return libc::Recvfrom(fd, buf, len, flags, addr, addr_len);
}

ssize_t __recvfrom_chk(int fd, void* buf, size_t len, size_t buf_len, int flags,
                       struct sockaddr* addr, socklen_t* addr_len) {
  if (len > buf_len) __chk_fail();
  return recvfrom(fd, buf, len, flags, addr, addr_len);
}

ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  if (AnyEmulated() && msg != nullptr) {
    const ErrnoGuard guard;
    const ssize_t n = ReceiveRecords(fd, msg, flags, guard);
    if (n != kNotHandled) return n;
  }
  return libc::Recvmsg(fd, msg, flags);
}

int recvmmsg(int fd, struct mmsghdr* msgs, unsigned int vlen, int flags, struct timespec* timeout) {
  if (AnyEmulated() && msgs != nullptr && linux_abi::HasRx(fd)) {
    // One recvmsg per message; the timeout is checked between messages, as Linux does.
    const ErrnoGuard guard;
    struct timespec start = {};
    if (timeout != nullptr) clock_gettime(CLOCK_MONOTONIC, &start);
    unsigned int done = 0;
    int call_flags = flags & ~MSG_WAITFORONE;
    while (done < vlen) {
      const ssize_t n = ReceiveRecords(fd, &msgs[done].msg_hdr, call_flags, ErrnoGuard());
      if (n < 0) {
        if (done == 0) return -1;
        break;
      }
      msgs[done].msg_len = static_cast<unsigned int>(n);
      ++done;
      if ((flags & MSG_WAITFORONE) != 0) call_flags |= MSG_DONTWAIT;
      if (timeout != nullptr) {
        struct timespec now = {};
        clock_gettime(CLOCK_MONOTONIC, &now);
        const long long elapsed_ns =
            (now.tv_sec - start.tv_sec) * 1000000000LL + (now.tv_nsec - start.tv_nsec);
        const long long limit_ns = timeout->tv_sec * 1000000000LL + timeout->tv_nsec;
        if (elapsed_ns >= limit_ns) break;
      }
    }
    return guard.Return(static_cast<int>(done));
  }
  return libc::Recvmmsg(fd, msgs, vlen, flags, timeout);
}

ssize_t write(int fd, const void* buf, size_t len) {
  if (AnyEmulated()) {
    const ErrnoGuard guard;
    const struct iovec iov = {const_cast<void*>(buf), len};
    const ssize_t n = SendRecords(fd, &iov, 1, 0, guard);
    if (n != kNotHandled) return n;
  }
  return libc::Write(fd, buf, len);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  if (AnyEmulated() && !BadIovCount(iovcnt)) {
    const ErrnoGuard guard;
    const ssize_t n = SendRecords(fd, iov, static_cast<size_t>(iovcnt), 0, guard);
    if (n != kNotHandled) return n;
  }
  return libc::Writev(fd, iov, iovcnt);
}

ssize_t send(int fd, const void* buf, size_t len, int flags) {
  if (AnyEmulated()) {
    const ErrnoGuard guard;
    const struct iovec iov = {const_cast<void*>(buf), len};
    const ssize_t n = SendRecords(fd, &iov, 1, flags, guard);
    if (n != kNotHandled) return n;
  }
  return libc::Send(fd, buf, len, flags);
}

// A connected TCP socket ignores the destination address.
ssize_t sendto(int fd, const void* buf, size_t len, int flags, const struct sockaddr* addr,
               socklen_t addr_len) {
  if (AnyEmulated()) {
    const ErrnoGuard guard;
    const struct iovec iov = {const_cast<void*>(buf), len};
    const ssize_t n = SendRecords(fd, &iov, 1, flags, guard);
    if (n != kNotHandled) return n;
  }
  return libc::Sendto(fd, buf, len, flags, addr, addr_len);
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  if (AnyEmulated() && msg != nullptr) {
    const ErrnoGuard guard;
    const ssize_t n = linux_abi::Sendmsg(fd, msg, flags);
    if (n != kNotHandled) return guard.Return(n);
  }
  return libc::Sendmsg(fd, msg, flags);
}

int sendmmsg(int fd, struct mmsghdr* msgs, unsigned int vlen, int flags) {
  if (AnyEmulated() && msgs != nullptr && linux_abi::HasTx(fd)) {
    const ErrnoGuard guard;
    unsigned int done = 0;
    while (done < vlen) {
      const ssize_t n = linux_abi::Sendmsg(fd, &msgs[done].msg_hdr, flags);
      if (n == kNotHandled) {
        // Closed or replaced under us by another thread: what is left is libc's.
        if (done == 0) return libc::Sendmmsg(fd, msgs, vlen, flags);
        break;
      }
      if (n < 0) {
        if (done == 0) return guard.Return(static_cast<int>(n));
        break;
      }
      msgs[done].msg_len = static_cast<unsigned int>(n);
      ++done;
    }
    return guard.Return(static_cast<int>(done));
  }
  return libc::Sendmmsg(fd, msgs, vlen, flags);
}

}  // extern "C"
