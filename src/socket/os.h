// The socket layer's only door to the kernel. Production uses the real system calls;
// tests substitute an Os that injects short transfers, EAGAIN, EINTR and resets.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

namespace ktls::socket {

class Os {
 public:
  virtual ~Os() = default;
  virtual ssize_t Recv(int fd, void* buf, size_t len, int flags) = 0;
  virtual ssize_t Recvmsg(int fd, struct msghdr* msg, int flags) = 0;
  virtual ssize_t Sendmsg(int fd, const struct msghdr* msg, int flags) = 0;
  virtual ssize_t Sendfile(int out_fd, int in_fd, off_t* offset, size_t count) = 0;
  virtual ssize_t Pread(int fd, void* buf, size_t len, off_t offset) = 0;
  virtual off_t Lseek(int fd, off_t offset, int whence) = 0;
  virtual int Poll(struct pollfd* fds, nfds_t nfds, int timeout_ms) = 0;
  virtual int Shutdown(int fd, int how) = 0;
  virtual int Close(int fd) = 0;
  virtual int Dup(int fd) = 0;
  virtual int Fcntl(int fd, int cmd, int arg) = 0;
  virtual int Getsockopt(int fd, int level, int name, void* value, socklen_t* len) = 0;
  virtual int Setsockopt(int fd, int level, int name, const void* value, socklen_t len) = 0;
  // connect(fd, AF_UNSPEC): disconnects, sending a reset, like FreeBSD's tcp_drop.
  virtual int Disconnect(int fd) = 0;
  // Which file `fd` names (KtlsSocket::NamesItsFile); no test needs to fake it.
  virtual int Fstat(int fd, struct stat* st) { return ::fstat(fd, st); }
};

// The real system calls (through libc's next symbols when the interposer is loaded).
Os& RealOs();

}  // namespace ktls::socket
