#include "linux_abi/linux_abi_test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <thread>

#include "api/linux_abi.h"
#include "ktls/freebsd.h"
#include "testlib/tcp_pair.h"

namespace ktls::linux_abi_test {
namespace {

namespace abi = api::linux_abi;

[[noreturn]] void Die(const char* what) {
  std::perror(what);
  std::abort();
}

ssize_t Errno(ssize_t rv) {
  return rv < 0 ? -errno : rv;
}

}  // namespace

std::vector<Variant> AllVariants() {
  return {
      {"12_aes_gcm", TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128},
      {"13_aes_gcm", TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128},
      {"12_aes_gcm_256", TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_256},
      {"13_aes_gcm_256", TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_256},
      {"12_chacha", TLS_1_2_VERSION, TLS_CIPHER_CHACHA20_POLY1305},
      {"13_chacha", TLS_1_3_VERSION, TLS_CIPHER_CHACHA20_POLY1305},
  };
}

std::vector<Variant> AesGcmVariants() {
  return {
      {"12_aes_gcm", TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128},
      {"13_aes_gcm", TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128},
  };
}

std::string VariantName(const ::testing::TestParamInfo<Variant>& info) {
  return info.param.name;
}

void PrintTo(const Variant& variant, std::ostream* os) {
  *os << variant.name;
}

CryptoInfo::CryptoInfo(uint16_t version, uint16_t cipher, uint8_t fill)
    : version_(version), cipher_(cipher) {
  // Sizes from include/uapi/linux/tls.h; unknown ids get the AES-GCM-128 shape.
  switch (cipher) {
    case TLS_CIPHER_AES_GCM_256:
    case TLS_CIPHER_ARIA_GCM_256:
      iv_len_ = 8, key_len_ = 32, salt_len_ = 4;
      break;
    case TLS_CIPHER_CHACHA20_POLY1305:
      iv_len_ = 12, key_len_ = 32, salt_len_ = 0;
      break;
    default:
      iv_len_ = 8, key_len_ = 16, salt_len_ = 4;
      break;
  }
  bytes_.assign(4 + iv_len_ + key_len_ + salt_len_ + 8, fill);
  std::memcpy(bytes_.data(), &version, 2);  // host byte order, as the kernel reads it
  std::memcpy(bytes_.data() + 2, &cipher, 2);
}

bool CryptoInfo::has_explicit_nonce() const {
  return version_ == TLS_1_2_VERSION && cipher_ != TLS_CIPHER_CHACHA20_POLY1305;
}

uint64_t CryptoInfo::RecSeq() const {
  return LoadBe64(bytes_.data() + bytes_.size() - 8);
}
void CryptoInfo::SetRecSeq(uint64_t seq) {
  StoreBe64(bytes_.data() + bytes_.size() - 8, seq);
}
uint64_t CryptoInfo::IvNumber() const {
  return LoadBe64(bytes_.data() + 4);
}
void CryptoInfo::SetIvNumber(uint64_t value) {
  StoreBe64(bytes_.data() + 4, value);
}

testing::ReferenceParams CryptoInfo::Reference() const {
  testing::ReferenceParams params;
  switch (cipher_) {
    case TLS_CIPHER_AES_GCM_128:
      params.cipher = testing::RefCipher::kAes128Gcm;
      break;
    case TLS_CIPHER_AES_GCM_256:
      params.cipher = testing::RefCipher::kAes256Gcm;
      break;
    case TLS_CIPHER_CHACHA20_POLY1305:
      params.cipher = testing::RefCipher::kChaCha20Poly1305;
      break;
    default:
      ADD_FAILURE() << "no reference for cipher " << cipher_;
      break;
  }
  params.version = version_;
  const uint8_t* iv = bytes_.data() + 4;
  const uint8_t* key = iv + iv_len_;
  const uint8_t* salt = key + key_len_;
  params.key.assign(key, key + key_len_);
  // TLS 1.2 GCM: the salt is the implicit nonce; otherwise salt || iv is the static IV.
  params.iv.assign(salt, salt + salt_len_);
  if (!has_explicit_nonce()) params.iv.insert(params.iv.end(), iv, iv + iv_len_);
  return params;
}

std::vector<uint8_t> CryptoInfo::Seal(uint64_t seq, uint8_t type, ConstBytes payload) const {
  testing::ReferenceSealOptions options;
  options.explicit_nonce = IvNumber() + (seq - RecSeq());
  return testing::ReferenceSeal(Reference(), seq, type, payload, options);
}

testing::ReferenceOpened CryptoInfo::Open(uint64_t seq, ConstBytes record) const {
  return testing::ReferenceOpen(Reference(), seq, record);
}

SocketPair::SocketPair(int family) {
  const int listener = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) Die("socket");
  struct sockaddr_storage addr = {};
  socklen_t len = 0;
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<struct sockaddr_in6*>(&addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    len = sizeof(*in6);
  } else {
    auto* in = reinterpret_cast<struct sockaddr_in*>(&addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(*in);
  }
  if (bind(listener, reinterpret_cast<struct sockaddr*>(&addr), len) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<struct sockaddr*>(&addr), &len) != 0) {
    Die("listen");
  }
  fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<struct sockaddr*>(&addr), len) != 0) {
    Die("connect");
  }
  cfd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (cfd < 0) Die("accept");
  close(listener);
  SetTimeouts(fd, kTimeoutMs, kTimeoutMs);
  SetTimeouts(cfd, kTimeoutMs, kTimeoutMs);
}

