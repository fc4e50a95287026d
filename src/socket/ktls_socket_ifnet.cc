// TCP_TXTLS_MODE: moving a transmit session between our sealing (SW) and the kernel's
// TLS ULP (IFNET), with FreeBSD's ktls_set_tx_mode checks in its order.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "control/knobs.h"
#include "ktls/freebsd.h"
#include "socket/kernel_offload.h"
#include "socket/ktls_socket.h"
#include "socket/suite_counters.h"

namespace ktls::socket {

int KtlsSocket::SetTxMode(int mode) {
  int listening = 0;
  socklen_t len = sizeof(listening);
  if (os_.Getsockopt(fd_, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening) {
    return -EINVAL;
  }
  if (mode != TCP_TLS_MODE_SW && mode != TCP_TLS_MODE_IFNET) return -EINVAL;
  std::unique_lock lock(tx_mu_);
  if (!tx_) return 0;  // FreeBSD: no session, nothing to switch
  if (static_cast<int>(tx_mode_) == mode) return 0;
  control::Stats& stats = control::GetStats();
  if (mode == TCP_TLS_MODE_SW) {
    // The kernel's ULP cannot be detached and does not give a session back; every
    // byte written to the socket from now on is sealed by it, so records sealed here
    // would be sealed twice. The socket stays in IFNET mode.
    stats.switch_failed.Add();
    return -EOPNOTSUPP;
  }
  const int error = SwitchTxToKernel(lock);
  // EAGAIN is "not yet" (sealed records still queued), not a failed switch.
  if (error != 0 && error != EAGAIN) stats.switch_failed.Add();
  return -error;
}

int KtlsSocket::SwitchTxToKernel(std::unique_lock<std::mutex>& lock) {
  // A Linux-ABI socket already follows the kernel's contract through our emulation;
  // its MSG_MORE records and KeyUpdates stay ours.
  if (abi_.load() != Abi::kFreeBsd || !KernelCanTake(tx_->layout())) return EOPNOTSUPP;
  // Attach first: it is what tells whether this kernel has the ULP at all, and in its
  // pass-through mode it leaves our records untouched.
  if (const int error = AttachKernelUlp(os_, fd_); error != 0) return error;

  // Every record sealed here must be in the kernel before its first record: the
  // kernel's records carry the following sequence numbers.
  const bool nonblocking = IsNonBlocking();
  for (;;) {
    const int flushed = tx_->Flush(MSG_NOSIGNAL);
    if (flushed == 0) break;
    if (flushed != EAGAIN) return flushed;  // the connection failed
    if (nonblocking) return EAGAIN;
    lock.unlock();
    const int waited = WaitFor(POLLOUT, SO_SNDTIMEO);
    lock.lock();
    if (tx_mode_ == Mode::kIfnet) return 0;  // another thread switched meanwhile
    if (waited < 0 && waited != -EINTR) return -waited;
  }
  // tx_mu_ is held from the last flush to here: no record can be sealed in between.
  if (const int error = InstallKernelTx(os_, fd_, tx_->sealer(), tx_->max_payload()); error != 0) {
    return error;  // TLS_TX not installed: the ULP passes our records on as before
  }
  control::Stats& stats = control::GetStats();
  ModeCounter(stats.sw, tx_->layout()).Sub();
  ModeCounter(stats.ifnet, tx_->layout()).Add();
  stats.switch_to_ifnet.Add();
  tx_mode_ = Mode::kIfnet;
  return 0;
}

}  // namespace ktls::socket
