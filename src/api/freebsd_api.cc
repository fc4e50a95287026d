// The C API of include/ktls/freebsd.h: system-call shaped entry points that route
// offloaded sockets through the socket layer and everything else to the kernel.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "ktls/freebsd.h"
#include "socket/ktls_socket.h"
#include "socket/os.h"
#include "socket/socket_table.h"

namespace {

using ktls::ConstBytes;
using ktls::socket::KtlsSocket;
using ktls::socket::RealOs;
using ktls::socket::SocketTable;

// Converts a -errno result to the system-call convention.
template <typename T>
T Ret(T result) {
  if (result < 0) {
    errno = static_cast<int>(-result);
    return -1;
  }
  return result;
}

bool IsListening(int fd) {
  int listening = 0;
  socklen_t len = sizeof(listening);
  return RealOs().Getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening;
}

std::vector<ConstBytes> Segments(const struct iovec* iov, size_t count) {
  std::vector<ConstBytes> segments;
  segments.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    segments.emplace_back(static_cast<const uint8_t*>(iov[i].iov_base), iov[i].iov_len);
  }
  return segments;
}

// The socket layer's entry for `fd`, unless the number names another file now: the
// application closed it with close(2), which this API does not see (the interposer wraps
// close and needs none of this), and a new socket or file may have got the number. Then
// the entry is dropped and the call acts on the new file as on any other. Each entry
// point looks up once per call: one fstat, for offloaded sockets only.
std::shared_ptr<KtlsSocket> Lookup(int fd) {
  std::shared_ptr<KtlsSocket> socket = SocketTable::Get().Find(fd);
  if (socket && !socket->NamesItsFile()) {
    socket->ForgetClosedDescriptor();
    SocketTable::Get().RemoveIf(fd, socket.get());
    return nullptr;
  }
  return socket;
}

int EnableDirection(int fd, int optname, const void* optval, socklen_t optlen) {
  Lookup(fd);  // a stale entry must not lend its sessions to a new file
  std::shared_ptr<KtlsSocket> socket = SocketTable::Get().FindOrCreate(fd, RealOs());
  if (!socket) return -EBADF;
  socket->RememberFile();
  const int result = optname == TCP_TXTLS_ENABLE ? socket->EnableTx(optval, optlen)
                                                 : socket->EnableRx(optval, optlen);
  if (result != 0 && !socket->tx_enabled() && !socket->rx_enabled()) {
    SocketTable::Get().RemoveIf(fd, socket.get());
  }
  return result;
}

// The record type a sendmsg asks for: FreeBSD looks only at cmsg_type and reads one byte.
std::optional<uint8_t> RecordTypeOf(const struct msghdr* msg) {
  if (msg->msg_control == nullptr || msg->msg_controllen < sizeof(struct cmsghdr)) {
    return std::nullopt;
  }
  for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(msg); cmsg != nullptr;
       cmsg = CMSG_NXTHDR(const_cast<struct msghdr*>(msg), cmsg)) {
    if (cmsg->cmsg_type == TLS_SET_RECORD_TYPE && cmsg->cmsg_len > CMSG_LEN(0)) {
      return *CMSG_DATA(cmsg);
    }
  }
  return std::nullopt;
}

bool IsBroadcastDestination(const struct msghdr* msg) {
  if (msg->msg_name == nullptr || msg->msg_namelen < sizeof(struct sockaddr_in)) return false;
  const auto* addr = static_cast<const struct sockaddr_in*>(msg->msg_name);
  return addr->sin_family == AF_INET && (addr->sin_addr.s_addr == htonl(INADDR_BROADCAST) ||
                                         IN_MULTICAST(ntohl(addr->sin_addr.s_addr)));
}

}  // namespace

extern "C" {

int ktls_setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen) {
  if (level != IPPROTO_TCP || optname < TCP_TXTLS_ENABLE || optname > TCP_RXTLS_MODE) {
    return RealOs().Setsockopt(fd, level, optname, optval, optlen);
  }
  switch (optname) {
    case TCP_TXTLS_ENABLE:
    case TCP_RXTLS_ENABLE:
      return Ret(EnableDirection(fd, optname, optval, optlen));
    case TCP_TXTLS_MODE: {
      int mode = 0;
      if (optval == nullptr || optlen < sizeof(mode)) return Ret(-EINVAL);
      std::memcpy(&mode, optval, sizeof(mode));
      if (std::shared_ptr<KtlsSocket> socket = Lookup(fd)) {
        return Ret(socket->SetTxMode(mode));
      }
      if (IsListening(fd)) return Ret(-EINVAL);
      if (mode != TCP_TLS_MODE_SW && mode != TCP_TLS_MODE_IFNET) return Ret(-EINVAL);
      return 0;  // FreeBSD: no transmit session, nothing to switch
    }
    default:  // TCP_RXTLS_MODE cannot be set ("at present, the mode cannot be changed")
      return Ret(-ENOPROTOOPT);
  }
}