SocketPair::~SocketPair() {
  if (fd >= 0) ktls_close(fd);
  if (cfd >= 0) ktls_close(cfd);
}

void SetTimeouts(int fd, int recv_ms, int send_ms) {
  if (recv_ms > 0) {
    struct timeval tv = {recv_ms / 1000, (recv_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  if (send_ms > 0) {
    struct timeval tv = {send_ms / 1000, (send_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
}

int SetOpt(int fd, int level, int name, const void* value, socklen_t len) {
  const int rv = abi::Setsockopt(fd, level, name, value, len);
  if (rv != abi::kNotHandled) return rv;
  return static_cast<int>(Errno(setsockopt(fd, level, name, value, len)));
}

int GetOpt(int fd, int level, int name, void* value, socklen_t* len) {
  const int rv = abi::Getsockopt(fd, level, name, value, len);
  if (rv != abi::kNotHandled) return rv;
  return static_cast<int>(Errno(getsockopt(fd, level, name, value, len)));
}

int AttachUlp(int fd) {
  return SetOpt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls"));
}
int SetTx(int fd, const CryptoInfo& info) {
  return SetOpt(fd, SOL_TLS, TLS_TX, info.data(), info.size());
}
int SetRx(int fd, const CryptoInfo& info) {
  return SetOpt(fd, SOL_TLS, TLS_RX, info.data(), info.size());
}

ssize_t SendMsg(int fd, const struct msghdr* msg, int flags) {
  const ssize_t rv = abi::Sendmsg(fd, msg, flags);
  if (rv != abi::kNotHandled) return rv;
  return Errno(sendmsg(fd, msg, flags | MSG_NOSIGNAL));
}

ssize_t Send(int fd, const void* buf, size_t len, int flags) {
  struct iovec iov = {const_cast<void*>(buf), len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  return SendMsg(fd, &msg, flags);
}

ssize_t SendText(int fd, std::string_view text, int flags) {
  return Send(fd, text.data(), text.size(), flags);
}

ssize_t SendRecord(int fd, uint8_t type, const void* buf, size_t len, int flags) {
  alignas(struct cmsghdr) char control[CMSG_SPACE(1)] = {};
  struct iovec iov = {const_cast<void*>(buf), len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_TLS;
  cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
  cmsg->cmsg_len = CMSG_LEN(1);
  *CMSG_DATA(cmsg) = type;
  return SendMsg(fd, &msg, flags);
}

ssize_t RecvMsg(int fd, struct msghdr* msg, int flags) {
  const ssize_t rv = abi::Recvmsg(fd, msg, flags);
  if (rv != abi::kNotHandled) return rv;
  return Errno(recvmsg(fd, msg, flags));
}

ssize_t Recv(int fd, void* buf, size_t len, int flags) {
  struct iovec iov = {buf, len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  return RecvMsg(fd, &msg, flags);
}

ssize_t RecvRecord(int fd, int* type, void* buf, size_t len, int flags) {
  alignas(struct cmsghdr) char control[CMSG_SPACE(1)] = {};
  struct iovec iov = {buf, len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t rv = RecvMsg(fd, &msg, flags);
  *type = -1;
  if (rv >= 0) {
    for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr;
         cmsg = CMSG_NXTHDR(&msg, cmsg)) {
      if (cmsg->cmsg_level == SOL_TLS && cmsg->cmsg_type == TLS_GET_RECORD_TYPE) {
        *type = *CMSG_DATA(cmsg);
      }
    }
  }
  return rv;
}

ssize_t SendFile(int out_fd, int in_fd, off_t* offset, size_t count) {
  const ssize_t rv = abi::Sendfile(out_fd, in_fd, offset, count);
  if (rv != abi::kNotHandled) return rv;
  return Errno(sendfile(out_fd, in_fd, offset, count));
}

int Poll(int fd, short events, int timeout_ms, short* revents) {
  struct pollfd pfd = {fd, events, 0};
  const int rv = ktls_poll(&pfd, 1, timeout_ms);
  if (revents != nullptr) *revents = pfd.revents;
  return rv < 0 ? -errno : rv;
}

int Shutdown(int fd, int how) {
  return ktls_shutdown(fd, how) == 0 ? 0 : -errno;
}

bool WriteRaw(int fd, ConstBytes bytes) {
  return testing::WriteAll(fd, bytes.data(), bytes.size());
}

std::vector<uint8_t> ReadRawRecord(int fd) {
  return testing::ReadRawRecord(fd, kTimeoutMs);
}

bool WaitForQueued(int fd, size_t bytes) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    int queued = 0;
    if (ioctl(fd, FIONREAD, &queued) != 0) return false;
    if (static_cast<size_t>(queued) >= bytes) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

std::vector<uint8_t> Pattern(size_t len, uint32_t seed) {
  std::vector<uint8_t> out(len);
  uint32_t state = seed * 2654435761u + 1;
  for (uint8_t& byte : out) {
    state = state * 1664525u + 1013904223u;
    byte = static_cast<uint8_t>(state >> 24);
  }
  return out;
}

std::string ToString(ConstBytes bytes) {
  return std::string(bytes.begin(), bytes.end());
}

int TempFileWith(ConstBytes content) {
  char path[] = "/tmp/ktls-linux-abi-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) Die("mkstemp");
  unlink(path);
  if (!testing::WriteAll(fd, content.data(), content.size())) Die("write");
  lseek(fd, 0, SEEK_SET);
  return fd;
}

}  // namespace ktls::linux_abi_test
