// One offloaded TCP socket: the per-direction sessions, their modes, and the blocking
// policy on top of the non-blocking TX and RX paths. Every method returns a byte count
// or 0 on success, or -errno, exactly as the matching system call would fail.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "base/bytes.h"
#include "session/linux_session.h"
#include "socket/os.h"
#include "socket/rx_path.h"
#include "socket/socket_description.h"
#include "socket/socket_stats.h"
#include "socket/tx_path.h"

namespace ktls::socket {

enum class Mode : int { kNone = 0, kSw = 1, kIfnet = 2, kToe = 3 };

// Which system-call contract a socket was offloaded through; fixed by the first enable.
enum class Abi : uint8_t { kNone, kFreeBsd, kLinux };

class KtlsSocket : public std::enable_shared_from_this<KtlsSocket> {
 public:
  KtlsSocket(int fd, Os& os);
  ~KtlsSocket();
  KtlsSocket(const KtlsSocket&) = delete;
  KtlsSocket& operator=(const KtlsSocket&) = delete;

  // TCP_TXTLS_ENABLE / TCP_RXTLS_ENABLE with FreeBSD's checks, in FreeBSD's order.
  int EnableTx(const void* optval, socklen_t optlen);
  int EnableRx(const void* optval, socklen_t optlen);
  Mode tx_mode() const;
  Mode rx_mode() const;
  // TCP_TXTLS_MODE: SW -> IFNET hands the session to the kernel without losing a byte
  // or a sequence number; IFNET -> SW is refused (the kernel keeps what it was given).
  int SetTxMode(int mode);

  ssize_t Send(std::span<const ConstBytes> data, std::optional<uint8_t> record_type, int flags);
  // Linux sendfile(2) semantics; `offset` null means the file position.
  ssize_t SendFile(int in_fd, off_t* offset, size_t count);
  // recvmsg(2) with TLS_GET_RECORD control messages; `msg` may lack a control buffer.
  ssize_t Receive(struct msghdr* msg, int flags);

  // poll(2) support: drains the kernel, then reports what the application may do now.
  short ReadyEvents(short requested);
  // What to ask the kernel for while waiting for `requested`.
  short KernelEvents(short requested) const;

  int Shutdown(int how);
  // Flushes what is still queued in the background, then closes the descriptor.
  int Close();
  // Background flush: called by the flusher when the kernel can take more.
  // Returns true when nothing remains to be flushed.
  bool FlushFromBackground();
  // A closed socket whose queue did not drain in time: drop it and close. Returns false
  // (and does nothing) when the application has not closed the socket.
  bool AbandonIfClosing();
  // The descriptor number the socket uses is going away while another one (a dup, or
  // a private duplicate) still refers to the same connection: use `fd` from now on.
  void Rebind(int fd);
  // A record, an error or the end of stream is queued, so a read would not wait for
  // the kernel. Unlike ReadyEvents, never reads from the kernel.
  bool HasQueuedRx() const;
  // In the child after fork(2): drop the inherited ciphertext queue (the parent sends
  // it) and close the private descriptor of a socket the parent was closing.
  void ForgetAfterFork();

  // The FreeBSD API does not see close(2): a descriptor the application closes that way
  // keeps its entry, and its number may go to another socket or file. So the API has the
  // socket remember which file its descriptor names when it is offloaded (st_dev and
  // st_ino); the API before each call and the flusher before each background flush ask
  // whether it still does (one fstat). Sockets that never remembered one (the Linux ABI,
  // whose closes the interposer sees) always do.
  void RememberFile();
  bool NamesItsFile() const;
  // The descriptor was closed behind our back: drop the queued ciphertext, which can no
  // longer be sent, and the deferred FIN, so the number is never written to again.
  void ForgetClosedDescriptor();

  // --- The Linux kTLS ABI (TCP_ULP "tls", SOL_TLS options, MSG_MORE records). ---
  // setsockopt(SOL_TCP, TCP_ULP, "tls"): ENOTCONN unless established, EEXIST twice.
  int AttachUlp();
  bool ulp_attached() const;
  int LinuxSetsockopt(int optname, const void* optval, socklen_t optlen);
  int LinuxGetsockopt(int optname, void* optval, socklen_t* optlen);
  ssize_t SendLinux(std::span<const ConstBytes> data, std::optional<uint8_t> record_type,
                    int flags);
  ssize_t ReceiveLinux(struct msghdr* msg, int flags);
  // TLS 1.3: a KeyUpdate was received and the next RX key is not installed yet.
  bool rx_rekey_pending() const;

  int fd() const { return fd_; }
  Abi abi() const;
  bool tx_enabled() const;
  bool rx_enabled() const;
  bool has_pending_tx() const;
  const SocketStats& stats() const { return stats_; }
  uint64_t tx_sequence() const;
  uint64_t rx_sequence() const;
  // What `ktls stat` shows (ktls_socket_describe.cc); takes each direction's lock only
  // long enough to copy its mode and suite.
  SocketDescription Describe() const;

 private:
  bool IsNonBlocking() const;
  // Waits for `events` on the kernel socket without holding a lock; honours the
  // socket's SO_SNDTIMEO/SO_RCVTIMEO. Returns 0, or -EAGAIN on timeout, -EINTR.
  int WaitFor(short events, int timeout_option);
  int CheckSocketForEnable(bool transmit);
  // The FreeBSD options may not mix with a socket driven through the Linux ABI.
  bool ClaimFreeBsdAbi();
  void Watch();
  int InstallLinuxTx(const void* optval, socklen_t optlen);
  int InstallLinuxRx(const void* optval, socklen_t optlen);
  // SW -> IFNET (ktls_socket_ifnet.cc): flushes every sealed record, then hands the
  // session to the kernel's TLS ULP. `lock` holds tx_mu_; it is released while waiting
  // for the kernel to take queued records. Returns 0 or an errno.
  int SwitchTxToKernel(std::unique_lock<std::mutex>& lock);

  int fd_;
  Os& os_;
  SocketStats stats_;

  std::atomic<Abi> abi_{Abi::kNone};
  // RememberFile(); inode 0 while unknown (sockfs never hands out inode 0).
  std::atomic<uint64_t> file_dev_{0};
  std::atomic<uint64_t> file_ino_{0};
  std::atomic<bool> ulp_attached_{false};

  mutable std::mutex tx_mu_;
  std::unique_ptr<session::LinuxSession> linux_tx_;
  size_t tx_max_payload_ = 16384;  // TLS_TX_MAX_PAYLOAD_LEN
  bool tx_zerocopy_ro_ = false;
  std::unique_ptr<TxPath> tx_;
  Mode tx_mode_ = Mode::kNone;
  bool shutdown_pending_ = false;  // SHUT_WR to issue once the queue drains
  bool write_shutdown_ = false;    // shutdown(SHUT_WR) was called: sends fail with EPIPE
  bool closing_ = false;

  mutable std::mutex rx_mu_;
  // Linux: one reader at a time (tls_rx_reader_lock), held across its waits; taken
  // before rx_mu_.
  std::timed_mutex rx_reader_mu_;
  std::unique_ptr<session::LinuxSession> linux_rx_;
  bool rx_expect_no_pad_ = false;
  std::unique_ptr<RxPath> rx_;
  Mode rx_mode_ = Mode::kNone;
};

}  // namespace ktls::socket
