#include "platform/kernel_tls_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "base/errno_name.h"

namespace ktls::platform {
namespace {

constexpr char kUlpListPath[] = "/proc/sys/net/ipv4/tcp_available_ulp";
constexpr char kTlsStatPath[] = "/proc/net/tls_stat";

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

bool ReadUlpList(std::string* out) {
  std::ifstream file(kUlpListPath);
  if (!file) return false;
  std::ostringstream text;
  text << file.rdbuf();
  std::string value = text.str();
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  *out = value;
  return true;
}

bool ListsTls(const std::string& ulps) {
  std::istringstream words(ulps);
  std::string word;
  while (words >> word) {
    if (word == "tls") return true;
  }
  return false;
}

std::string SysError(const char* what) {
  return std::string(what) + ": " + ErrnoName(errno);
}

// Builds a connected TCP pair on 127.0.0.1 with an ephemeral port; TCP_ULP only
// attaches to established sockets. Returns the client end.
bool ConnectLoopback(Fd* client, Fd* server, std::string* error) {
  auto fail = [error](const char* what) {
    *error = SysError(what);
    return false;
  };
  Fd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (listener.get() < 0) return fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t addr_len = sizeof(addr);
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return fail("bind 127.0.0.1");
  }
  if (listen(listener.get(), 1) != 0) return fail("listen");
  if (getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) {
    return fail("getsockname");
  }
  Fd connector(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (connector.get() < 0) return fail("socket");
  if (connect(connector.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return fail("connect 127.0.0.1");
  }
  Fd accepted(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (accepted.get() < 0) return fail("accept");
  *client = std::move(connector);
  *server = std::move(accepted);
  return true;
}

std::string ReasonFor(int errno_value) {
  switch (errno_value) {
    case ENOENT:
      return "tls.ko not loaded or CONFIG_TLS off";
    case ENOPROTOOPT:
      return "kernel without TCP_ULP (older than 4.13)";
    case EEXIST:
      return "socket already has an upper-layer protocol";
    case EPERM:
    case EACCES:
      return "not permitted here (seccomp or LSM policy?)";
    case ENOTCONN:
      return "socket not connected";
    default:
      return std::strerror(errno_value);
  }
}

}  // namespace

KernelTlsProbe ProbeKernelTls() {
  KernelTlsProbe probe;
  probe.ulp_list_readable = ReadUlpList(&probe.available_ulps);
  probe.ulp_listed = ListsTls(probe.available_ulps);
  probe.tls_stat_present = access(kTlsStatPath, F_OK) == 0;

  Fd client;
  Fd server;
  probe.loopback_ok = ConnectLoopback(&client, &server, &probe.loopback_error);
  if (!probe.loopback_ok) {
    probe.explanation =
        "unknown (could not build a loopback TCP pair: " + probe.loopback_error + ")";
    return probe;
  }
  static constexpr char kUlp[] = "tls";
  if (setsockopt(client.get(), SOL_TCP, TCP_ULP, kUlp, sizeof(kUlp) - 1) == 0) {
    probe.ulp_attached = true;
    std::string after;
    probe.autoloaded = !probe.ulp_listed && ReadUlpList(&after) && ListsTls(after);
    probe.explanation = probe.autoloaded
                            ? "available (tls.ko was loaded on demand by this probe)"
                            : "available (TCP_ULP \"tls\" attached to a loopback socket)";
    return probe;
  }
  probe.setsockopt_errno = errno;
  probe.explanation =
      "not available (setsockopt TCP_ULP \"tls\": " + ErrnoName(probe.setsockopt_errno) +
      " \u2014 " + ReasonFor(probe.setsockopt_errno) + ")";
  return probe;
}

}  // namespace ktls::platform
