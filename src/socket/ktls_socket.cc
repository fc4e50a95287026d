#include "socket/ktls_socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "control/knobs.h"
#include "ktls/freebsd.h"
#include "record/header.h"
#include "session/freebsd_session.h"
#include "socket/flusher.h"
#include "socket/kernel_offload.h"
#include "socket/suite_counters.h"

namespace ktls::socket {
namespace {

// A failed send on a broken connection raises SIGPIPE on the calling thread, as the
// kernel does, unless the caller said MSG_NOSIGNAL.
ssize_t SendError(int error, int flags) {
  if (error == EPIPE && (flags & MSG_NOSIGNAL) == 0) pthread_kill(pthread_self(), SIGPIPE);
  return -error;
}

}  // namespace

KtlsSocket::KtlsSocket(int fd, Os& os) : fd_(fd), os_(os) {}

KtlsSocket::~KtlsSocket() {
  control::Stats& stats = control::GetStats();
  if (tx_) {
    stats.active.Sub();
    ModeCounter(tx_mode_ == Mode::kIfnet ? stats.ifnet : stats.sw, tx_->layout()).Sub();
    if (linux_tx_) stats.linux_tls.curr_tx_sw.Sub();
  }
  if (rx_) {
    stats.active.Sub();
    ModeCounter(stats.sw, rx_->layout()).Sub();
    if (linux_rx_) stats.linux_tls.curr_rx_sw.Sub();
  }
}

bool KtlsSocket::IsNonBlocking() const {
  const int flags = os_.Fcntl(fd_, F_GETFL, 0);
  return flags >= 0 && (flags & O_NONBLOCK) != 0;
}

int KtlsSocket::WaitFor(short events, int timeout_option) {
  struct timeval tv = {};
  socklen_t len = sizeof(tv);
  int timeout_ms = -1;
  if (os_.Getsockopt(fd_, SOL_SOCKET, timeout_option, &tv, &len) == 0 &&
      (tv.tv_sec != 0 || tv.tv_usec != 0)) {
    const long long ms = static_cast<long long>(tv.tv_sec) * 1000 + (tv.tv_usec + 999) / 1000;
    timeout_ms = static_cast<int>(std::min<long long>(ms, INT_MAX));
  }
  struct pollfd pfd = {fd_, events, 0};
  const int n = os_.Poll(&pfd, 1, timeout_ms);
  if (n < 0) return -errno;
  if (n == 0) return -EAGAIN;
  return 0;
}

int KtlsSocket::CheckSocketForEnable(bool transmit) {
  int type = 0;
  int protocol = 0;
  socklen_t len = sizeof(type);
  if (os_.Getsockopt(fd_, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return -errno;
  len = sizeof(protocol);
  if (os_.Getsockopt(fd_, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0) return -errno;
  if (type != SOCK_STREAM || protocol != IPPROTO_TCP) return -EINVAL;
  (void)transmit;
  return 0;
}

bool KtlsSocket::ClaimFreeBsdAbi() {
  Abi expected = Abi::kNone;
  return abi_.compare_exchange_strong(expected, Abi::kFreeBsd) || expected == Abi::kFreeBsd;
}

int KtlsSocket::EnableTx(const void* optval, socklen_t optlen) {
  Result<struct tls_enable> en =
      session::CopyInTlsEnable(optval, optlen, session::Direction::kTransmit);
  if (!en.ok()) return -en.error();
  control::Knobs& knobs = control::GetKnobs();
  control::Stats& stats = control::GetStats();
  if (!knobs.enable.load()) return -ENOTSUP;
  stats.enable_calls.Add();
  if (const int error = CheckSocketForEnable(true); error != 0) return error;

  if (!ClaimFreeBsdAbi()) return -EINVAL;
  std::lock_guard lock(tx_mu_);
  if (tx_) return -EALREADY;
  if (session::IsCbc(en.value()) && !knobs.cbc_enable.load()) return -ENOTSUP;
  if (knobs.mb_use_ext_pgs.load() == 0) return -ENXIO;
  Result<record::RecordKeys> keys =
      session::SessionFromTlsEnable(en.value(), session::Direction::kTransmit);
  if (!keys.ok()) return -keys.error();
  // FreeBSD draws the TLS 1.2 GCM explicit-nonce counter at random.
  Result<record::RecordSealer> sealer = record::RecordSealer::Create(keys.value(), {});
  if (!sealer.ok()) return -sealer.error();

  int listening = 0;
  socklen_t len = sizeof(listening);
  if (os_.Getsockopt(fd_, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening) {
    return -ENOTCONN;
  }
  const size_t max_payload = std::clamp<size_t>(knobs.maxlen.load(), 1, record::kMaxPlaintextLen);
  tx_ = std::make_unique<TxPath>(fd_, os_, std::move(sealer.value()), max_payload, stats_);
  tx_mode_ = Mode::kSw;
  // FreeBSD tries TOE, then IFNET where kern.ipc.tls.ifnet.permitted, then SW.
  if (knobs.ifnet_permitted.load() != 0 && KernelCanTake(tx_->layout()) &&
      AttachKernelUlp(os_, fd_) == 0 &&
      InstallKernelTx(os_, fd_, tx_->sealer(), tx_->max_payload()) == 0) {
    tx_mode_ = Mode::kIfnet;
  }
  stats.offload_total.Add();
  stats.active.Add();
  ModeCounter(tx_mode_ == Mode::kIfnet ? stats.ifnet : stats.sw, tx_->layout()).Add();
  return 0;
}

int KtlsSocket::EnableRx(const void* optval, socklen_t optlen) {
  Result<struct tls_enable> en =
      session::CopyInTlsEnable(optval, optlen, session::Direction::kReceive);
  if (!en.ok()) return -en.error();
  control::Knobs& knobs = control::GetKnobs();
  control::Stats& stats = control::GetStats();
  if (!knobs.enable.load() || !knobs.rx_enable.load()) return -ENOTSUP;
  stats.enable_calls.Add();
  if (const int error = CheckSocketForEnable(false); error != 0) return error;

  if (!ClaimFreeBsdAbi()) return -EINVAL;
  std::lock_guard lock(rx_mu_);
  if (rx_) return -EALREADY;
  if (session::IsCbc(en.value()) && !knobs.cbc_enable.load()) return -ENOTSUP;
  Result<record::RecordKeys> keys =
      session::SessionFromTlsEnable(en.value(), session::Direction::kReceive);
  if (!keys.ok()) return -keys.error();
  Result<record::RecordOpener> opener =
      record::RecordOpener::Create(keys.value(), {record::LengthLimits::kFreeBsd, {}});
  if (!opener.ok()) return -opener.error();

  int listening = 0;
  socklen_t len = sizeof(listening);
  if (os_.Getsockopt(fd_, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening) {
    return -EINVAL;
  }
  // Bytes already waiting in the kernel are ciphertext from here on, as on FreeBSD.
  rx_ = std::make_unique<RxPath>(fd_, os_, std::move(opener.value()), stats_);
  rx_mode_ = Mode::kSw;
  stats.offload_total.Add();
  stats.active.Add();
  ModeCounter(stats.sw, rx_->layout()).Add();
  return 0;
}

Mode KtlsSocket::tx_mode() const {
  std::lock_guard lock(tx_mu_);
  return tx_mode_;
}

Mode KtlsSocket::rx_mode() const {
  std::lock_guard lock(rx_mu_);
  return rx_mode_;
}

bool KtlsSocket::tx_enabled() const {
  std::lock_guard lock(tx_mu_);
  return tx_ != nullptr;
}

bool KtlsSocket::rx_enabled() const {
  std::lock_guard lock(rx_mu_);
  return rx_ != nullptr;
}

bool KtlsSocket::has_pending_tx() const {
  std::lock_guard lock(tx_mu_);
  return tx_ && tx_->has_pending();
}

uint64_t KtlsSocket::tx_sequence() const {
  std::lock_guard lock(tx_mu_);
  if (tx_ && tx_mode_ == Mode::kIfnet) return KernelTxSequence(os_, fd_).value_or(0);
  return tx_ ? tx_->next_sequence() : 0;
}

uint64_t KtlsSocket::rx_sequence() const {
  std::lock_guard lock(rx_mu_);
  return rx_ ? rx_->next_sequence() : 0;
}

void KtlsSocket::Watch() {
  Flusher::Get().Watch(shared_from_this());
}

ssize_t KtlsSocket::Send(std::span<const ConstBytes> data, std::optional<uint8_t> record_type,
                         int flags) {
  const size_t total = TotalSize(data);
  const bool atomic = record_type.has_value();
  const uint8_t type = record_type.value_or(record::kApplicationData);
  const bool nonblocking = (flags & MSG_DONTWAIT) != 0 || IsNonBlocking();
  const int send_flags = flags & MSG_NOSIGNAL;
  size_t accepted = 0;
  std::unique_lock lock(tx_mu_);
  if (!tx_) {
    lock.unlock();
    std::vector<struct iovec> iov;
    for (ConstBytes segment : data) {
      iov.push_back({const_cast<uint8_t*>(segment.data()), segment.size()});
    }
    struct msghdr msg = {};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = iov.size();
    const ssize_t n = os_.Sendmsg(fd_, &msg, flags);
    return n < 0 ? -errno : n;
  }
  // ktls(4): only TLS 1.0 CBC sends empty records (the "empty fragment" of CBC IV
  // hardening); an empty send is an error for every other suite.
  if (total == 0 && tx_->layout().format != record::RecordFormat::kCbcImplicitIv) {
    return -EINVAL;
  }
  // After shutdown(SHUT_WR) nothing more may be sealed, let alone follow the FIN.
  if (write_shutdown_) return SendError(EPIPE, flags);
  for (;;) {
    if (tx_mode_ == Mode::kIfnet) {
      // The kernel seals from here on (also when the switch came while this call
      // waited): it gets the rest as plaintext and does its own blocking.
      const std::vector<ConstBytes> rest = SkipBytes(data, accepted);
      const int fd = fd_;
      lock.unlock();
      const ssize_t n = KernelSend(os_, fd, rest, record_type, flags);
      if (n < 0) return accepted > 0 ? static_cast<ssize_t>(accepted) : n;
      return static_cast<ssize_t>(accepted) + n;
    }
    const std::vector<ConstBytes> rest = SkipBytes(data, accepted);
    const TxResult result = tx_->Write(rest, type, atomic, send_flags);
    accepted += result.accepted;
    if (tx_->has_pending()) Watch();
    if (result.error != 0) {
      if (accepted > 0) return static_cast<ssize_t>(accepted);
      tx_->MarkErrorReported();
      return SendError(result.error, flags);
    }
    if (!result.would_block && accepted == total) return static_cast<ssize_t>(accepted);
    if (nonblocking) return accepted > 0 ? static_cast<ssize_t>(accepted) : -EAGAIN;
    lock.unlock();
    const int waited = WaitFor(POLLOUT, SO_SNDTIMEO);
    lock.lock();
    if (waited < 0) return accepted > 0 ? static_cast<ssize_t>(accepted) : waited;
  }
}

ssize_t KtlsSocket::SendFile(int in_fd, off_t* offset, size_t count) {
  std::unique_lock lock(tx_mu_);
  if (!tx_) {
    lock.unlock();
    const ssize_t n = os_.Sendfile(fd_, in_fd, offset, count);
    return n < 0 ? -errno : n;
  }
  if (write_shutdown_) return SendError(EPIPE, 0);
  off_t start = 0;
  if (offset != nullptr) {
    if (*offset < 0) return -EINVAL;
    start = *offset;
  } else {
    start = os_.Lseek(in_fd, 0, SEEK_CUR);
    if (start < 0) return -errno;
  }
  const bool nonblocking = IsNonBlocking();
  size_t sent = 0;
  ssize_t outcome = 0;
  for (;;) {
    if (tx_mode_ == Mode::kIfnet) {
      // The kernel's own sendfile: its TLS ULP frames and seals the file's pages.
      off_t position = start + static_cast<off_t>(sent);
      const int fd = fd_;
      lock.unlock();
      const ssize_t n = os_.Sendfile(fd, in_fd, &position, count - sent);
      if (n < 0) {
        outcome = sent > 0 ? 0 : -errno;
      } else {
        sent += static_cast<size_t>(n);
      }
      break;
    }
    bool eof = false;
    const TxResult result =
        tx_->SendFile(in_fd, start + static_cast<off_t>(sent), count - sent, MSG_NOSIGNAL, &eof);
    sent += result.accepted;
    if (tx_->has_pending()) Watch();
    if (result.error != 0) {
      if (sent == 0) tx_->MarkErrorReported();
      outcome = sent > 0 ? 0 : SendError(result.error, 0);
      break;
    }
    if (eof || sent == count) break;
    if (nonblocking) {
      outcome = sent > 0 ? 0 : -EAGAIN;
      break;
    }
    lock.unlock();
    const int waited = WaitFor(POLLOUT, SO_SNDTIMEO);
    lock.lock();
    if (waited < 0) {
      outcome = sent > 0 ? 0 : waited;
      break;
    }
  }
  if (outcome < 0) return outcome;
  if (offset != nullptr) {
    *offset = start + static_cast<off_t>(sent);
  } else {
    os_.Lseek(in_fd, start + static_cast<off_t>(sent), SEEK_SET);
  }
  return static_cast<ssize_t>(sent);
}

ssize_t KtlsSocket::Receive(struct msghdr* msg, int flags) {
  std::unique_lock lock(rx_mu_);
  if (!rx_) {
    lock.unlock();
    const ssize_t n = os_.Recvmsg(fd_, msg, flags);
    return n < 0 ? -errno : n;
  }
  std::vector<MutableBytes> buffers;
  for (size_t i = 0; i < msg->msg_iovlen; ++i) {
    buffers.emplace_back(static_cast<uint8_t*>(msg->msg_iov[i].iov_base), msg->msg_iov[i].iov_len);
  }
  RxRequest request;
  request.buffers = buffers;
  request.want_record_info = msg->msg_control != nullptr && msg->msg_controllen > 0;
  request.peek = (flags & MSG_PEEK) != 0;
  const bool nonblocking = (flags & MSG_DONTWAIT) != 0 || IsNonBlocking();
  for (;;) {
    if (!rx_->Readable()) rx_->Pump();
    const RxDelivery delivery = rx_->Receive(request);
    if (delivery.result != -EAGAIN) {
      msg->msg_flags = delivery.end_of_record ? MSG_EOR : 0;
      const size_t control_space = msg->msg_controllen;
      msg->msg_controllen = 0;
      if (request.want_record_info && delivery.has_info) {
        if (control_space < CMSG_LEN(sizeof(struct tls_get_record))) {
          msg->msg_flags |= MSG_CTRUNC;
        } else {
          auto* cmsg = reinterpret_cast<struct cmsghdr*>(msg->msg_control);
          cmsg->cmsg_level = IPPROTO_TCP;
          cmsg->cmsg_type = TLS_GET_RECORD;
          cmsg->cmsg_len = CMSG_LEN(sizeof(struct tls_get_record));
          struct tls_get_record info = {};
          info.tls_type = delivery.type;
          info.tls_vmajor = delivery.major;
          info.tls_vminor = delivery.minor;
          info.tls_length = htons(delivery.record_length);
          std::memcpy(CMSG_DATA(cmsg), &info, sizeof(info));
          msg->msg_controllen = std::min(control_space, CMSG_SPACE(sizeof(info)));
        }
      }
      return delivery.result;
    }
    if (nonblocking) return -EAGAIN;
    lock.unlock();
    const int waited = WaitFor(POLLIN, SO_RCVTIMEO);
    lock.lock();
    if (waited < 0) return waited;
  }
}

short KtlsSocket::ReadyEvents(short requested) {
  short ready = 0;
  if ((requested & (POLLIN | POLLRDNORM)) != 0) {
    std::lock_guard lock(rx_mu_);
    if (rx_) {
      if (!rx_->Readable()) rx_->Pump();
      if (rx_->Readable()) ready |= static_cast<short>(requested & (POLLIN | POLLRDNORM));
    }
  }
  if ((requested & (POLLOUT | POLLWRNORM)) != 0) {
    std::lock_guard lock(tx_mu_);
    // In IFNET mode the kernel's send buffer alone says whether a write would wait.
    if (tx_ && tx_mode_ != Mode::kIfnet) {
      if (tx_->has_pending()) tx_->Flush(MSG_NOSIGNAL);
      if (!tx_->queue_full() || tx_->sticky_error() != 0) {
        ready |= static_cast<short>(requested & (POLLOUT | POLLWRNORM));
      }
    }
  }
  return ready;
}

short KtlsSocket::KernelEvents(short requested) const {
  short events = requested;
  {
    std::lock_guard lock(tx_mu_);
    // Room in our queue means writable whatever the kernel says; a full queue needs
    // the kernel to take some first.
    if (tx_ && tx_mode_ != Mode::kIfnet && !tx_->queue_full()) {
      events &= static_cast<short>(~(POLLOUT | POLLWRNORM));
    }
  }
  return events;
}

int KtlsSocket::Shutdown(int how) {
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return -EINVAL;
  std::unique_lock lock(tx_mu_);
  if (how != SHUT_RD) write_shutdown_ = true;
  if (how != SHUT_RD && tx_ && tx_->has_pending()) {
    // The FIN must follow every queued record.
    const bool nonblocking = IsNonBlocking();
    for (;;) {
      const int flushed = tx_->Flush(MSG_NOSIGNAL);
      if (flushed != EAGAIN) break;
      int waited = -EAGAIN;
      if (!nonblocking) {
        lock.unlock();
        waited = WaitFor(POLLOUT, SO_SNDTIMEO);
        lock.lock();
      }
      if (waited < 0 && waited != -EINTR) {
        // Non-blocking, or SO_SNDTIMEO expired: the flusher sends the FIN after the
        // last queued record (a FIN now would cut the stream short).
        shutdown_pending_ = true;
        lock.unlock();
        Watch();
        if (how == SHUT_RDWR && os_.Shutdown(fd_, SHUT_RD) != 0) return -errno;
        return 0;
      }
    }
  }
  lock.unlock();
  return os_.Shutdown(fd_, how) == 0 ? 0 : -errno;
}

int KtlsSocket::Close() {
  std::unique_lock lock(tx_mu_);
  if (tx_ && abi_.load() == Abi::kLinux) tx_->DropOpenRecord();  // Linux never sends it
  if (tx_ && tx_->has_pending()) tx_->Flush(MSG_NOSIGNAL);
  if (!tx_ || !tx_->has_pending()) {
    lock.unlock();
    Flusher::Get().Unwatch(fd_);
    return os_.Close(fd_) == 0 ? 0 : -errno;
  }
  // Like the kernel after close(2), keep sending what was accepted: a private duplicate
  // of the descriptor carries the queue, and the application's number is free at once.
  const int original = fd_;
  const int dup_fd = os_.Dup(original);
  if (dup_fd < 0) {
    lock.unlock();
    return os_.Close(original) == 0 ? 0 : -errno;
  }
  closing_ = true;
  fd_ = dup_fd;
  tx_->set_fd(dup_fd);
  {
    std::lock_guard rx_lock(rx_mu_);
    if (rx_) rx_->set_fd(dup_fd);
  }
  lock.unlock();
  Flusher::Get().Unwatch(original);
  Watch();
  return os_.Close(original) == 0 ? 0 : -errno;
}

bool KtlsSocket::FlushFromBackground() {
  std::lock_guard lock(tx_mu_);
  if (!tx_) return true;
  // Closed with close(2) and the number perhaps reused: what is queued is not for
  // whatever the number names now.
  if (!NamesItsFile()) {
    tx_->DiscardPending();
    shutdown_pending_ = false;
    return true;
  }
  const int flushed = tx_->Flush(MSG_NOSIGNAL);
  if (flushed == EAGAIN) return false;
  if (shutdown_pending_ && flushed == 0) {
    os_.Shutdown(fd_, SHUT_WR);
    shutdown_pending_ = false;
  }
  if (closing_) {
    os_.Close(fd_);
    closing_ = false;
  }
  return true;
}

bool KtlsSocket::AbandonIfClosing() {
  std::lock_guard lock(tx_mu_);
  if (!closing_) return false;
  os_.Close(fd_);
  closing_ = false;
  return true;
}

void KtlsSocket::Rebind(int fd) {
  std::unique_lock lock(tx_mu_);
  const int old = fd_;
  if (old == fd) return;
  fd_ = fd;
  if (tx_) tx_->set_fd(fd);
  {
    std::lock_guard rx_lock(rx_mu_);
    if (rx_) rx_->set_fd(fd);
  }
  const bool pending = tx_ && tx_->has_pending();
  lock.unlock();
  // The flusher knows sockets by descriptor number.
  Flusher::Get().Unwatch(old);
  if (pending) Watch();
}

bool KtlsSocket::HasQueuedRx() const {
  std::lock_guard lock(rx_mu_);
  return rx_ && rx_->Readable();
}

void KtlsSocket::RememberFile() {
  struct stat st;
  if (os_.Fstat(fd_, &st) != 0) return;
  file_dev_.store(st.st_dev, std::memory_order_relaxed);
  file_ino_.store(st.st_ino, std::memory_order_release);
}

bool KtlsSocket::NamesItsFile() const {
  const uint64_t ino = file_ino_.load(std::memory_order_acquire);
  if (ino == 0) return true;
  struct stat st;
  return os_.Fstat(fd_, &st) == 0 && st.st_ino == ino &&
         st.st_dev == file_dev_.load(std::memory_order_relaxed);
}

void KtlsSocket::ForgetClosedDescriptor() {
  std::lock_guard lock(tx_mu_);
  if (tx_) tx_->DiscardPending();
  shutdown_pending_ = false;
}

void KtlsSocket::ForgetAfterFork() {
  // A lock held by another thread of the parent at fork time stays held here forever;
  // such a socket is unusable in the child whatever we do.
  std::unique_lock lock(tx_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  if (tx_) tx_->DiscardPending();
  shutdown_pending_ = false;
  if (closing_) {
    os_.Close(fd_);
    closing_ = false;
  }
}

}  // namespace ktls::socket
