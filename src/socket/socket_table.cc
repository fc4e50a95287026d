#include "socket/socket_table.h"

#include <mutex>

#include "control/export/exporter.h"
#include "socket/socket_export.h"

namespace ktls::socket {

SocketTable& SocketTable::Get() {
  // Leaked on purpose: sockets may still be flushed by the background thread while
  // static destructors run at exit.
  static auto* table = [] {
    // `ktls stat` lists the sockets of this table.
    control::shm::SetSocketLister(&ListExportedSockets);
    return new SocketTable();
  }();
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
  if (sockets_[index]) return sockets_[index];
  sockets_[index] = std::make_shared<KtlsSocket>(fd, os);
  std::shared_ptr<KtlsSocket> created = sockets_[index];
  lock.unlock();
  control::shm::NotifySocketsChanged();
  return created;
}

std::shared_ptr<KtlsSocket> SocketTable::Remove(int fd) {
  if (fd < 0) return nullptr;
  std::unique_lock lock(mu_);
  const auto index = static_cast<size_t>(fd);
  if (index >= sockets_.size()) return nullptr;
  std::shared_ptr<KtlsSocket> removed = std::move(sockets_[index]);
  lock.unlock();
  if (removed) control::shm::NotifySocketsChanged();
  return removed;
}

void SocketTable::RemoveIf(int fd, const KtlsSocket* socket) {
  if (fd < 0) return;
  std::unique_lock lock(mu_);
  const auto index = static_cast<size_t>(fd);
  if (index >= sockets_.size() || sockets_[index].get() != socket) return;
  sockets_[index].reset();
  lock.unlock();
  control::shm::NotifySocketsChanged();
}

void SocketTable::Install(int fd, std::shared_ptr<KtlsSocket> socket) {
  if (fd < 0) return;
  std::unique_lock lock(mu_);
  const auto index = static_cast<size_t>(fd);
  if (index >= sockets_.size()) sockets_.resize(index + 1);
  sockets_[index] = std::move(socket);
  lock.unlock();
  control::shm::NotifySocketsChanged();
}

void SocketTable::ForEach(
    const std::function<void(int fd, const std::shared_ptr<KtlsSocket>&)>& fn) const {
  std::shared_lock lock(mu_);
  for (size_t fd = 0; fd < sockets_.size(); ++fd) {
    if (sockets_[fd]) fn(static_cast<int>(fd), sockets_[fd]);
  }
}

}  // namespace ktls::socket
