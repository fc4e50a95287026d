// An Os for socket-layer tests: forwards to another Os (normally socket::RealOs()) and,
// driven by a seeded RNG, makes the kernel look difficult: short sendmsg (1..n bytes),
// EAGAIN and EINTR from sendmsg, short recv, EINTR and EAGAIN from recv, short and
// interrupted pread; and, on demand, a connection reset seen by send or by receive.
// It can also capture every byte that sendmsg handed the kernel ("the wire").
//
// Thread-safe: the flusher thread and the test's threads may call it at once.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "socket/os.h"

namespace ktls::testing {

// Probabilities per call, each in [0, 1]; faults are drawn in the order listed.
struct FaultPlan {
  uint64_t seed = 1;
  double send_eintr = 0;   // sendmsg fails with EINTR, nothing sent
  double send_eagain = 0;  // sendmsg fails with EAGAIN, nothing sent
  double short_send = 0;   // sendmsg offers the kernel only 1..n of its n bytes
  double recv_eintr = 0;   // recv fails with EINTR, nothing read
  double recv_eagain = 0;  // recv fails with EAGAIN, nothing read
  double short_recv = 0;   // recv asks the kernel for only 1..len bytes
  double pread_eintr = 0;  // pread fails with EINTR
  double short_pread = 0;  // pread asks for only 1..len bytes
};

// A plan with every fault enabled at moderate rates.
FaultPlan HostilePlan(uint64_t seed);

struct FaultCounts {
  std::atomic<uint64_t> sends{0};
  std::atomic<uint64_t> send_eintrs{0};
  std::atomic<uint64_t> send_eagains{0};
  std::atomic<uint64_t> short_sends{0};
  std::atomic<uint64_t> send_resets{0};
  std::atomic<uint64_t> recvs{0};
  std::atomic<uint64_t> recv_eintrs{0};
  std::atomic<uint64_t> recv_eagains{0};
  std::atomic<uint64_t> short_recvs{0};
  std::atomic<uint64_t> recv_resets{0};
  std::atomic<uint64_t> preads{0};
  std::atomic<uint64_t> pread_eintrs{0};
  std::atomic<uint64_t> short_preads{0};

  std::string ToString() const;
};

class FaultyOs final : public socket::Os {
 public:
  explicit FaultyOs(const FaultPlan& plan, socket::Os& base = socket::RealOs());

  // The connection "breaks" for senders: the next sendmsg fails with `error` (e.g.
  // ECONNRESET or EPIPE) and every later one with EPIPE, as Linux reports a reset.
  void BreakSends(int error);
  // The connection "breaks" for receivers: the next recv fails with `error` (e.g.
  // ECONNRESET) and every later one returns 0 (end of stream), as Linux does.
  void BreakRecvs(int error);
  // Stop/resume injecting the random faults (on-demand breaks stay).
  void set_enabled(bool on) { enabled_.store(on); }

  // Records every byte a successful sendmsg handed to the kernel.
  void set_capture(bool on);
  std::vector<uint8_t> TakeCapture();

  const FaultCounts& counts() const { return counts_; }

  ssize_t Recv(int fd, void* buf, size_t len, int flags) override;
  ssize_t Recvmsg(int fd, struct msghdr* msg, int flags) override;
  ssize_t Sendmsg(int fd, const struct msghdr* msg, int flags) override;
  ssize_t Sendfile(int out_fd, int in_fd, off_t* offset, size_t count) override;
  ssize_t Pread(int fd, void* buf, size_t len, off_t offset) override;
  off_t Lseek(int fd, off_t offset, int whence) override;
  int Poll(struct pollfd* fds, nfds_t nfds, int timeout_ms) override;
  int Shutdown(int fd, int how) override;
  int Close(int fd) override;
  int Dup(int fd) override;
  int Fcntl(int fd, int cmd, int arg) override;
  int Getsockopt(int fd, int level, int name, void* value, socklen_t* len) override;
  int Setsockopt(int fd, int level, int name, const void* value, socklen_t len) override;
  int Disconnect(int fd) override;

 private:
  bool Draw(double probability);
  size_t DrawLength(size_t max);  // uniform in 1..max

  FaultPlan plan_;
  socket::Os& base_;
  std::mutex mu_;  // guards rng_ and capture_
  std::mt19937_64 rng_;
  std::atomic<bool> enabled_{true};
  std::atomic<int> send_break_{0};  // 0: none; >0 errno for the next send; -1: broken
  std::atomic<int> recv_break_{0};  // likewise for recv
  std::atomic<bool> capture_on_{false};
  std::vector<uint8_t> capture_;
  FaultCounts counts_;
};

// A FaultyOs that lives for the rest of the process: sockets built on it may still be
// flushed by the background thread after a test ends.
FaultyOs& LeakedFaultyOs(const FaultPlan& plan);

}  // namespace ktls::testing
