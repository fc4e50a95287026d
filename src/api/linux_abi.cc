#include "api/linux_abi.h"

#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "base/bytes.h"
#include "socket/ktls_socket.h"
#include "socket/os.h"
#include "socket/socket_table.h"

namespace ktls::api::linux_abi {
namespace {

using socket::KtlsSocket;
using socket::SocketTable;

std::shared_ptr<KtlsSocket> Emulated(int fd) {
  std::shared_ptr<KtlsSocket> socket = SocketTable::Get().Find(fd);
  if (socket && socket->ulp_attached()) return socket;
  return nullptr;
}

// tls_process_cmsg: with a control buffer there must be a SOL_TLS record type.
// Returns 0 and the type (if any), or an errno.
int RecordTypeOf(const struct msghdr* msg, std::optional<uint8_t>* type) {
  if (msg->msg_control == nullptr || msg->msg_controllen == 0) return 0;
  bool found = false;
  for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(msg); cmsg != nullptr;
       cmsg = CMSG_NXTHDR(const_cast<struct msghdr*>(msg), cmsg)) {
    if (cmsg->cmsg_level != SOL_TLS) continue;
    if (cmsg->cmsg_type != TLS_SET_RECORD_TYPE || cmsg->cmsg_len < CMSG_LEN(1)) return EINVAL;
    *type = *CMSG_DATA(cmsg);
    found = true;
  }
  return found ? 0 : EINVAL;
}

}  // namespace

int Setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen) {
  if (level == SOL_TCP && optname == TCP_ULP) {
    if (optval == nullptr || optlen == 0) return -EINVAL;
    char name[16] = {};
    std::memcpy(name, optval, std::min<size_t>(optlen, sizeof(name) - 1));
    if (std::strcmp(name, "tls") != 0) return static_cast<int>(kNotHandled);
    std::shared_ptr<KtlsSocket> socket = SocketTable::Get().FindOrCreate(fd, socket::RealOs());
    if (!socket) return -EBADF;
    const int result = socket->AttachUlp();
    if (result != 0 && socket->abi() == socket::Abi::kNone) {
      SocketTable::Get().RemoveIf(fd, socket.get());
    }
    return result;
  }
  if (level != SOL_TLS) return static_cast<int>(kNotHandled);
  std::shared_ptr<KtlsSocket> socket = Emulated(fd);
  if (!socket) return static_cast<int>(kNotHandled);
  return socket->LinuxSetsockopt(optname, optval, optlen);
}

int Getsockopt(int fd, int level, int optname, void* optval, socklen_t* optlen) {
  std::shared_ptr<KtlsSocket> socket = Emulated(fd);
  if (!socket) return static_cast<int>(kNotHandled);
  if (level == SOL_TCP && optname == TCP_ULP) {
    if (optval == nullptr || optlen == nullptr) return -EFAULT;
    const char name[] = "tls";
    const size_t len = std::min<size_t>(*optlen, sizeof(name));
    std::memcpy(optval, name, len);
    *optlen = static_cast<socklen_t>(len);
    return 0;
  }
  if (level != SOL_TLS) return static_cast<int>(kNotHandled);
  return socket->LinuxGetsockopt(optname, optval, optlen);
}

ssize_t Sendmsg(int fd, const struct msghdr* msg, int flags) {
  std::shared_ptr<KtlsSocket> socket = Emulated(fd);
  if (!socket || !socket->tx_enabled()) return kNotHandled;
  std::optional<uint8_t> type;
  if (const int error = RecordTypeOf(msg, &type); error != 0) return -error;
  std::vector<ConstBytes> data;
  data.reserve(msg->msg_iovlen);
  for (size_t i = 0; i < msg->msg_iovlen; ++i) {
    data.emplace_back(static_cast<const uint8_t*>(msg->msg_iov[i].iov_base),
                      msg->msg_iov[i].iov_len);
  }
  return socket->SendLinux(data, type, flags);
}

ssize_t Recvmsg(int fd, struct msghdr* msg, int flags) {
  std::shared_ptr<KtlsSocket> socket = Emulated(fd);
  if (!socket || !socket->rx_enabled()) return kNotHandled;
  return socket->ReceiveLinux(msg, flags);
}

ssize_t Sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  std::shared_ptr<KtlsSocket> socket = Emulated(out_fd);
  if (!socket || !socket->tx_enabled()) return kNotHandled;
  return socket->SendFile(in_fd, offset, count);
}

bool IsEmulated(int fd) {
  return Emulated(fd) != nullptr;
}
bool HasTx(int fd) {
  std::shared_ptr<KtlsSocket> socket = Emulated(fd);
  return socket && socket->tx_enabled();
}
bool HasRx(int fd) {
  std::shared_ptr<KtlsSocket> socket = Emulated(fd);
  return socket && socket->rx_enabled();
}

}  // namespace ktls::api::linux_abi
