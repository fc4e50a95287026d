// Zero-copy style transfers: sendfile, splice, and preadv2/pwritev2 with offset -1
// (which act on a socket like readv/writev). Into a socket whose TX we emulate, the
// bytes become records; out of one whose RX we emulate, they are the records' payload.
// Never does plaintext reach an emulated socket by these paths.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <vector>

#include "api/linux_abi.h"
#include "platform/next_libc.h"
#include "preload/descriptors.h"
#include "preload/libc_result.h"

namespace libc = ktls::platform::libc;
namespace linux_abi = ktls::api::linux_abi;
namespace preload = ktls::preload;
using preload::ErrnoGuard;

namespace {

constexpr ssize_t kNotHandled = linux_abi::kNotHandled;
// What one splice call moves at most: one maximum-size record.
constexpr size_t kSpliceChunk = 16384;

bool IsPipe(int fd) {
  struct stat st = {};
  return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

bool IsNonBlocking(int fd) {
  const int flags = libc::Fcntl(fd, F_GETFL, 0);
  return flags >= 0 && (flags & O_NONBLOCK) != 0;
}

// Waits (without a time limit) until `fd` reports `events`; false on a poll error.
bool WaitFor(int fd, short events) {
  struct pollfd pfd = {fd, events, 0};
  for (;;) {
    const int n = poll(&pfd, 1, -1);  // our poll: record-aware for emulated sockets
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

// pipe -> emulated socket. The bytes read from the pipe are gone from it, so once
// read they are sent even if that means waiting for room on a non-blocking socket.
ssize_t SpliceIntoRecords(int pipe_fd, int socket_fd, size_t len, unsigned int flags) {
  std::shared_ptr<preload::KtlsSocket> socket = preload::Emulated(socket_fd);
  if (!socket) return -EBADF;
  if (IsNonBlocking(socket_fd) && (socket->ReadyEvents(POLLOUT) & POLLOUT) == 0) {
    return -EAGAIN;
  }
  if ((flags & SPLICE_F_NONBLOCK) != 0) {
    struct pollfd pfd = {pipe_fd, POLLIN, 0};
    if (libc::Poll(&pfd, 1, 0) == 0) return -EAGAIN;
  }
  std::vector<uint8_t> buffer(std::min(len, kSpliceChunk));
  ssize_t got;
  do {
    got = libc::Read(pipe_fd, buffer.data(), buffer.size());
  } while (got < 0 && errno == EINTR);
  if (got <= 0) return got < 0 ? -errno : 0;
  const int send_flags = (flags & SPLICE_F_MORE) != 0 ? MSG_MORE : 0;
  size_t sent = 0;
  while (sent < static_cast<size_t>(got)) {
    struct iovec iov = {buffer.data() + sent, static_cast<size_t>(got) - sent};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t n = linux_abi::Sendmsg(socket_fd, &msg, send_flags);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n == -EAGAIN || n == -EINTR) {
      if (WaitFor(socket_fd, POLLOUT)) continue;
    }
    if (n == kNotHandled) return sent > 0 ? static_cast<ssize_t>(sent) : -EBADF;
    return sent > 0 ? static_cast<ssize_t>(sent) : n;
  }
  return static_cast<ssize_t>(sent);
}

// Emulated socket -> pipe: application data only (another record type is EINVAL, as
// with kernel kTLS), never more than the pipe can take at once.
ssize_t SpliceOutOfRecords(int socket_fd, int pipe_fd, size_t len, unsigned int flags) {
  const bool nonblocking = (flags & SPLICE_F_NONBLOCK) != 0;
  int room = libc::Fcntl(pipe_fd, F_GETPIPE_SZ, 0);
  int queued = 0;
  if (room < 0 || ioctl(pipe_fd, FIONREAD, &queued) != 0) return -errno;
  room -= queued;
  if (room <= 0) {
    if (nonblocking) return -EAGAIN;
    if (!WaitFor(pipe_fd, POLLOUT)) return -errno;
    room = static_cast<int>(kSpliceChunk);  // a writer may block briefly; nothing is lost
  }
  // Look at the next record's type without consuming it.
  uint8_t first = 0;
  struct iovec peek_iov = {&first, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(1)] = {};
  struct msghdr peek = {};
  peek.msg_iov = &peek_iov;
  peek.msg_iovlen = 1;
  peek.msg_control = control;
  peek.msg_controllen = sizeof(control);
  const int wait_flag = nonblocking ? MSG_DONTWAIT : 0;
  const ssize_t peeked = linux_abi::Recvmsg(socket_fd, &peek, MSG_PEEK | wait_flag);
  if (peeked <= 0) return peeked;
  const struct cmsghdr* cmsg = CMSG_FIRSTHDR(&peek);
  if (cmsg != nullptr && cmsg->cmsg_level == SOL_TLS && *CMSG_DATA(cmsg) != 23) return -EINVAL;

  std::vector<uint8_t> buffer(std::min({len, kSpliceChunk, static_cast<size_t>(room)}));
  struct iovec iov = {buffer.data(), buffer.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  const ssize_t got = linux_abi::Recvmsg(socket_fd, &msg, MSG_DONTWAIT);
  if (got <= 0) return got;
  size_t written = 0;
  while (written < static_cast<size_t>(got)) {
    const ssize_t n =
        libc::Write(pipe_fd, buffer.data() + written, static_cast<size_t>(got) - written);
    if (n > 0) {
      written += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFor(pipe_fd, POLLOUT)) break;
    } else {
      break;  // the reader went away: what was received is lost, as it would be
    }
  }
  return written > 0 ? static_cast<ssize_t>(written) : -errno;
}

ssize_t Splice(int fd_in, off_t* off_in, int fd_out, off_t* off_out, size_t len,
               unsigned int flags) {
  if (!preload::AnyEmulated()) return kNotHandled;
  const bool into = linux_abi::HasTx(fd_out);
  const bool out_of = !into && linux_abi::HasRx(fd_in);
  if (!into && !out_of) return kNotHandled;
  if (len == 0) return 0;
  // One end must be a pipe, and a pipe has no offset.
  const int pipe_fd = into ? fd_in : fd_out;
  if (!IsPipe(pipe_fd)) return -EINVAL;
  if ((into ? off_in : off_out) != nullptr) return -ESPIPE;
  return into ? SpliceIntoRecords(fd_in, fd_out, len, flags)
              : SpliceOutOfRecords(fd_in, fd_out, len, flags);
}

ssize_t Sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  if (!preload::AnyEmulated()) return kNotHandled;
  return linux_abi::Sendfile(out_fd, in_fd, offset, count);
}

// preadv2/pwritev2 at offset -1 are readv/writev with flags.
ssize_t VectorAtCurrent(int fd, const struct iovec* iov, int iovcnt, off_t offset, int flags,
                        bool write) {
  if (!preload::AnyEmulated() || offset != -1 || iovcnt < 0) return kNotHandled;
  if (!(write ? linux_abi::HasTx(fd) : linux_abi::HasRx(fd))) return kNotHandled;
  struct msghdr msg = {};
  msg.msg_iov = const_cast<struct iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(iovcnt);
  const int msg_flags = (flags & RWF_NOWAIT) != 0 ? MSG_DONTWAIT : 0;
  return write ? linux_abi::Sendmsg(fd, &msg, msg_flags) : linux_abi::Recvmsg(fd, &msg, msg_flags);
}

}  // namespace

extern "C" {

ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count) noexcept {
  const ErrnoGuard guard;
  const ssize_t n = Sendfile(out_fd, in_fd, offset, count);
  return n == kNotHandled ? libc::Sendfile(out_fd, in_fd, offset, count) : guard.Return(n);
}

ssize_t sendfile64(int out_fd, int in_fd, off64_t* offset, size_t count) noexcept {
  static_assert(sizeof(off64_t) == sizeof(off_t), "LP64 only");
  return sendfile(out_fd, in_fd, reinterpret_cast<off_t*>(offset), count);
}

ssize_t splice(int fd_in, off64_t* off_in, int fd_out, off64_t* off_out, size_t len,
               unsigned int flags) {
  const ErrnoGuard guard;
  const ssize_t n = Splice(fd_in, reinterpret_cast<off_t*>(off_in), fd_out,
                           reinterpret_cast<off_t*>(off_out), len, flags);
  if (n != kNotHandled) return guard.Return(n);
  return libc::Splice(fd_in, reinterpret_cast<off_t*>(off_in), fd_out,
                      reinterpret_cast<off_t*>(off_out), len, flags);
}

ssize_t pwritev2(int fd, const struct iovec* iov, int iovcnt, off_t offset, int flags) {
  const ErrnoGuard guard;
  const ssize_t n = VectorAtCurrent(fd, iov, iovcnt, offset, flags, /*write=*/true);
  return n == kNotHandled ? libc::Pwritev2(fd, iov, iovcnt, offset, flags) : guard.Return(n);
}

ssize_t pwritev64v2(int fd, const struct iovec* iov, int iovcnt, off64_t offset, int flags) {
  return pwritev2(fd, iov, iovcnt, static_cast<off_t>(offset), flags);
}

ssize_t preadv2(int fd, const struct iovec* iov, int iovcnt, off_t offset, int flags) {
  const ErrnoGuard guard;
  const ssize_t n = VectorAtCurrent(fd, iov, iovcnt, offset, flags, /*write=*/false);
  return n == kNotHandled ? libc::Preadv2(fd, iov, iovcnt, offset, flags) : guard.Return(n);
}

ssize_t preadv64v2(int fd, const struct iovec* iov, int iovcnt, off64_t offset, int flags) {
  return preadv2(fd, iov, iovcnt, static_cast<off_t>(offset), flags);
}

}  // extern "C"