int ktls_getsockopt(int fd, int level, int optname, void* optval, socklen_t* optlen) {
  if (level != IPPROTO_TCP || optname < TCP_TXTLS_ENABLE || optname > TCP_RXTLS_MODE) {
    return RealOs().Getsockopt(fd, level, optname, optval, optlen);
  }
  if (optname != TCP_TXTLS_MODE && optname != TCP_RXTLS_MODE) return Ret(-ENOPROTOOPT);
  if (optlen == nullptr) return Ret(-EFAULT);
  int type = 0;
  socklen_t type_len = sizeof(type);
  if (RealOs().Getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0) return -1;
  if (IsListening(fd)) return Ret(-EINVAL);
  int mode = TCP_TLS_MODE_NONE;
  if (std::shared_ptr<KtlsSocket> socket = Lookup(fd)) {
    mode = static_cast<int>(optname == TCP_TXTLS_MODE ? socket->tx_mode() : socket->rx_mode());
  }
  // sooptcopyout(9): the value is truncated to the caller's buffer, whose new length
  // says how much was copied.
  const socklen_t copied = std::min<socklen_t>(*optlen, sizeof(mode));
  if (optval != nullptr) std::memcpy(optval, &mode, copied);
  *optlen = copied;
  return 0;
}

ssize_t ktls_sendmsg(int fd, const struct msghdr* msg, int flags) {
  std::shared_ptr<KtlsSocket> socket = Lookup(fd);
  if (!socket || !socket->tx_enabled()) return RealOs().Sendmsg(fd, msg, flags);
  if (IsBroadcastDestination(msg)) return Ret(ssize_t{-EACCES});
  const std::vector<ConstBytes> data = Segments(msg->msg_iov, msg->msg_iovlen);
  return Ret(socket->Send(data, RecordTypeOf(msg), flags));
}

