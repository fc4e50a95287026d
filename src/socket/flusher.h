// The background thread that finishes what applications leave behind: queued
// ciphertext of sockets whose writers returned (or closed) before the kernel took it
// all, and shutdowns deferred until that queue drains.
#pragma once

#include <atomic>
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
  // Pushes every queue still pending, waiting at most `budget` for the kernel to take
  // it; true when nothing is left. For process exit, when the background thread is
  // about to vanish with the process and whatever it still holds would be lost.
  bool Drain(std::chrono::milliseconds budget);
  // Drain with the exit budget, once: later calls return at once. Called at exit by this
  // copy of the library (a destructor in flusher.cc) and by the interposer before its
  // summary; libktls.so and libktls-preload.so each hold their own flusher and drain it.
  void DrainAtExit();
  // How long exit may wait for queued records (kDefaultExitBudget unless set; the
  // interposer sets KTLS_PRELOAD_EXIT_FLUSH_MS at load). Creates no flusher.
  static void SetExitBudget(std::chrono::milliseconds budget);

  // How long a closed socket's queue may take to drain before it is abandoned.
  static constexpr std::chrono::seconds kCloseDeadline{60};
  static constexpr std::chrono::milliseconds kDefaultExitBudget{10000};

 private:
  Flusher();
  void Run();
  void Arm(int fd, bool add);
  void StartIfNeeded();  // with mu_ held
  // fork(2): the child gets a copy of the queues but not the thread. Queued records
  // are the parent's to send (sending them twice would corrupt the stream), so the
  // child forgets them and starts afresh on a private epoll instance.
  static void PrepareFork();
  static void ParentAfterFork();
  static void ChildAfterFork();

  struct Entry {
    std::shared_ptr<KtlsSocket> socket;
    std::chrono::steady_clock::time_point since;
  };

  int epoll_fd_ = -1;
  mutable std::mutex mu_;
  std::unordered_map<int, Entry> entries_;
  bool running_ = false;
  std::atomic<bool> drained_at_exit_{false};
};

}  // namespace ktls::socket
