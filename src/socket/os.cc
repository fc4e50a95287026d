#include "socket/os.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "platform/next_libc.h"

namespace ktls::socket {
namespace {

namespace libc = platform::libc;

// Through libc's next symbols, never the plain names: inside the LD_PRELOAD interposer
// those are the interposer's own wrappers, and calling them from here would recurse.
class SystemOs final : public Os {
 public:
  ssize_t Recv(int fd, void* buf, size_t len, int flags) override {
    return libc::Recv(fd, buf, len, flags);
  }
  ssize_t Recvmsg(int fd, struct msghdr* msg, int flags) override {
    return libc::Recvmsg(fd, msg, flags);
  }
  ssize_t Sendmsg(int fd, const struct msghdr* msg, int flags) override {
    return libc::Sendmsg(fd, msg, flags);
  }
  ssize_t Sendfile(int out_fd, int in_fd, off_t* offset, size_t count) override {
    return libc::Sendfile(out_fd, in_fd, offset, count);
  }
  ssize_t Pread(int fd, void* buf, size_t len, off_t offset) override {
    return ::pread(fd, buf, len, offset);
  }
  off_t Lseek(int fd, off_t offset, int whence) override { return ::lseek(fd, offset, whence); }
  int Poll(struct pollfd* fds, nfds_t nfds, int timeout_ms) override {
    return libc::Poll(fds, nfds, timeout_ms);
  }
  int Shutdown(int fd, int how) override { return libc::Shutdown(fd, how); }
  int Close(int fd) override { return libc::Close(fd); }
  int Dup(int fd) override { return libc::Fcntl(fd, F_DUPFD_CLOEXEC, 0); }
  int Fcntl(int fd, int cmd, int arg) override {
    return libc::Fcntl(fd, cmd, static_cast<uintptr_t>(arg));
  }
  int Getsockopt(int fd, int level, int name, void* value, socklen_t* len) override {
    return libc::Getsockopt(fd, level, name, value, len);
  }
  int Setsockopt(int fd, int level, int name, const void* value, socklen_t len) override {
    return libc::Setsockopt(fd, level, name, value, len);
  }
  int Disconnect(int fd) override {
    struct sockaddr addr;
    std::memset(&addr, 0, sizeof(addr));
    addr.sa_family = AF_UNSPEC;
    return libc::Connect(fd, &addr, sizeof(addr));
  }
};

}  // namespace

Os& RealOs() {
  // Leaked on purpose: sockets still flush through it at exit, after static destructors.
  static auto* os = new SystemOs();
  return *os;
}

}  // namespace ktls::socket
