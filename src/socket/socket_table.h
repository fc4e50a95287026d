// Which descriptors are offloaded: fd -> KtlsSocket. Lookups take a shared lock only,
// so concurrent I/O on different sockets never waits on each other.
#pragma once

#include <functional>
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
  // Makes `fd` refer to `socket` too (a dup of an offloaded descriptor), replacing
  // whatever `fd` mapped to.
  void Install(int fd, std::shared_ptr<KtlsSocket> socket);
  // Calls `fn` for every (fd, socket) entry, in fd order, under the shared lock: lookups
  // go on meanwhile, only opening and closing wait. `fn` may lock the socket (Describe)
  // but must not call back into the table. No reference outlives the call, so a socket
  // is still destroyed by whoever closes it, never by the caller of ForEach.
  void ForEach(const std::function<void(int fd, const std::shared_ptr<KtlsSocket>&)>& fn) const;

 private:
  mutable std::shared_mutex mu_;
  std::vector<std::shared_ptr<KtlsSocket>> sockets_;
};

}  // namespace ktls::socket
