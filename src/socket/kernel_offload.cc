#include "socket/kernel_offload.h"

#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/secret_bytes.h"
#include "openssl/linux_crypto_info.h"
#include "record/header.h"
#include "record/record_keys.h"
#include "session/linux_session.h"

#ifndef TLS_TX_MAX_PAYLOAD_LEN
#define TLS_TX_MAX_PAYLOAD_LEN 5
#endif

namespace ktls::socket {
namespace {

using crypto::CipherKind;
using crypto::TlsVersion;

constexpr int kKernelEnotsupp = 524;  // ENOTSUPP, leaked by old kernels
constexpr size_t kCryptoHeaderLen = 4;
constexpr size_t kRecSeqLen = 8;

// What "this kernel cannot do it" looks like across kernel versions.
bool MeansUnsupported(int error) {
  return error == ENOENT || error == ENOPROTOOPT || error == EOPNOTSUPP || error == kKernelEnotsupp;
}

}  // namespace

bool KernelCanTake(const record::RecordLayout& layout) {
  const bool aead = layout.suite->cipher == CipherKind::kAesGcm ||
                    layout.suite->cipher == CipherKind::kChaCha20Poly1305;
  const bool version = layout.version == TlsVersion::kTls12 || layout.version == TlsVersion::kTls13;
  return aead && version;
}

int AttachKernelUlp(Os& os, int fd) {
  static constexpr char kName[] = "tls";
  if (os.Setsockopt(fd, SOL_TCP, TCP_ULP, kName, sizeof(kName)) == 0) return 0;
  const int error = errno;
  if (error == EEXIST) return 0;  // attached by an earlier attempt that stopped short
  return MeansUnsupported(error) ? EOPNOTSUPP : error;
}

int InstallKernelTx(Os& os, int fd, const record::RecordSealer& sealer, size_t max_payload) {
  if (!KernelCanTake(sealer.layout())) return EOPNOTSUPP;
  record::RecordKeys keys = sealer.keys();
  keys.sequence = sealer.next_sequence();
  Result<SecretBytes> info = openssl::MakeLinuxCryptoInfo(keys, sealer.next_explicit_nonce());
  if (!info.ok()) return EOPNOTSUPP;
  if (os.Setsockopt(fd, SOL_TLS, TLS_TX, info.value().data(),
                    static_cast<socklen_t>(info.value().size())) != 0) {
    const int error = errno;
    // EINVAL: a kernel too old for this version or cipher (the struct itself is valid).
    return MeansUnsupported(error) || error == EINVAL ? EOPNOTSUPP : error;
  }
  if (max_payload < record::kMaxPlaintextLen) {
    // kern.ipc.tls.maxlen, where the kernel knows the option (Linux 6.19+); older
    // kernels keep 16 KiB records, which every peer accepts.
    const auto limit = static_cast<uint16_t>(max_payload);
    os.Setsockopt(fd, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &limit, sizeof(limit));
  }
  return 0;
}

ssize_t KernelSend(Os& os, int fd, std::span<const ConstBytes> data,
                   std::optional<uint8_t> record_type, int flags) {
  std::vector<struct iovec> iov;
  iov.reserve(data.size());
  for (ConstBytes segment : data) {
    iov.push_back({const_cast<uint8_t*>(segment.data()), segment.size()});
  }
  struct msghdr msg = {};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  alignas(struct cmsghdr) unsigned char control[CMSG_SPACE(sizeof(uint8_t))] = {};
  if (record_type) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_TLS;
    cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
    cmsg->cmsg_len = CMSG_LEN(sizeof(uint8_t));
    *CMSG_DATA(cmsg) = *record_type;
  }
  // tls_sw_sendmsg refuses flags it does not know; FreeBSD callers may pass others.
  const ssize_t n = os.Sendmsg(fd, &msg, flags & (MSG_DONTWAIT | MSG_NOSIGNAL));
  return n < 0 ? -errno : n;
}

std::optional<uint64_t> KernelTxSequence(Os& os, int fd) {
  uint8_t header[kCryptoHeaderLen] = {};
  socklen_t len = sizeof(header);
  if (os.Getsockopt(fd, SOL_TLS, TLS_TX, header, &len) != 0) return std::nullopt;
  uint16_t cipher_type = 0;
  std::memcpy(&cipher_type, header + 2, sizeof(cipher_type));
  const size_t size = session::LinuxCryptoInfoSize(cipher_type);
  if (size == 0) return std::nullopt;
  // The readback carries the key too: keep it in memory that wipes itself.
  SecretBytes info(size);
  len = static_cast<socklen_t>(size);
  if (os.Getsockopt(fd, SOL_TLS, TLS_TX, info.data(), &len) != 0 || len != size) {
    return std::nullopt;
  }
  return LoadBe64(info.data() + size - kRecSeqLen);
}

}  // namespace ktls::socket
