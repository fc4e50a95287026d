// Socket options and the calls that change what a socket is: TCP_ULP "tls" and the
// SOL_TLS options (where offload is switched on, per KTLS_PRELOAD_MODE), shutdown,
// connect(AF_UNSPEC), listen, and the calls that hand out new descriptor numbers.
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "api/linux_abi.h"
#include "control/knobs.h"
#include "platform/next_libc.h"
#include "preload/config.h"
#include "preload/descriptors.h"
#include "preload/epoll_tracker.h"
#include "preload/libc_result.h"
#include "preload/summary.h"

namespace libc = ktls::platform::libc;
namespace linux_abi = ktls::api::linux_abi;
namespace preload = ktls::preload;
using preload::ErrnoGuard;

namespace {

// Whether this kernel has its own TLS ULP, learned from the first attempt (auto mode).
enum class KernelUlp { kUnknown, kPresent, kAbsent };
std::atomic<KernelUlp> g_kernel_ulp{KernelUlp::kUnknown};

bool IsTlsUlp(const void* value, socklen_t len) {
  if (value == nullptr || len == 0) return false;
  char name[16] = {};
  std::memcpy(name, value, std::min<size_t>(len, sizeof(name) - 1));
  return std::strcmp(name, "tls") == 0;
}

int AttachUlp(int fd, const void* value, socklen_t len) {
  preload::Summary& summary = preload::GetSummary();
  summary.ulp_requests.Add();
  const preload::Mode mode = preload::GetConfig().mode;
  if (mode == preload::Mode::kKernel ||
      (mode == preload::Mode::kAuto && g_kernel_ulp.load() != KernelUlp::kAbsent)) {
    // kern.ipc.tls.enable=0 switches kernel TLS off, the kernel's ULP included: auto
    // answers as a kernel without the tls module (our own ULP's answer too), so the TLS
    // library stays in user space. `kernel` mode leaves every call to the kernel.
    if (mode == preload::Mode::kAuto && !ktls::control::GetKnobs().enable.load()) {
      errno = ENOENT;
      return -1;
    }
    const int saved = errno;
    const int result = libc::Setsockopt(fd, SOL_TCP, TCP_ULP, value, len);
    if (result == 0) {
      g_kernel_ulp.store(KernelUlp::kPresent);
      summary.kernel.Add();
      return 0;
    }
    // ENOENT: no tls module (ENOPROTOOPT: no ULPs at all). Anything else is the
    // kernel's verdict on this socket (ENOTCONN, EEXIST...) and stands.
    if (mode == preload::Mode::kKernel || (errno != ENOENT && errno != ENOPROTOOPT)) {
      return result;
    }
    g_kernel_ulp.store(KernelUlp::kAbsent);
    errno = saved;
  }
  const ErrnoGuard guard;
  const int result = linux_abi::Setsockopt(fd, SOL_TCP, TCP_ULP, value, len);
  if (result == 0) {
    preload::Adopt(fd);
    summary.emulated.Add();
  }
  return guard.Return(result);
}

int SetTlsOption(int fd, int name, const void* value, socklen_t len) {
  const preload::Config& config = preload::GetConfig();
  preload::Summary& summary = preload::GetSummary();
  const bool install = name == TLS_TX || name == TLS_RX;
  // A refused direction stays in the TLS library (OpenSSL falls back on any error).
  if ((name == TLS_TX && !config.allow_tx) || (name == TLS_RX && !config.allow_rx)) {
    summary.refused.Add();
    errno = ENOPROTOOPT;
    return -1;
  }
  if (preload::AnyEmulated()) {
    const ErrnoGuard guard;
    const int result = linux_abi::Setsockopt(fd, SOL_TLS, name, value, len);
    if (result != static_cast<int>(linux_abi::kNotHandled)) {
      if (install) {
        if (result != 0) summary.refused.Add();
        if (result == 0) (name == TLS_TX ? summary.tx_offloaded : summary.rx_offloaded).Add();
      }
      return guard.Return(result);
    }
  }
  return libc::Setsockopt(fd, SOL_TLS, name, value, len);
}

void ForgetNewNumber(int fd) {
  if (fd < 0) return;
  preload::EpollTracker::Get().Forget(fd);
  preload::ForgetStale(fd);
}

}  // namespace

extern "C" {

int setsockopt(int fd, int level, int name, const void* value, socklen_t len) noexcept {
  if (level == SOL_TCP && name == TCP_ULP && IsTlsUlp(value, len)) {
    return AttachUlp(fd, value, len);
  }
  if (level == SOL_TLS) return SetTlsOption(fd, name, value, len);
  return libc::Setsockopt(fd, level, name, value, len);
}

int getsockopt(int fd, int level, int name, void* value, socklen_t* len) noexcept {
  if (preload::AnyEmulated()) {
    const ErrnoGuard guard;
    const int result = linux_abi::Getsockopt(fd, level, name, value, len);
    if (result != static_cast<int>(linux_abi::kNotHandled)) return guard.Return(result);
  }
  return libc::Getsockopt(fd, level, name, value, len);
}

int shutdown(int fd, int how) noexcept {
  if (auto socket = preload::Emulated(fd)) {
    // Records still queued must precede the FIN.
    const ErrnoGuard guard;
    return guard.Return(socket->Shutdown(how));
  }
  return libc::Shutdown(fd, how);
}

int connect(int fd, const struct sockaddr* addr, socklen_t addr_len) {
  // The kTLS ULP refuses to be disconnected (connect with AF_UNSPEC).
  if (addr != nullptr && addr_len >= sizeof(sa_family_t) && addr->sa_family == AF_UNSPEC &&
      preload::Emulated(fd)) {
    errno = EOPNOTSUPP;
    return -1;
  }
  return libc::Connect(fd, addr, addr_len);
}

int listen(int fd, int backlog) noexcept {
  if (preload::Emulated(fd)) {
    errno = EINVAL;  // a connected socket cannot listen
    return -1;
  }
  return libc::Listen(fd, backlog);
}

int socket(int domain, int type, int protocol) noexcept {
  const int fd = libc::Socket(domain, type, protocol);
  ForgetNewNumber(fd);
  return fd;
}

int accept(int fd, struct sockaddr* addr, socklen_t* addr_len) {
  const int accepted = libc::Accept(fd, addr, addr_len);
  ForgetNewNumber(accepted);
  return accepted;
}

int accept4(int fd, struct sockaddr* addr, socklen_t* addr_len, int flags) {
  const int accepted = libc::Accept4(fd, addr, addr_len, flags);
  ForgetNewNumber(accepted);
  return accepted;
}

}  // extern "C"
