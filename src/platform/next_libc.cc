#include "platform/next_libc.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <type_traits>

namespace ktls::platform::libc {
namespace {

// Set while this thread is inside dlsym, so that a call dlsym might make into one of
// these functions cannot recurse into another lookup.
thread_local bool t_resolving = false;

// One lazily resolved symbol. Constant-initialised, so no guard variable (and no lock)
// is involved even when the first call comes from another library's constructor.
class NextSymbol {
 public:
  explicit constexpr NextSymbol(const char* name) : name_(name) {}

  template <typename Fn>
  Fn Get() {
    void* fn = fn_.load(std::memory_order_acquire);
    if (fn == nullptr && !t_resolving) {
      t_resolving = true;
      fn = dlsym(RTLD_NEXT, name_);
      t_resolving = false;
      if (fn != nullptr) fn_.store(fn, std::memory_order_release);
    }
    return reinterpret_cast<Fn>(fn);
  }

 private:
  const char* name_;
  std::atomic<void*> fn_{nullptr};
};

NextSymbol g_syscall("syscall");

// The kernel's sigset size for the *pwait/ppoll system calls.
constexpr long kSigsetSize = _NSIG / 8;

long Raw(long number, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0,
         long a6 = 0) {
  return Syscall(number, a1, a2, a3, a4, a5, a6);
}

template <typename T>
long L(T value) {
  if constexpr (std::is_pointer_v<T>) {
    return reinterpret_cast<long>(value);
  } else {
    return static_cast<long>(value);
  }
}

// Unavailable without libc (none of our callers needs these before libc is reachable).
template <typename R>
R NoSymbol() {
  errno = ENOSYS;
  return static_cast<R>(-1);
}

// syscall(3) is what every fallback uses; resolve it before anyone can need it.
__attribute__((constructor(101))) void ResolveSyscallEarly() {
  g_syscall.Get<long (*)(long, ...)>();
}

}  // namespace

long Syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
  if (auto fn = g_syscall.Get<long (*)(long, ...)>()) return fn(number, a1, a2, a3, a4, a5, a6);
  // dlsym found nothing without being re-entered: a static executable (the VM tests),
  // whose one syscall(2) is libc's own, as no interposer can sit in front of it.
  if (!t_resolving) return ::syscall(number, a1, a2, a3, a4, a5, a6);
  errno = ENOSYS;
  return -1;
}

