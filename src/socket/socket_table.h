// Which descriptors are offloaded: fd -> KtlsSocket. Lookups take a shared lock only,
// so concurrent I/O on different sockets never waits on each other.
#pragma once

#include <memory>
#include <shared_mutex>
#include <vector>

#include "socket/ktls_socket.h"

namespace ktls::socket {

class SocketTable {
 public:
  static SocketTable& Get();

  std::shared_ptr<KtlsSocket> Find(int fd) const;
  // Returns the socket for `fd`, creating it (on `os`) if there is none.
  std::shared_ptr<KtlsSocket> FindOrCreate(int fd, Os& os);
  // Forgets `fd`; returns what was there.
  std::shared_ptr<KtlsSocket> Remove(int fd);
  // Forgets `fd` only if it still maps to `socket`.
  void RemoveIf(int fd, const KtlsSocket* socket);

 private:
  mutable std::shared_mutex mu_;
  std::vector<std::shared_ptr<KtlsSocket>> sockets_;
};

}  // namespace ktls::socket
