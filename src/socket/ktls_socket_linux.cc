// KtlsSocket under the Linux kTLS contract (include/uapi/linux/tls.h, net/tls/tls_sw.c):
// what OpenSSL, GnuTLS and the kernel selftests expect from TCP_ULP "tls" sockets.
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <vector>

#include "control/knobs.h"
#include "record/header.h"
#include "socket/ktls_socket.h"
#include "socket/suite_counters.h"

#ifndef TLS_TX_MAX_PAYLOAD_LEN
#define TLS_TX_MAX_PAYLOAD_LEN 5
#endif

namespace ktls::socket {
namespace {

constexpr int kAllowedSendFlags =
    MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL | MSG_EOR | MSG_CMSG_CLOEXEC;
constexpr size_t kMinPayloadLimit = 64;  // RFC 8449's smallest record_size_limit

int ReadInt(const void* optval, socklen_t optlen, int* value) {
  if (optval == nullptr || optlen < sizeof(int)) return EINVAL;
  std::memcpy(value, optval, sizeof(int));
  return 0;
}

}  // namespace

bool KtlsSocket::ulp_attached() const {
  return ulp_attached_.load();
}
Abi KtlsSocket::abi() const {
  return abi_.load();
}

int KtlsSocket::AttachUlp() {
  int protocol = 0;
  socklen_t len = sizeof(protocol);
  if (os_.Getsockopt(fd_, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0) return -errno;
  if (protocol != IPPROTO_TCP) return -ENOPROTOOPT;
  // With offload switched off, behave like a kernel without the tls module: callers
  // (OpenSSL, GnuTLS) then stay in user space.
  if (!control::GetKnobs().enable.load()) return -ENOENT;
  if (ulp_attached_.load()) return -EEXIST;
  struct tcp_info info = {};
  len = sizeof(info);
  if (os_.Getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return -errno;
  if (info.tcpi_state != TCP_ESTABLISHED) return -ENOTCONN;
  Abi expected = Abi::kNone;
  if (!abi_.compare_exchange_strong(expected, Abi::kLinux) && expected != Abi::kLinux) {
    return -EINVAL;  // already offloaded through the FreeBSD API
  }
  ulp_attached_.store(true);
  return 0;
}

int KtlsSocket::InstallLinuxTx(const void* optval, socklen_t optlen) {
  control::LinuxTlsCounters& linux_stat = control::GetStats().linux_tls;
  std::lock_guard lock(tx_mu_);
  session::LinuxInstallContext context;
  if (linux_tx_) context.this_direction = linux_tx_->header;
  {
    std::lock_guard rx_lock(rx_mu_);
    if (linux_rx_) context.other_direction = linux_rx_->header;
  }
  Result<session::LinuxSession> parsed = session::ParseLinuxCryptoInfo(optval, optlen, context);
  if (!parsed.ok()) {
    if (linux_tx_) linux_stat.tx_rekey_error.Add();
    return -parsed.error();
  }
  record::SealOptions options;
  options.explicit_nonce_start = parsed->explicit_nonce;
  Result<record::RecordSealer> sealer = record::RecordSealer::Create(parsed->keys, options);
  if (!sealer.ok()) {
    if (linux_tx_) linux_stat.tx_rekey_error.Add();
    return -sealer.error();
  }
  if (linux_tx_) {
    // TLS 1.3 KeyUpdate: the sender already sent its KeyUpdate under the old key.
    tx_->ReplaceSealer(std::move(sealer.value()));
    *linux_tx_ = std::move(parsed.value());
    linux_stat.tx_rekey_ok.Add();
    return 0;
  }
  tx_ = std::make_unique<TxPath>(fd_, os_, std::move(sealer.value()), tx_max_payload_, stats_);
  linux_tx_ = std::make_unique<session::LinuxSession>(std::move(parsed.value()));
  tx_mode_ = Mode::kSw;
  control::Stats& stats = control::GetStats();
  stats.offload_total.Add();
  stats.active.Add();
  ModeCounter(stats.sw, tx_->layout()).Add();
  linux_stat.tx_sw.Add();
  linux_stat.curr_tx_sw.Add();
  return 0;
}

int KtlsSocket::InstallLinuxRx(const void* optval, socklen_t optlen) {
  control::LinuxTlsCounters& linux_stat = control::GetStats().linux_tls;
  session::LinuxInstallContext context;
  {
    std::lock_guard tx_lock(tx_mu_);
    if (linux_tx_) context.other_direction = linux_tx_->header;
  }
  std::lock_guard lock(rx_mu_);
  if (linux_rx_) context.this_direction = linux_rx_->header;
  Result<session::LinuxSession> parsed = session::ParseLinuxCryptoInfo(optval, optlen, context);
  if (!parsed.ok()) {
    if (linux_rx_) linux_stat.rx_rekey_error.Add();
    return -parsed.error();
  }
  record::OpenOptions options;
  options.limits = record::LengthLimits::kRfc;
  options.linux_rules = true;
  Result<record::RecordOpener> opener = record::RecordOpener::Create(parsed->keys, options);
  if (!opener.ok()) {
    if (linux_rx_) linux_stat.rx_rekey_error.Add();
    return -opener.error();
  }
  if (linux_rx_) {
    rx_->Rekey(std::move(opener.value()));
    *linux_rx_ = std::move(parsed.value());
    linux_stat.rx_rekey_ok.Add();
    return 0;
  }
  // Bytes TCP already holds are records from here on (Linux parses its queue at once).
  rx_ = std::make_unique<RxPath>(fd_, os_, std::move(opener.value()), stats_, RxRules::kLinux);
  linux_rx_ = std::make_unique<session::LinuxSession>(std::move(parsed.value()));
  rx_mode_ = Mode::kSw;
  control::Stats& stats = control::GetStats();
  stats.offload_total.Add();
  stats.active.Add();
  ModeCounter(stats.sw, rx_->layout()).Add();
  linux_stat.rx_sw.Add();
  linux_stat.curr_rx_sw.Add();
  return 0;
}

int KtlsSocket::LinuxSetsockopt(int optname, const void* optval, socklen_t optlen) {
  if (!ulp_attached_.load()) return -ENOPROTOOPT;
  switch (optname) {
    case TLS_TX:
      return InstallLinuxTx(optval, optlen);
    case TLS_RX:
      return InstallLinuxRx(optval, optlen);
    case TLS_TX_ZEROCOPY_RO: {
      int value = 0;
      if (optlen != sizeof(int) || ReadInt(optval, optlen, &value) != 0) return -EINVAL;
      if (value != 0 && value != 1) return -EINVAL;
      std::lock_guard lock(tx_mu_);
      tx_zerocopy_ro_ = value == 1;  // only NIC sendfile would use it; accepted, as in SW
      return 0;
    }
    case TLS_RX_EXPECT_NO_PAD: {
      int value = 0;
      if (ReadInt(optval, optlen, &value) != 0 || (value != 0 && value != 1)) return -EINVAL;
      const auto* bytes = static_cast<const uint8_t*>(optval);
      for (socklen_t i = sizeof(int); i < optlen; ++i) {
        if (bytes[i] != 0) return -EINVAL;
      }
      std::lock_guard lock(rx_mu_);
      if (!linux_rx_ || linux_rx_->header.version != TLS_1_3_VERSION) return -EINVAL;
      rx_expect_no_pad_ = value == 1;  // a hint; padded records are still opened
      return 0;
    }
    case TLS_TX_MAX_PAYLOAD_LEN: {
      std::lock_guard lock(tx_mu_);
      if (tx_ && tx_->has_open_record()) return -EBUSY;
      if (optval == nullptr || optlen != sizeof(uint16_t)) return -EINVAL;
      uint16_t value = 0;
      std::memcpy(&value, optval, sizeof(value));
      const bool tls13 = linux_tx_ && linux_tx_->header.version == TLS_1_3_VERSION;
      const size_t minimum = kMinPayloadLimit - (tls13 ? 1 : 0);
      if (value < minimum || value > record::kMaxPlaintextLen) return -EINVAL;
      tx_max_payload_ = value;
      if (tx_) tx_->set_max_payload(value);
      return 0;
    }
    default:
      return -ENOPROTOOPT;
  }
}

int KtlsSocket::LinuxGetsockopt(int optname, void* optval, socklen_t* optlen) {
  if (!ulp_attached_.load()) return -ENOPROTOOPT;
  if (optval == nullptr || optlen == nullptr) return -EINVAL;
  switch (optname) {
    case TLS_TX: {
      if (*optlen < 4) return -EINVAL;
      std::lock_guard lock(tx_mu_);
      if (!linux_tx_) return -EBUSY;
      return -session::WriteLinuxCryptoInfo(*linux_tx_, tx_->next_sequence(),
                                            tx_->next_explicit_nonce(), optval, optlen);
    }
    case TLS_RX: {
      if (*optlen < 4) return -EINVAL;
      std::lock_guard lock(rx_mu_);
      if (!linux_rx_) return -EBUSY;
      // The receive explicit nonce comes from the wire, but Linux advances the `iv`
      // field per record in both directions (tls_advance_record_sn), as on TX.
      const uint64_t opened = rx_->next_sequence() - linux_rx_->keys.sequence;
      return -session::WriteLinuxCryptoInfo(*linux_rx_, rx_->next_sequence(),
                                            linux_rx_->explicit_nonce + opened, optval, optlen);
    }
    case TLS_TX_ZEROCOPY_RO: {
      if (*optlen != sizeof(int)) return -EINVAL;
      std::lock_guard lock(tx_mu_);
      const int value = tx_zerocopy_ro_ ? 1 : 0;
      std::memcpy(optval, &value, sizeof(value));
      return 0;
    }
    case TLS_RX_EXPECT_NO_PAD: {
      std::lock_guard lock(rx_mu_);
      if (!linux_rx_ || linux_rx_->header.version != TLS_1_3_VERSION) return -EINVAL;
      if (*optlen < sizeof(int)) return -EINVAL;
      const int value = rx_expect_no_pad_ ? 1 : 0;
      std::memcpy(optval, &value, sizeof(value));
      *optlen = sizeof(int);
      return 0;
    }
    case TLS_TX_MAX_PAYLOAD_LEN: {
      if (*optlen < sizeof(uint16_t)) return -EINVAL;
      std::lock_guard lock(tx_mu_);
      const auto value = static_cast<uint16_t>(tx_max_payload_);
      std::memcpy(optval, &value, sizeof(value));
      *optlen = sizeof(uint16_t);
      return 0;
    }
    default:
      return -ENOPROTOOPT;
  }
}

ssize_t KtlsSocket::SendLinux(std::span<const ConstBytes> data, std::optional<uint8_t> record_type,
                              int flags) {
  if ((flags & ~kAllowedSendFlags) != 0) return -EOPNOTSUPP;
  const bool more = (flags & MSG_MORE) != 0;
  if (more && (flags & MSG_EOR) != 0) return -EINVAL;
  if (more && record_type.has_value()) return -EINVAL;
  std::unique_lock lock(tx_mu_);
  if (!tx_) {
    lock.unlock();
    return Send(data, std::nullopt, flags & ~MSG_EOR);  // keys not installed: clear text
  }
  if (write_shutdown_) {
    if ((flags & MSG_NOSIGNAL) == 0) pthread_kill(pthread_self(), SIGPIPE);
    return -EPIPE;
  }
  // tls_process_cmsg: a record-type cmsg, even one naming data, first pushes the open
  // record, so the bytes of this call start a record of their own.
  if (record_type.has_value()) {
    if (const int error = tx_->CloseOpenRecord(); error != 0) {
      return -(error == EOVERFLOW ? EBADMSG : error);
    }
  }
  const size_t total = TotalSize(data);
  const uint8_t type = record_type.value_or(record::kApplicationData);
  const bool nonblocking = (flags & MSG_DONTWAIT) != 0 || IsNonBlocking();
  const int send_flags = flags & MSG_NOSIGNAL;
  size_t accepted = 0;
  for (;;) {
    const std::vector<ConstBytes> rest = SkipBytes(data, accepted);
    const TxResult result = tx_->WriteLinux(rest, type, more, send_flags);
    accepted += result.accepted;
    if (tx_->has_pending()) Watch();
    if (result.error != 0) {
      // Linux: running out of sequence numbers is a socket error, EBADMSG.
      const int error = result.error == EOVERFLOW ? EBADMSG : result.error;
      if (accepted > 0) return static_cast<ssize_t>(accepted);
      tx_->MarkErrorReported();
      if (error == EPIPE && (flags & MSG_NOSIGNAL) == 0) pthread_kill(pthread_self(), SIGPIPE);
      return -error;
    }
    if (!result.would_block && accepted == total) return static_cast<ssize_t>(accepted);
    if (nonblocking) return accepted > 0 ? static_cast<ssize_t>(accepted) : -EAGAIN;
    lock.unlock();
    const int waited = WaitFor(POLLOUT, SO_SNDTIMEO);
    lock.lock();
    if (waited < 0) return accepted > 0 ? static_cast<ssize_t>(accepted) : waited;
  }
}

bool KtlsSocket::rx_rekey_pending() const {
  std::lock_guard lock(rx_mu_);
  return rx_ && rx_->rekey_pending();
}

ssize_t KtlsSocket::ReceiveLinux(struct msghdr* msg, int flags) {
  std::unique_lock lock(rx_mu_);
  if (!rx_) {
    lock.unlock();
    const ssize_t n = os_.Recvmsg(fd_, msg, flags);
    return n < 0 ? -errno : n;
  }
  lock.unlock();
  // The descriptor's blocking mode, SO_RCVTIMEO and SO_RCVLOWAT cost a system call each
  // and matter only when this read has to wait or decide how much is enough; a reader
  // that finds records ready (OpenSSL reads one record per call) never asks.
  std::optional<bool> nonblocking_known;
  auto nonblocking = [&] {
    if (!nonblocking_known) nonblocking_known = (flags & MSG_DONTWAIT) != 0 || IsNonBlocking();
    return *nonblocking_known;
  };
  // Readers take turns, as in Linux, waiting for their turn no longer than a read would
  // wait for data. A reader asleep in poll(2) on the kernel socket is then never
  // robbed: nobody else can move the kernel's bytes into our queue meanwhile.
  std::unique_lock reader(rx_reader_mu_, std::try_to_lock);
  if (!reader.owns_lock()) {
    if (nonblocking()) return -EAGAIN;
    struct timeval tv = {};
    socklen_t tv_len = sizeof(tv);
    if (os_.Getsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, &tv_len) == 0 &&
        (tv.tv_sec != 0 || tv.tv_usec != 0)) {
      const auto timeout = std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
      if (!reader.try_lock_for(timeout)) return -EAGAIN;
    } else {
      reader.lock();
    }
  }
  lock.lock();
  std::vector<MutableBytes> buffers;
  size_t capacity = 0;
  for (size_t i = 0; i < msg->msg_iovlen; ++i) {
    if (msg->msg_iov[i].iov_len == 0) continue;
    buffers.emplace_back(static_cast<uint8_t*>(msg->msg_iov[i].iov_base), msg->msg_iov[i].iov_len);
    capacity += msg->msg_iov[i].iov_len;
  }
  const bool control_room = msg->msg_control != nullptr && msg->msg_controllen >= CMSG_LEN(1);
  const bool peek = (flags & MSG_PEEK) != 0;
  // How much a blocking read waits for: everything with MSG_WAITALL, else SO_RCVLOWAT.
  std::optional<size_t> target_known;
  auto target = [&] {
    if (target_known) return *target_known;
    target_known = 1;
    if ((flags & MSG_WAITALL) != 0) {
      target_known = capacity;
    } else {
      int lowat = 1;
      socklen_t len = sizeof(lowat);
      if (os_.Getsockopt(fd_, SOL_SOCKET, SO_RCVLOWAT, &lowat, &len) == 0 && lowat > 1) {
        target_known = std::min(capacity, static_cast<size_t>(lowat));
      }
    }
    return *target_known;
  };

  size_t copied = 0;
  bool have_info = false;
  uint8_t first_type = 0;
  bool end_of_record = false;
  for (;;) {
    if (!rx_->Readable()) rx_->Pump();
    RxRequest request;
    const std::vector<MutableBytes> rest = [&] {
      std::vector<MutableBytes> out;
      size_t skip = copied;
      for (MutableBytes b : buffers) {
        if (skip >= b.size()) {
          skip -= b.size();
          continue;
        }
        out.push_back(b.subspan(skip));
        skip = 0;
      }
      return out;
    }();
    request.buffers = rest;
    request.want_record_info = control_room || have_info;
    request.peek = peek;
    request.data_only = have_info;
    const RxDelivery delivery = rx_->ReceiveLinux(request);
    if (delivery.result >= 0) {
      if (!have_info && delivery.has_info) {
        have_info = true;
        first_type = delivery.type;
      }
      copied += static_cast<size_t>(delivery.result);
      end_of_record = delivery.end_of_record;
      const bool more_wanted = first_type == record::kApplicationData && !delivery.stopped &&
                               copied < capacity && copied < target();
      if (!more_wanted || delivery.result == 0) break;
      if (!peek) continue;  // a later record may already be waiting
      // A peek always starts at the head of the queue; like tls_sw_recvmsg it still
      // waits for its target: wait for more records, then peek again from the start.
      if (nonblocking()) break;
      lock.unlock();
      const int waited = WaitFor(POLLIN, SO_RCVTIMEO);
      lock.lock();
      if (waited < 0) break;
      rx_->Pump();
      copied = 0;
      have_info = false;
      first_type = 0;
      continue;
    }
    const bool wait = delivery.result == -EAGAIN && !nonblocking() && copied < target();
    if (!wait) {
      if (copied > 0) break;
      return delivery.result;
    }
    lock.unlock();
    const int waited = WaitFor(POLLIN, SO_RCVTIMEO);
    lock.lock();
    if (waited < 0) {
      if (copied > 0) break;
      return waited;
    }
  }
  msg->msg_flags = end_of_record ? MSG_EOR : 0;
  const size_t control_space = msg->msg_controllen;
  msg->msg_controllen = 0;
  if (have_info) {
    if (!control_room) {
      if (msg->msg_control != nullptr) msg->msg_flags |= MSG_CTRUNC;
    } else {
      auto* cmsg = reinterpret_cast<struct cmsghdr*>(msg->msg_control);
      cmsg->cmsg_level = SOL_TLS;
      cmsg->cmsg_type = TLS_GET_RECORD_TYPE;
      cmsg->cmsg_len = CMSG_LEN(1);
      *CMSG_DATA(cmsg) = first_type;
      msg->msg_controllen = std::min(control_space, CMSG_SPACE(1));
    }
  }
  return static_cast<ssize_t>(copied);
}

}  // namespace ktls::socket
