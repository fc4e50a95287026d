#include "preload/descriptors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>

#include "platform/next_libc.h"
#include "preload/epoll_tracker.h"
#include "preload/summary.h"
#include "socket/flusher.h"
#include "socket/socket_table.h"

namespace ktls::preload {

std::atomic<bool> internal::any_emulated{false};

namespace {

namespace libc = platform::libc;
using socket::SocketTable;

// The process that owns the state below. A vfork child (or a raw clone sharing our
// memory) runs with another pid and must not change it.
std::atomic<pid_t> g_owner{0};

struct Connection {
  std::shared_ptr<KtlsSocket> socket;
  std::vector<int> numbers;  // the application's descriptors for it
};

std::mutex g_mu;
// Leaked: wrappers may run during static destruction.
auto& g_connections = *new std::unordered_map<const KtlsSocket*, Connection>();

bool InForeignProcess() {
  const pid_t owner = g_owner.load(std::memory_order_relaxed);
  return owner != 0 && owner != getpid();
}

}  // namespace

std::shared_ptr<KtlsSocket> Emulated(int fd) {
  if (!AnyEmulated()) return nullptr;
  std::shared_ptr<KtlsSocket> socket = SocketTable::Get().Find(fd);
  if (socket && socket->ulp_attached()) return socket;
  return nullptr;
}

void Adopt(int fd) {
  std::shared_ptr<KtlsSocket> socket = SocketTable::Get().Find(fd);
  if (!socket) return;
  pid_t none = 0;
  g_owner.compare_exchange_strong(none, getpid());
  internal::any_emulated.store(true, std::memory_order_relaxed);
  {
    std::lock_guard lock(g_mu);
    Connection& connection = g_connections[socket.get()];
    if (!connection.socket) connection.socket = socket;
    if (std::find(connection.numbers.begin(), connection.numbers.end(), fd) ==
        connection.numbers.end()) {
      connection.numbers.push_back(fd);
    }
  }
  EpollTracker::Get().MarkEmulated(fd);
}

void AddAlias(int new_fd, const std::shared_ptr<KtlsSocket>& socket) {
  if (InForeignProcess()) return;
  SocketTable::Get().Install(new_fd, socket);
  {
    std::lock_guard lock(g_mu);
    Connection& connection = g_connections[socket.get()];
    if (!connection.socket) connection.socket = socket;
    connection.numbers.push_back(new_fd);
  }
  EpollTracker::Get().MarkEmulated(new_fd);
}

Release ReleaseNumber(int fd, bool number_stays, int* result) {
  std::shared_ptr<KtlsSocket> socket = Emulated(fd);
  if (!socket || InForeignProcess()) return Release::kNotOurs;
  SocketTable::Get().RemoveIf(fd, socket.get());
  std::vector<int> others;
  {
    std::lock_guard lock(g_mu);
    auto it = g_connections.find(socket.get());
    if (it != g_connections.end()) {
      std::erase(it->second.numbers, fd);
      others = it->second.numbers;
      if (others.empty()) g_connections.erase(it);
    }
  }
  if (!others.empty()) {
    // Another number still refers to the connection: it carries on through that one.
    if (socket->fd() == fd) socket->Rebind(others.front());
    return Release::kNotOurs;
  }
  FoldClosed(socket->stats());
  if (number_stays) {
    // Close the connection on a private duplicate, so that queued records still reach
    // the peer while the caller's real call takes the number itself.
    const int private_fd = libc::Fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (private_fd >= 0) {
      socket->Rebind(private_fd);
      socket->Close();
    }
    return Release::kNotOurs;
  }
  *result = socket->Close();
  return Release::kClosed;
}

void ForgetStale(int fd) {
  if (!AnyEmulated() || InForeignProcess()) return;
  std::shared_ptr<KtlsSocket> socket = SocketTable::Get().Remove(fd);
  if (!socket) return;
  bool last = false;
  {
    std::lock_guard lock(g_mu);
    auto it = g_connections.find(socket.get());
    if (it != g_connections.end()) {
      std::erase(it->second.numbers, fd);
      last = it->second.numbers.empty();
      if (last) g_connections.erase(it);
    }
  }
  // The number is someone else's now: nothing may be flushed into it.
  if (socket->fd() == fd) socket::Flusher::Get().Unwatch(fd);
  if (last) FoldClosed(socket->stats());
}

std::vector<int> EmulatedInRange(unsigned int first, unsigned int last) {
  std::vector<int> fds;
  std::lock_guard lock(g_mu);
  for (const auto& [key, connection] : g_connections) {
    for (int fd : connection.numbers) {
      const auto number = static_cast<unsigned int>(fd);
      if (number >= first && number <= last) fds.push_back(fd);
    }
  }
  return fds;
}

std::vector<std::shared_ptr<KtlsSocket>> LiveSockets() {
  std::vector<std::shared_ptr<KtlsSocket>> sockets;
  std::lock_guard lock(g_mu);
  sockets.reserve(g_connections.size());
  for (const auto& [key, connection] : g_connections) sockets.push_back(connection.socket);
  return sockets;
}

void DescriptorsPrepareFork() {
  g_mu.lock();
}

void DescriptorsParentAfterFork() {
  g_mu.unlock();
}

void DescriptorsChildAfterFork() {
  g_mu.unlock();
  // The child inherits every descriptor and the state behind it, and owns both now.
  if (g_owner.load(std::memory_order_relaxed) != 0) g_owner.store(getpid());
}

}  // namespace ktls::preload