ssize_t ktls_send(int fd, const void* buf, size_t len, int flags) {
  struct iovec iov = {const_cast<void*>(buf), len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  return ktls_sendmsg(fd, &msg, flags);
}

ssize_t ktls_write(int fd, const void* buf, size_t len) {
  std::shared_ptr<KtlsSocket> socket = Lookup(fd);
  if (!socket || !socket->tx_enabled()) return write(fd, buf, len);
  const ConstBytes data(static_cast<const uint8_t*>(buf), len);
  return Ret(socket->Send(std::span<const ConstBytes>(&data, 1), std::nullopt, 0));
}

ssize_t ktls_writev(int fd, const struct iovec* iov, int iovcnt) {
  std::shared_ptr<KtlsSocket> socket = Lookup(fd);
  if (!socket || !socket->tx_enabled()) return writev(fd, iov, iovcnt);
  if (iovcnt < 0 || iovcnt > IOV_MAX) return Ret(ssize_t{-EINVAL});
  const std::vector<ConstBytes> data = Segments(iov, static_cast<size_t>(iovcnt));
  return Ret(socket->Send(data, std::nullopt, 0));
}

ssize_t ktls_recvmsg(int fd, struct msghdr* msg, int flags) {
  std::shared_ptr<KtlsSocket> socket = Lookup(fd);
  if (!socket || !socket->rx_enabled()) return RealOs().Recvmsg(fd, msg, flags);
  return Ret(socket->Receive(msg, flags));
}

ssize_t ktls_recv(int fd, void* buf, size_t len, int flags) {
  std::shared_ptr<KtlsSocket> socket = Lookup(fd);
  if (!socket || !socket->rx_enabled()) return RealOs().Recv(fd, buf, len, flags);
  struct iovec iov = {buf, len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  return Ret(socket->Receive(&msg, flags));
}

ssize_t ktls_read(int fd, void* buf, size_t len) {
  std::shared_ptr<KtlsSocket> socket = Lookup(fd);
  if (!socket || !socket->rx_enabled()) return read(fd, buf, len);
  struct iovec iov = {buf, len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  return Ret(socket->Receive(&msg, 0));
}

ssize_t ktls_readv(int fd, const struct iovec* iov, int iovcnt) {
  std::shared_ptr<KtlsSocket> socket = Lookup(fd);
  if (!socket || !socket->rx_enabled()) return readv(fd, iov, iovcnt);
  if (iovcnt < 0 || iovcnt > IOV_MAX) return Ret(ssize_t{-EINVAL});
  struct msghdr msg = {};
  msg.msg_iov = const_cast<struct iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(iovcnt);
  return Ret(socket->Receive(&msg, 0));
}

ssize_t ktls_sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  std::shared_ptr<KtlsSocket> socket = Lookup(out_fd);
  if (!socket || !socket->tx_enabled()) return RealOs().Sendfile(out_fd, in_fd, offset, count);
  return Ret(socket->SendFile(in_fd, offset, count));
}

int ktls_shutdown(int fd, int how) {
  std::shared_ptr<KtlsSocket> socket = Lookup(fd);
  if (!socket) return RealOs().Shutdown(fd, how);
  return Ret(socket->Shutdown(how));
}

int ktls_close(int fd) {
  std::shared_ptr<KtlsSocket> socket = SocketTable::Get().Remove(fd);
  if (!socket) return RealOs().Close(fd);
  if (!socket->NamesItsFile()) {  // closed before, see Lookup: close the new file
    socket->ForgetClosedDescriptor();
    return RealOs().Close(fd);
  }
  return Ret(socket->Close());
}

int ktls_listen(int fd, int backlog) {
  // FreeBSD refuses to turn a socket with TLS sessions into a listening socket.
  std::shared_ptr<KtlsSocket> socket = Lookup(fd);
  if (socket && (socket->tx_enabled() || socket->rx_enabled())) return Ret(-EINVAL);
  return listen(fd, backlog);
}

int ktls_poll(struct pollfd* fds, nfds_t nfds, int timeout) {
  std::vector<std::shared_ptr<KtlsSocket>> sockets(nfds);
  bool any = false;
  for (nfds_t i = 0; i < nfds; ++i) {
    sockets[i] = Lookup(fds[i].fd);
    any = any || sockets[i] != nullptr;
  }
  if (!any) return RealOs().Poll(fds, nfds, timeout);

  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout < 0 ? 0 : timeout);
  std::vector<struct pollfd> kernel(fds, fds + nfds);
  for (;;) {
    // What the socket layer can say without the kernel: whole records, queue room.
    int ready = 0;
    for (nfds_t i = 0; i < nfds; ++i) {
      fds[i].revents = 0;
      kernel[i].events = fds[i].events;
      if (sockets[i]) {
        fds[i].revents = sockets[i]->ReadyEvents(fds[i].events);
        kernel[i].events = sockets[i]->KernelEvents(fds[i].events);
      }
    }
    int wait_ms = timeout;
    if (timeout > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      wait_ms = static_cast<int>(std::max<long long>(0, left.count()));
    }
    // Linux: installing the RX key after a KeyUpdate makes records readable that the
    // kernel socket no longer signals (they are already in our queue): look again soon.
    constexpr int kRekeyRecheckMs = 10;
    for (nfds_t i = 0; i < nfds && wait_ms != 0; ++i) {
      if (sockets[i] && (fds[i].events & (POLLIN | POLLRDNORM)) != 0 &&
          sockets[i]->rx_rekey_pending() && (wait_ms < 0 || wait_ms > kRekeyRecheckMs)) {
        wait_ms = kRekeyRecheckMs;
      }
    }
    bool have_ready = false;
    for (nfds_t i = 0; i < nfds; ++i) have_ready = have_ready || fds[i].revents != 0;
    const int n = RealOs().Poll(kernel.data(), nfds, have_ready ? 0 : wait_ms);
    if (n < 0) return -1;
    for (nfds_t i = 0; i < nfds; ++i) {
      short from_kernel = kernel[i].revents;
      if (sockets[i] && sockets[i]->rx_enabled()) {
        // Kernel readability is only ciphertext: readable once a record is whole.
        from_kernel &= static_cast<short>(~(POLLIN | POLLRDNORM));
        if ((kernel[i].revents & (POLLIN | POLLRDNORM | POLLHUP | POLLERR)) != 0) {
          fds[i].revents |= sockets[i]->ReadyEvents(fds[i].events & (POLLIN | POLLRDNORM));
        }
      }
      fds[i].revents |= from_kernel;
      if (fds[i].revents != 0) ++ready;
    }
    if (ready > 0 || wait_ms == 0) return ready;
  }
}

}  // extern "C"