#define KTLS_NEXT(name)          \
  static NextSymbol next(#name); \
  auto fn = next.Get<decltype(&::name)>()

ssize_t Read(int fd, void* buf, size_t len) {
  KTLS_NEXT(read);
  return fn ? fn(fd, buf, len) : Raw(SYS_read, fd, L(buf), L(len));
}

ssize_t Write(int fd, const void* buf, size_t len) {
  KTLS_NEXT(write);
  return fn ? fn(fd, buf, len) : Raw(SYS_write, fd, L(buf), L(len));
}

ssize_t Readv(int fd, const struct iovec* iov, int iovcnt) {
  KTLS_NEXT(readv);
  return fn ? fn(fd, iov, iovcnt) : Raw(SYS_readv, fd, L(iov), iovcnt);
}

ssize_t Writev(int fd, const struct iovec* iov, int iovcnt) {
  KTLS_NEXT(writev);
  return fn ? fn(fd, iov, iovcnt) : Raw(SYS_writev, fd, L(iov), iovcnt);
}

ssize_t Preadv2(int fd, const struct iovec* iov, int iovcnt, off_t offset, int flags) {
  KTLS_NEXT(preadv2);
  return fn ? fn(fd, iov, iovcnt, offset, flags) : NoSymbol<ssize_t>();
}

ssize_t Pwritev2(int fd, const struct iovec* iov, int iovcnt, off_t offset, int flags) {
  KTLS_NEXT(pwritev2);
  return fn ? fn(fd, iov, iovcnt, offset, flags) : NoSymbol<ssize_t>();
}

ssize_t Recv(int fd, void* buf, size_t len, int flags) {
  KTLS_NEXT(recv);
  return fn ? fn(fd, buf, len, flags) : Raw(SYS_recvfrom, fd, L(buf), L(len), flags, 0, 0);
}

ssize_t Recvfrom(int fd, void* buf, size_t len, int flags, struct sockaddr* addr,
                 socklen_t* addr_len) {
  KTLS_NEXT(recvfrom);
  return fn ? fn(fd, buf, len, flags, addr, addr_len)
            : Raw(SYS_recvfrom, fd, L(buf), L(len), flags, L(addr), L(addr_len));
}

ssize_t Recvmsg(int fd, struct msghdr* msg, int flags) {
  KTLS_NEXT(recvmsg);
  return fn ? fn(fd, msg, flags) : Raw(SYS_recvmsg, fd, L(msg), flags);
}

int Recvmmsg(int fd, struct mmsghdr* msgs, unsigned int vlen, int flags, struct timespec* timeout) {
  KTLS_NEXT(recvmmsg);
  return fn ? fn(fd, msgs, vlen, flags, timeout)
            : static_cast<int>(Raw(SYS_recvmmsg, fd, L(msgs), vlen, flags, L(timeout)));
}

ssize_t Send(int fd, const void* buf, size_t len, int flags) {
  KTLS_NEXT(send);
  return fn ? fn(fd, buf, len, flags) : Raw(SYS_sendto, fd, L(buf), L(len), flags, 0, 0);
}

ssize_t Sendto(int fd, const void* buf, size_t len, int flags, const struct sockaddr* addr,
               socklen_t addr_len) {
  KTLS_NEXT(sendto);
  return fn ? fn(fd, buf, len, flags, addr, addr_len)
            : Raw(SYS_sendto, fd, L(buf), L(len), flags, L(addr), addr_len);
}

ssize_t Sendmsg(int fd, const struct msghdr* msg, int flags) {
  KTLS_NEXT(sendmsg);
  return fn ? fn(fd, msg, flags) : Raw(SYS_sendmsg, fd, L(msg), flags);
}

int Sendmmsg(int fd, struct mmsghdr* msgs, unsigned int vlen, int flags) {
  KTLS_NEXT(sendmmsg);
  return fn ? fn(fd, msgs, vlen, flags)
            : static_cast<int>(Raw(SYS_sendmmsg, fd, L(msgs), vlen, flags));
}

ssize_t Sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  KTLS_NEXT(sendfile);
  return fn ? fn(out_fd, in_fd, offset, count)
            : Raw(SYS_sendfile, out_fd, in_fd, L(offset), L(count));
}

ssize_t Splice(int fd_in, off_t* off_in, int fd_out, off_t* off_out, size_t len,
               unsigned int flags) {
  KTLS_NEXT(splice);
  return fn ? fn(fd_in, off_in, fd_out, off_out, len, flags)
            : Raw(SYS_splice, fd_in, L(off_in), fd_out, L(off_out), L(len), flags);
}

int Close(int fd) {
  KTLS_NEXT(close);
  return fn ? fn(fd) : static_cast<int>(Raw(SYS_close, fd));
}

int CloseRange(unsigned int first, unsigned int last, int flags) {
  KTLS_NEXT(close_range);
  return fn ? fn(first, last, flags) : static_cast<int>(Raw(SYS_close_range, first, last, flags));
}

void Closefrom(int lowfd) {
  KTLS_NEXT(closefrom);
  if (fn) {
    fn(lowfd);
  } else {
    Raw(SYS_close_range, lowfd, ~0U, 0);
  }
}

int Dup(int fd) {
  KTLS_NEXT(dup);
  return fn ? fn(fd) : static_cast<int>(Raw(SYS_dup, fd));
}

int Dup2(int old_fd, int new_fd) {
  KTLS_NEXT(dup2);
  return fn ? fn(old_fd, new_fd) : NoSymbol<int>();
}

int Dup3(int old_fd, int new_fd, int flags) {
  KTLS_NEXT(dup3);
  return fn ? fn(old_fd, new_fd, flags) : static_cast<int>(Raw(SYS_dup3, old_fd, new_fd, flags));
}

int Fcntl(int fd, int cmd, uintptr_t arg) {
  KTLS_NEXT(fcntl);
  return fn ? fn(fd, cmd, arg) : static_cast<int>(Raw(SYS_fcntl, fd, cmd, L(arg)));
}

int Socket(int domain, int type, int protocol) {
  KTLS_NEXT(socket);
  return fn ? fn(domain, type, protocol)
            : static_cast<int>(Raw(SYS_socket, domain, type, protocol));
}

int Accept(int fd, struct sockaddr* addr, socklen_t* addr_len) {
  KTLS_NEXT(accept);
  return fn ? fn(fd, addr, addr_len)
            : static_cast<int>(Raw(SYS_accept4, fd, L(addr), L(addr_len), 0));
}

