#include "server/event_loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <string>

namespace ktls::server {
namespace {

constexpr int kMaxEvents = 128;
// Deadlines are checked this often; they are seconds long, so this is precise enough.
constexpr auto kTick = std::chrono::milliseconds(100);
// After EMFILE/ENFILE, accepting pauses this long instead of spinning on the listener.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

std::string PeerName(const struct sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const struct sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    port = ntohs(in6->sin6_port);
    return std::string("[") + text + "]:" + std::to_string(port);
  }
  const auto* in4 = reinterpret_cast<const struct sockaddr_in*>(&addr);
  inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text));
  port = ntohs(in4->sin_port);
  return std::string(text) + ":" + std::to_string(port);
}

}  // namespace

EventLoop::EventLoop(UniqueFd listener, const ConnectionConfig& config, ServerStats& stats)
    : listener_(std::move(listener)), config_(config), stats_(stats) {}

EventLoop::~EventLoop() {
  // Connections must go before the epoll set they are registered in.
  connections_.clear();
}

Status EventLoop::Init() {
  epoll_.Reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.valid()) return Status::Error(errno);
  wake_.Reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_.valid()) return Status::Error(errno);
  for (int fd : {listener_.get(), wake_.get()}) {
    struct epoll_event event = {};
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) return Status::Error(errno);
  }
  return Status::Ok();
}

void EventLoop::Stop(Clock::time_point deadline) {
  stop_deadline_.store(deadline.time_since_epoch().count());
  stop_requested_.store(true);
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = write(wake_.get(), &one, sizeof(one));
}

void EventLoop::Run() {
  struct epoll_event events[kMaxEvents];
  Clock::time_point next_expiry_check = Clock::now() + kTick;
  for (;;) {
    Clock::time_point now = Clock::now();
    if (stop_requested_.load() && !stopping_) BeginStopping(now);
    if (accept_paused_ && now >= accept_resume_ && listener_.valid()) {
      struct epoll_event event = {};
      event.events = EPOLLIN;
      event.data.fd = listener_.get();
      if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), &event) == 0) {
        accept_paused_ = false;
      }
    }
    if (stopping_) {
      const Clock::time_point deadline{Clock::duration(stop_deadline_.load())};
      if (connections_.empty()) return;
      if (now >= deadline) {
        stats_.Add(stats_.forced_closes, connections_.size());
        std::vector<int> fds;
        for (const auto& [fd, connection] : connections_) fds.push_back(fd);
        for (int fd : fds) CloseConnection(fd);
        return;
      }
    }
    const int timeout_ms = yielded_.empty() ? static_cast<int>(kTick.count()) : 0;
    const int n = epoll_wait(epoll_.get(), events, kMaxEvents, timeout_ms);
    now = Clock::now();
    std::vector<int> again;
    again.swap(yielded_);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_.get()) {
        uint64_t value = 0;
        [[maybe_unused]] const ssize_t r = read(wake_.get(), &value, sizeof(value));
      } else if (listener_.valid() && fd == listener_.get()) {
        AcceptAll(now);
      } else {
        DriveConnection(fd, now);
      }
    }
    for (int fd : again) {
      if (connections_.contains(fd)) DriveConnection(fd, now);
    }
    if (now >= next_expiry_check) {
      ExpireConnections(now);
      next_expiry_check = now + kTick;
    }
  }
}

void EventLoop::AcceptAll(Clock::time_point now) {
  for (;;) {
    struct sockaddr_storage peer = {};
    socklen_t len = sizeof(peer);
    const int fd = accept4(listener_.get(), reinterpret_cast<struct sockaddr*>(&peer), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        // Out of descriptors or memory: the listener stays readable, so stop watching
        // it for a moment instead of spinning on it.
        epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_.get(), nullptr);
        accept_paused_ = true;
        accept_resume_ = now + kAcceptPause;
      }
      return;
    }
    stats_.Add(stats_.connections);
    const int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    auto connection = std::make_unique<Connection>(fd, PeerName(peer), config_, stats_, now);
    struct epoll_event event = {};
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    event.data.fd = fd;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) continue;  // closes it
    connections_[fd] = std::move(connection);
    DriveConnection(fd, now);  // the ClientHello may be here already
  }
}

void EventLoop::DriveConnection(int fd, Clock::time_point now) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  switch (it->second->Drive(now)) {
    case Connection::Progress::kDone:
      CloseConnection(fd);
      break;
    case Connection::Progress::kYielded:
      yielded_.push_back(fd);
      break;
    case Connection::Progress::kWaiting:
      break;
  }
}

void EventLoop::CloseConnection(int fd) {
  // Deregister first: ktls_close may keep the connection open through a private
  // duplicate while queued records drain, and epoll would go on reporting it.
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  connections_.erase(fd);
}

void EventLoop::BeginStopping(Clock::time_point now) {
  stopping_ = true;
  if (listener_.valid()) {
    if (!accept_paused_) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_.get(), nullptr);
    listener_.Reset();
  }
  std::vector<int> fds;
  for (const auto& [fd, connection] : connections_) {
    connection->BeginShutdown(now);
    fds.push_back(fd);
  }
  for (int fd : fds) DriveConnection(fd, now);
}

void EventLoop::ExpireConnections(Clock::time_point now) {
  std::vector<int> expired;
  for (const auto& [fd, connection] : connections_) {
    if (!connection->Expired(now)) continue;
    const Connection::State state = connection->state();
    if (state != Connection::State::kLinger && state != Connection::State::kCloseNotify) {
      stats_.Add(stats_.timeouts);
    }
    connection->OnExpired();
    expired.push_back(fd);
  }
  for (int fd : expired) CloseConnection(fd);
}

}  // namespace ktls::server
