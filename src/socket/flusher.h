// The background thread that finishes what applications leave behind: queued
// ciphertext of sockets whose writers returned (or closed) before the kernel took it
// all, and shutdowns deferred until that queue drains.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace ktls::socket {

class KtlsSocket;

class Flusher {
 public:
  static Flusher& Get();

  // Flushes `socket` whenever its descriptor becomes writable, until it has nothing
  // queued. Safe to call repeatedly.
  void Watch(const std::shared_ptr<KtlsSocket>& socket);
  // Stops watching descriptor `fd` (before it is closed or replaced).
  void Unwatch(int fd);
  // Sockets currently watched (for tests and statistics).
  size_t watched() const;

  // How long a closed socket's queue may take to drain before it is abandoned.
  static constexpr std::chrono::seconds kCloseDeadline{60};

 private:
  Flusher();
  void Run();
  void Arm(int fd, bool add);

  struct Entry {
    std::shared_ptr<KtlsSocket> socket;
    std::chrono::steady_clock::time_point since;
  };

  int epoll_fd_ = -1;
  mutable std::mutex mu_;
  std::unordered_map<int, Entry> entries_;
  std::thread thread_;
};

}  // namespace ktls::socket
