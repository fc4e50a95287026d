// One thread's share of the server: an epoll set with its own listening socket, the
// connections it accepted, and their deadlines.
//
// Connections are registered edge-triggered for input and output once; each event runs
// the connection's state machine until it would block. ktls may hold whole records that
// epoll cannot see, so a connection never waits for input it has not first asked ktls
// for (the state machine reads until EAGAIN before it waits). A connection that used
// its share of one turn is driven again on the next turn without waiting for an event.
#pragma once

#include <atomic>
#include <memory>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "server/connection.h"
#include "server/server_stats.h"
#include "server/unique_fd.h"

namespace ktls::server {

class EventLoop {
 public:
  EventLoop(UniqueFd listener, const ConnectionConfig& config, ServerStats& stats);
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  ~EventLoop();

  // epoll and the wake-up eventfd. errno.
  Status Init();
  // Serves until Stop() and then until every connection closed or the stop deadline.
  void Run();
  // Thread-safe: stop accepting; close idle connections; let busy ones finish their
  // response until `deadline`, then close them regardless.
  void Stop(Clock::time_point deadline);

 private:
  void AcceptAll(Clock::time_point now);
  void DriveConnection(int fd, Clock::time_point now);
  void CloseConnection(int fd);
  void BeginStopping(Clock::time_point now);
  void ExpireConnections(Clock::time_point now);

  UniqueFd listener_;
  const ConnectionConfig& config_;
  ServerStats& stats_;
  UniqueFd epoll_;
  UniqueFd wake_;
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::vector<int> yielded_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<Clock::rep> stop_deadline_{0};
  bool stopping_ = false;
  bool accept_paused_ = false;
  Clock::time_point accept_resume_;
};

}  // namespace ktls::server
