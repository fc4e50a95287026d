#include "socket/flusher.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <vector>

#include "platform/next_libc.h"
#include "socket/ktls_socket.h"

namespace ktls::socket {

namespace libc = platform::libc;

namespace {

// Set once the flusher exists: before that there is nothing to drain at exit.
std::atomic<Flusher*> g_flusher{nullptr};
std::atomic<int64_t> g_exit_budget_ms{Flusher::kDefaultExitBudget.count()};

// Records a program accepted must reach the kernel although the process ends: the
// background thread that would send them vanishes with it. A destructor runs after the
// program's atexit handlers (which may still write, a TLS close_notify for one) and
// static destructors, while the process can still send; it runs in every copy of this
// code (libktls.so, libktls-preload.so, programs linking ktls_core), each with its own
// flusher.
__attribute__((destructor)) void DrainBeforeExit() {
  if (Flusher* flusher = g_flusher.load(std::memory_order_acquire)) flusher->DrainAtExit();
}

}  // namespace

Flusher& Flusher::Get() {
  // Leaked on purpose so the thread can outlive static destruction at exit.
  static auto* flusher = [] {
    auto* created = new Flusher();
    g_flusher.store(created, std::memory_order_release);
    return created;
  }();
  return *flusher;
}

void Flusher::SetExitBudget(std::chrono::milliseconds budget) {
  g_exit_budget_ms.store(budget.count(), std::memory_order_relaxed);
}

void Flusher::DrainAtExit() {
  if (drained_at_exit_.exchange(true)) return;
  Drain(std::chrono::milliseconds(g_exit_budget_ms.load(std::memory_order_relaxed)));
}

Flusher::Flusher() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
  pthread_atfork(&Flusher::PrepareFork, &Flusher::ParentAfterFork, &Flusher::ChildAfterFork);
}

void Flusher::StartIfNeeded() {
  if (running_) return;
  // The application's signals are not ours to take: they go to its own threads.
  sigset_t all;
  sigset_t saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  std::thread([this] { Run(); }).detach();
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  running_ = true;
}

void Flusher::PrepareFork() {
  Get().mu_.lock();
}

void Flusher::ParentAfterFork() {
  Get().mu_.unlock();
}

void Flusher::ChildAfterFork() {
  Flusher& self = Get();
  for (auto& [fd, entry] : self.entries_) entry.socket->ForgetAfterFork();
  self.entries_.clear();
  // The inherited descriptor names the parent's epoll instance; never touch it.
  libc::Close(self.epoll_fd_);
  self.epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  self.running_ = false;
  self.mu_.unlock();
}

void Flusher::Arm(int fd, bool add) {
  struct epoll_event event = {};
  event.events = EPOLLOUT | EPOLLONESHOT;
  event.data.fd = fd;
  if (libc::EpollCtl(epoll_fd_, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event) != 0) {
    if (errno == EEXIST) libc::EpollCtl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
    if (errno == ENOENT) libc::EpollCtl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
  }
}

void Flusher::Watch(const std::shared_ptr<KtlsSocket>& socket) {
  const int fd = socket->fd();
  std::lock_guard lock(mu_);
  auto [it, inserted] = entries_.try_emplace(fd, Entry{socket, std::chrono::steady_clock::now()});
  if (!inserted) it->second.socket = socket;
  StartIfNeeded();
  Arm(fd, inserted);
}

void Flusher::Unwatch(int fd) {
  std::lock_guard lock(mu_);
  if (entries_.erase(fd) > 0) libc::EpollCtl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

size_t Flusher::watched() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

bool Flusher::Drain(std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  for (;;) {
    std::vector<std::pair<int, std::shared_ptr<KtlsSocket>>> watched;
    {
      std::lock_guard lock(mu_);
      for (auto& [fd, entry] : entries_) watched.emplace_back(fd, entry.socket);
    }
    std::vector<struct pollfd> waiting;
    for (auto& [fd, socket] : watched) {
      if (!socket->FlushFromBackground()) {
        waiting.push_back({socket->fd(), POLLOUT, 0});
        continue;
      }
      std::lock_guard lock(mu_);
      auto it = entries_.find(fd);
      if (it != entries_.end() && it->second.socket == socket) {
        libc::EpollCtl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        entries_.erase(it);
      }
    }
    if (waiting.empty()) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    libc::Poll(waiting.data(), waiting.size(),
               static_cast<int>(std::min<long long>(left.count(), 100)));
  }
}

void Flusher::Run() {
  constexpr int kMaxEvents = 64;
  constexpr int kTickMs = 1000;
  struct epoll_event events[kMaxEvents];
  for (;;) {
    const int n = libc::EpollWait(epoll_fd_, events, kMaxEvents, kTickMs);
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
      bool done = socket->FlushFromBackground();
      if (!done) {
        std::chrono::steady_clock::time_point since;
        {
          std::lock_guard lock(mu_);
          auto it = entries_.find(fd);
          if (it == entries_.end() || it->second.socket != socket) continue;
          since = it->second.since;
        }
        // Outside our lock: abandoning takes the socket's TX lock, and writers take
        // that one before ours (Watch), so holding both here could deadlock.
        done =
            std::chrono::steady_clock::now() - since > kCloseDeadline && socket->AbandonIfClosing();
      }
      std::lock_guard lock(mu_);
      auto it = entries_.find(fd);
      if (it == entries_.end() || it->second.socket != socket) continue;
      if (done) {
        libc::EpollCtl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        entries_.erase(it);
      } else {
        Arm(fd, /*add=*/false);
      }
    }
  }
}

}  // namespace ktls::socket
