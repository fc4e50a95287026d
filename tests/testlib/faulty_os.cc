#include "testlib/faulty_os.h"

#include <algorithm>
#include <cerrno>
#include <memory>
#include <sstream>

namespace ktls::testing {

FaultPlan HostilePlan(uint64_t seed) {
  FaultPlan plan;
  plan.seed = seed;
  plan.send_eintr = 0.10;
  plan.send_eagain = 0.10;
  plan.short_send = 0.40;
  plan.recv_eintr = 0.10;
  plan.recv_eagain = 0.10;
  plan.short_recv = 0.40;
  plan.pread_eintr = 0.10;
  plan.short_pread = 0.30;
  return plan;
}

std::string FaultCounts::ToString() const {
  std::ostringstream out;
  out << "sends=" << sends << " (eintr " << send_eintrs << ", eagain " << send_eagains << ", short "
      << short_sends << ", reset " << send_resets << ") recvs=" << recvs << " (eintr "
      << recv_eintrs << ", eagain " << recv_eagains << ", short " << short_recvs << ", reset "
      << recv_resets << ") preads=" << preads << " (eintr " << pread_eintrs << ", short "
      << short_preads << ")";
  return out.str();
}

FaultyOs::FaultyOs(const FaultPlan& plan, socket::Os& base)
    : plan_(plan), base_(base), rng_(plan.seed) {}

bool FaultyOs::Draw(double probability) {
  if (probability <= 0 || !enabled_.load()) return false;
  std::lock_guard lock(mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < probability;
}

size_t FaultyOs::DrawLength(size_t max) {
  std::lock_guard lock(mu_);
  return std::uniform_int_distribution<size_t>(1, max)(rng_);
}

void FaultyOs::BreakSends(int error) {
  send_break_.store(error);
}

void FaultyOs::BreakRecvs(int error) {
  recv_break_.store(error);
}

void FaultyOs::set_capture(bool on) {
  capture_on_.store(on);
}

std::vector<uint8_t> FaultyOs::TakeCapture() {
  std::lock_guard lock(mu_);
  std::vector<uint8_t> out;
  out.swap(capture_);
  return out;
}

ssize_t FaultyOs::Sendmsg(int fd, const struct msghdr* msg, int flags) {
  ++counts_.sends;
  int broken = send_break_.load();
  if (broken > 0 && send_break_.compare_exchange_strong(broken, -1)) {
    ++counts_.send_resets;
    errno = broken;
    return -1;
  }
  if (broken != 0) {
    ++counts_.send_resets;
    errno = EPIPE;
    return -1;
  }
  if (Draw(plan_.send_eintr)) {
    ++counts_.send_eintrs;
    errno = EINTR;
    return -1;
  }
  if (Draw(plan_.send_eagain)) {
    ++counts_.send_eagains;
    errno = EAGAIN;
    return -1;
  }
  size_t total = 0;
  for (size_t i = 0; i < msg->msg_iovlen; ++i) total += msg->msg_iov[i].iov_len;

  struct msghdr shortened = *msg;
  std::vector<struct iovec> iov;
  if (total > 1 && Draw(plan_.short_send)) {
    ++counts_.short_sends;
    size_t limit = DrawLength(total - 1);
    for (size_t i = 0; i < msg->msg_iovlen && limit > 0; ++i) {
      const size_t take = std::min(limit, msg->msg_iov[i].iov_len);
      iov.push_back({msg->msg_iov[i].iov_base, take});
      limit -= take;
    }
    shortened.msg_iov = iov.data();
    shortened.msg_iovlen = iov.size();
  }
  const ssize_t n = base_.Sendmsg(fd, &shortened, flags);
  const int saved = errno;
  if (n > 0 && capture_on_.load()) {
    std::lock_guard lock(mu_);
    size_t left = static_cast<size_t>(n);
    for (size_t i = 0; i < shortened.msg_iovlen && left > 0; ++i) {
      const auto* base = static_cast<const uint8_t*>(shortened.msg_iov[i].iov_base);
      const size_t take = std::min(left, shortened.msg_iov[i].iov_len);
      capture_.insert(capture_.end(), base, base + take);
      left -= take;
    }
  }
  errno = saved;
  return n;
}

ssize_t FaultyOs::Recv(int fd, void* buf, size_t len, int flags) {
  ++counts_.recvs;
  int broken = recv_break_.load();
  if (broken > 0 && recv_break_.compare_exchange_strong(broken, -1)) {
    ++counts_.recv_resets;
    errno = broken;
    return -1;
  }
  if (broken != 0) return 0;
  if (Draw(plan_.recv_eintr)) {
    ++counts_.recv_eintrs;
    errno = EINTR;
    return -1;
  }
  if (Draw(plan_.recv_eagain)) {
    ++counts_.recv_eagains;
    errno = EAGAIN;
    return -1;
  }
  if (len > 1 && Draw(plan_.short_recv)) {
    ++counts_.short_recvs;
    len = DrawLength(len - 1);
  }
  return base_.Recv(fd, buf, len, flags);
}

ssize_t FaultyOs::Pread(int fd, void* buf, size_t len, off_t offset) {
  ++counts_.preads;
  if (Draw(plan_.pread_eintr)) {
    ++counts_.pread_eintrs;
    errno = EINTR;
    return -1;
  }
  if (len > 1 && Draw(plan_.short_pread)) {
    ++counts_.short_preads;
    len = DrawLength(len - 1);
  }
  return base_.Pread(fd, buf, len, offset);
}

ssize_t FaultyOs::Recvmsg(int fd, struct msghdr* msg, int flags) {
  return base_.Recvmsg(fd, msg, flags);
}
ssize_t FaultyOs::Sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  return base_.Sendfile(out_fd, in_fd, offset, count);
}
off_t FaultyOs::Lseek(int fd, off_t offset, int whence) {
  return base_.Lseek(fd, offset, whence);
}
int FaultyOs::Poll(struct pollfd* fds, nfds_t nfds, int timeout_ms) {
  return base_.Poll(fds, nfds, timeout_ms);
}
int FaultyOs::Shutdown(int fd, int how) {
  return base_.Shutdown(fd, how);
}
int FaultyOs::Close(int fd) {
  return base_.Close(fd);
}
int FaultyOs::Dup(int fd) {
  return base_.Dup(fd);
}
int FaultyOs::Fcntl(int fd, int cmd, int arg) {
  return base_.Fcntl(fd, cmd, arg);
}
int FaultyOs::Getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
  return base_.Getsockopt(fd, level, name, value, len);
}
int FaultyOs::Setsockopt(int fd, int level, int name, const void* value, socklen_t len) {
  return base_.Setsockopt(fd, level, name, value, len);
}
int FaultyOs::Disconnect(int fd) {
  return base_.Disconnect(fd);
}

FaultyOs& LeakedFaultyOs(const FaultPlan& plan) {
  // Never freed: the flusher thread may use a socket's Os after its test returned.
  return *new FaultyOs(plan);
}

}  // namespace ktls::testing
