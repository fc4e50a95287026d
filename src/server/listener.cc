#include "server/listener.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

namespace ktls::server {

Result<ListenAddress> CheckAddressFree(const ListenAddress& address) {
  UniqueFd fd(socket(address.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::Error(errno);
  // SO_REUSEADDR only lets connections in TIME_WAIT from an earlier run be ignored; a
  // live listener still makes bind fail.
  const int on = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (bind(fd.get(), reinterpret_cast<const struct sockaddr*>(&address.addr), address.len) != 0) {
    return Status::Error(errno);
  }
  return BoundAddress(fd.get());
}

Result<UniqueFd> OpenListener(const ListenAddress& address, int backlog) {
  UniqueFd fd(socket(address.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::Error(errno);
  const int on = 1;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
      setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
    return Status::Error(errno);
  }
  if (bind(fd.get(), reinterpret_cast<const struct sockaddr*>(&address.addr), address.len) != 0 ||
      listen(fd.get(), backlog) != 0) {
    return Status::Error(errno);
  }
  return fd;
}

Result<ListenAddress> BoundAddress(int fd) {
  ListenAddress address;
  address.len = sizeof(address.addr);
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&address.addr), &address.len) != 0) {
    return Status::Error(errno);
  }
  return address;
}

}  // namespace ktls::server