int Accept4(int fd, struct sockaddr* addr, socklen_t* addr_len, int flags) {
  KTLS_NEXT(accept4);
  return fn ? fn(fd, addr, addr_len, flags)
            : static_cast<int>(Raw(SYS_accept4, fd, L(addr), L(addr_len), flags));
}

int Connect(int fd, const struct sockaddr* addr, socklen_t addr_len) {
  KTLS_NEXT(connect);
  return fn ? fn(fd, addr, addr_len) : static_cast<int>(Raw(SYS_connect, fd, L(addr), addr_len));
}

int Listen(int fd, int backlog) {
  KTLS_NEXT(listen);
  return fn ? fn(fd, backlog) : static_cast<int>(Raw(SYS_listen, fd, backlog));
}

int Shutdown(int fd, int how) {
  KTLS_NEXT(shutdown);
  return fn ? fn(fd, how) : static_cast<int>(Raw(SYS_shutdown, fd, how));
}

int Setsockopt(int fd, int level, int name, const void* value, socklen_t len) {
  KTLS_NEXT(setsockopt);
  return fn ? fn(fd, level, name, value, len)
            : static_cast<int>(Raw(SYS_setsockopt, fd, level, name, L(value), len));
}

int Getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
  KTLS_NEXT(getsockopt);
  return fn ? fn(fd, level, name, value, len)
            : static_cast<int>(Raw(SYS_getsockopt, fd, level, name, L(value), L(len)));
}

int Poll(struct pollfd* fds, nfds_t nfds, int timeout_ms) {
  KTLS_NEXT(poll);
  if (fn) return fn(fds, nfds, timeout_ms);
  struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
  return static_cast<int>(
      Raw(SYS_ppoll, L(fds), L(nfds), timeout_ms < 0 ? 0 : L(&ts), 0, kSigsetSize));
}

int Ppoll(struct pollfd* fds, nfds_t nfds, const struct timespec* timeout,
          const sigset_t* sigmask) {
  KTLS_NEXT(ppoll);
  return fn ? fn(fds, nfds, timeout, sigmask)
            : static_cast<int>(
                  Raw(SYS_ppoll, L(fds), L(nfds), L(timeout), L(sigmask), kSigsetSize));
}

int Select(int nfds, fd_set* read_fds, fd_set* write_fds, fd_set* except_fds,
           struct timeval* timeout) {
  KTLS_NEXT(select);
  return fn ? fn(nfds, read_fds, write_fds, except_fds, timeout) : NoSymbol<int>();
}

int Pselect(int nfds, fd_set* read_fds, fd_set* write_fds, fd_set* except_fds,
            const struct timespec* timeout, const sigset_t* sigmask) {
  KTLS_NEXT(pselect);
  return fn ? fn(nfds, read_fds, write_fds, except_fds, timeout, sigmask) : NoSymbol<int>();
}

int EpollCtl(int epfd, int op, int fd, struct epoll_event* event) {
  KTLS_NEXT(epoll_ctl);
  return fn ? fn(epfd, op, fd, event)
            : static_cast<int>(Raw(SYS_epoll_ctl, epfd, op, fd, L(event)));
}

int EpollWait(int epfd, struct epoll_event* events, int max_events, int timeout_ms) {
  KTLS_NEXT(epoll_wait);
  return fn ? fn(epfd, events, max_events, timeout_ms)
            : static_cast<int>(
                  Raw(SYS_epoll_pwait, epfd, L(events), max_events, timeout_ms, 0, kSigsetSize));
}

int EpollPwait(int epfd, struct epoll_event* events, int max_events, int timeout_ms,
               const sigset_t* sigmask) {
  KTLS_NEXT(epoll_pwait);
  return fn ? fn(epfd, events, max_events, timeout_ms, sigmask)
            : static_cast<int>(Raw(SYS_epoll_pwait, epfd, L(events), max_events, timeout_ms,
                                   L(sigmask), kSigsetSize));
}

int EpollPwait2(int epfd, struct epoll_event* events, int max_events,
                const struct timespec* timeout, const sigset_t* sigmask) {
  KTLS_NEXT(epoll_pwait2);
  return fn ? fn(epfd, events, max_events, timeout, sigmask) : NoSymbol<int>();
}

#undef KTLS_NEXT

}  // namespace ktls::platform::libc
