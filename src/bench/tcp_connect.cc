#include "bench/tcp_connect.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ktls::bench {

Result<server::UniqueFd> ConnectTcp(const SocketAddress& address, std::chrono::milliseconds timeout,
                                    std::string* error) {
  server::UniqueFd fd(socket(address.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    const int socket_error = errno;
    *error = std::string("socket: ") + std::strerror(socket_error);
    return Status::Error(socket_error);
  }
  // A zero timeval would mean "wait forever".
  const int64_t ms = std::max<int64_t>(timeout.count(), 1);
  timeval limit{};
  limit.tv_sec = static_cast<time_t>(ms / 1000);
  limit.tv_usec = static_cast<suseconds_t>(ms % 1000 * 1000);
  // On Linux SO_SNDTIMEO also bounds connect(2), which then fails with EINPROGRESS.
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  const int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address.addr), address.len) != 0) {
    const int connect_error = errno == EINPROGRESS ? ETIMEDOUT : errno;
    *error = "connect to " + server::DialableAddress(address) + ": " + std::strerror(connect_error);
    return Status::Error(connect_error);
  }
  return fd;
}

}  // namespace ktls::bench
