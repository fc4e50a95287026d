#include "socket/socket_table.h"

#include <mutex>

namespace ktls::socket {

SocketTable& SocketTable::Get() {
  // Leaked on purpose: sockets may still be flushed by the background thread while
  // static destructors run at exit.
  static auto* table = new SocketTable();
  return *table;
}

std::shared_ptr<KtlsSocket> SocketTable::Find(int fd) const {
  if (fd < 0) return nullptr;
  std::shared_lock lock(mu_);
  if (static_cast<size_t>(fd) >= sockets_.size()) return nullptr;
  return sockets_[static_cast<size_t>(fd)];
}

std::shared_ptr<KtlsSocket> SocketTable::FindOrCreate(int fd, Os& os) {
  if (fd < 0) return nullptr;
  std::unique_lock lock(mu_);
  const auto index = static_cast<size_t>(fd);
  if (index >= sockets_.size()) sockets_.resize(index + 1);
  if (!sockets_[index]) sockets_[index] = std::make_shared<KtlsSocket>(fd, os);
  return sockets_[index];
}

std::shared_ptr<KtlsSocket> SocketTable::Remove(int fd) {
  if (fd < 0) return nullptr;
  std::unique_lock lock(mu_);
  const auto index = static_cast<size_t>(fd);
  if (index >= sockets_.size()) return nullptr;
  return std::move(sockets_[index]);
}

void SocketTable::RemoveIf(int fd, const KtlsSocket* socket) {
  if (fd < 0) return;
  std::unique_lock lock(mu_);
  const auto index = static_cast<size_t>(fd);
  if (index < sockets_.size() && sockets_[index].get() == socket) sockets_[index].reset();
}

}  // namespace ktls::socket
