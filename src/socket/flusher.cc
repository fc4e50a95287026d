#include "socket/flusher.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "socket/ktls_socket.h"

namespace ktls::socket {

Flusher& Flusher::Get() {
  // Leaked on purpose so the thread can outlive static destruction at exit.
  static auto* flusher = new Flusher();
  return *flusher;
}

Flusher::Flusher() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
  thread_ = std::thread([this] { Run(); });
  thread_.detach();
}

void Flusher::Arm(int fd, bool add) {
  struct epoll_event event = {};
  event.events = EPOLLOUT | EPOLLONESHOT;
  event.data.fd = fd;
  if (epoll_ctl(epoll_fd_, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event) != 0) {
    if (errno == EEXIST) epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
    if (errno == ENOENT) epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
  }
}

void Flusher::Watch(const std::shared_ptr<KtlsSocket>& socket) {
  const int fd = socket->fd();
  std::lock_guard lock(mu_);
  auto [it, inserted] = entries_.try_emplace(fd, Entry{socket, std::chrono::steady_clock::now()});
  if (!inserted) it->second.socket = socket;
  Arm(fd, inserted);
}

void Flusher::Unwatch(int fd) {
  std::lock_guard lock(mu_);
  if (entries_.erase(fd) > 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

size_t Flusher::watched() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void Flusher::Run() {
  constexpr int kMaxEvents = 64;
  constexpr int kTickMs = 1000;
  struct epoll_event events[kMaxEvents];
  for (;;) {
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, kTickMs);
    if (n < 0 && errno != EINTR) return;
    std::vector<std::pair<int, std::shared_ptr<KtlsSocket>>> ready;
    {
      std::lock_guard lock(mu_);
      for (int i = 0; i < n; ++i) {
        auto it = entries_.find(events[i].data.fd);
        if (it != entries_.end()) ready.emplace_back(it->first, it->second.socket);
      }
      // Re-check everything once per tick too: a peer that never reads must not pin
      // a closed socket forever.
      if (n == 0) {
        for (auto& [fd, entry] : entries_) ready.emplace_back(fd, entry.socket);
      }
    }
    for (auto& [fd, socket] : ready) {
      const bool done = socket->FlushFromBackground();
      std::lock_guard lock(mu_);
      auto it = entries_.find(fd);
      if (it == entries_.end() || it->second.socket != socket) continue;
      const bool expired = std::chrono::steady_clock::now() - it->second.since > kCloseDeadline;
      if (done || (expired && socket->AbandonIfClosing())) {
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        entries_.erase(it);
      } else {
        Arm(fd, /*add=*/false);
      }
    }
  }
}

}  // namespace ktls::socket
