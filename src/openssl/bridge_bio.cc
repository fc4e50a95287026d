#include "openssl/bridge_bio.h"

#include <fcntl.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <new>
#include <optional>

#include "api/linux_abi.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "crypto/suite.h"
#include "openssl/handshake_keys.h"
#include "openssl/handshake_stream.h"
#include "openssl/linux_crypto_info.h"
#include "openssl/tls13_traffic.h"
#include "platform/next_libc.h"
#include "record/header.h"
#include "session/linux_session.h"
#include "socket/flusher.h"
#include "socket/ktls_socket.h"
#include "socket/socket_table.h"

namespace ktls::openssl {
namespace {

namespace linux_abi = api::linux_abi;
// Raw descriptor calls go to libc directly, never through an interposer in front of us.
namespace libc = platform::libc;

// OpenSSL's internal BIO controls for kTLS (include/internal/bio.h in 3.0); bio.h shows
// 72, 74 and 75 only in a comment.
constexpr int kCtrlSetKtls = 72;
constexpr int kCtrlSetKtlsTxCtrlMsg = 74;
constexpr int kCtrlClearKtlsTxCtrlMsg = 75;
static_assert(BIO_CTRL_GET_KTLS_SEND == 73 && BIO_CTRL_GET_KTLS_RECV == 76);

constexpr uint8_t kHandshakeType = static_cast<uint8_t>(record::ContentType::kHandshake);
// One record's plaintext per read: OpenSSL's record code takes no more than 2^14 bytes
// outside kTLS, and a TLS 1.3 record adds its inner type byte.
constexpr size_t kMaxDelivery = record::kMaxPlaintextLen;

bool Retryable(int error) {
  return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
}

bool IsNonBlocking(int fd) {
  const int flags = libc::Fcntl(fd, F_GETFL, 0);
  return flags >= 0 && (flags & O_NONBLOCK) != 0;
}

// How long a drain may wait: the socket's SO_SNDTIMEO, else the close deadline.
std::chrono::milliseconds DrainBudget(int fd) {
  struct timeval tv = {};
  socklen_t len = sizeof(tv);
  if (libc::Getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) == 0 &&
      (tv.tv_sec != 0 || tv.tv_usec != 0)) {
    return std::chrono::milliseconds(static_cast<long long>(tv.tv_sec) * 1000 +
                                     (tv.tv_usec + 999) / 1000);
  }
  return socket::Flusher::kCloseDeadline;
}

// Pushes the ciphertext our engine still queues for `fd` into the kernel; with `wait`,
// waits (within DrainBudget) until the kernel took all of it. True when none is left.
bool DrainTx(socket::KtlsSocket& socket, int fd, bool wait) {
  const auto deadline = std::chrono::steady_clock::now() + DrainBudget(fd);
  while (socket.has_pending_tx() && !socket.FlushFromBackground()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!wait || left.count() <= 0) return false;
    struct pollfd pfd = {fd, POLLOUT, 0};
    if (libc::Poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 1000))) < 0 &&
        errno != EINTR) {
      return false;
    }
    if ((pfd.revents & POLLNVAL) != 0) return false;
  }
  return true;
}

// Where the plain byte stream handed to OpenSSL stands in the TLS record framing, so the
// receive keys are taken over only between two records.
class RecordBoundary {
 public:
  void Feed(const uint8_t* data, size_t len) {
    while (len > 0) {
      if (header_len_ < record::kHeaderLen) {
        header_[header_len_++] = *data++;
        --len;
        if (header_len_ == record::kHeaderLen) body_left_ = LoadBe16(header_ + 3);
      } else {
        const size_t take = std::min(body_left_, len);
        data += take;
        len -= take;
        body_left_ -= take;
      }
      if (header_len_ == record::kHeaderLen && body_left_ == 0) header_len_ = 0;
    }
  }
  bool at_boundary() const { return header_len_ == 0; }

 private:
  uint8_t header_[record::kHeaderLen] = {};
  size_t header_len_ = 0;
  size_t body_left_ = 0;
};

class KernelBio {
 public:
  KernelBio(SSL* ssl, int fd, bool close_fd) : ssl_(ssl), fd_(fd), close_fd_(close_fd) {}
  ~KernelBio() { Release(); }
  KernelBio(const KernelBio&) = delete;
  KernelBio& operator=(const KernelBio&) = delete;

  void Ref() { refs_.fetch_add(1); }
  bool Unref() { return refs_.fetch_sub(1) == 1; }

  int Read(BIO* bio, char* out, int len);
  int Write(BIO* bio, const char* in, int len);
  long Ctrl(BIO* bio, int cmd, long num, void* ptr);

  KernelBioState state() const {
    return {.fd = fd_, .tx = tx_, .rx = rx_, .rx_by_bridge = rx_inner_type_, .rx_error = rx_error_};
  }

 private:
  int PlainRead(BIO* bio, char* out, int len);
  int RecordRead(BIO* bio, char* out, int len);
  int PlainWrite(BIO* bio, const char* in, int len);
  int RecordWrite(BIO* bio, const char* in, int len);
  long SetKtls(const void* info, bool tx);
  void MaybeTakeOverRx();
  bool AttachUlp();
  bool LoadTxSecret();
  // TLS 1.3: installs the next key of a direction after a KeyUpdate; 0 or an errno.
  int Rekey(bool tx);
  // BIO_flush(): OpenSSL flushes before each non-data record and before SSL_sendfile();
  // our engine's queue counts as the BIO's buffer, so it must reach the kernel first.
  long Flush(BIO* bio);
  // BIO_wpending(): ciphertext our engine still queues (1 if any; the amount is not kept).
  long PendingTx() const;
  // BIO_pending(): a record our engine opened but OpenSSL has not read (1 if any); poll(2)
  // on the descriptor cannot see it.
  long PendingRx() const;
  void Release();

  SSL* const ssl_;
  const int fd_;
  bool close_fd_;
  std::atomic<int> refs_{1};

  bool tx_ = false;
  bool tx_tls13_ = false;
  crypto::SuiteId tx_suite_ = crypto::SuiteId::kAes128Gcm;
  SecretBytes tx_secret_;
  HandshakeStream tx_handshake_;
  std::optional<uint8_t> ctrl_type_;  // record type of the next write (ctrl 74)
  int tx_error_ = 0;  // a KeyUpdate whose new key could not be installed: sending stops

  bool rx_ = false;
  bool rx_inner_type_ = false;  // TLS 1.3 records installed by us: inner-type format
  bool rx_settled_ = false;     // TLS 1.3 takeover done or given up
  int rx_error_ = 0;
  crypto::SuiteId rx_suite_ = crypto::SuiteId::kAes128Gcm;
  SecretBytes rx_secret_;
  HandshakeStream rx_handshake_;
  RecordBoundary plain_rx_;
  bool eof_ = false;
};

int KernelBio::Read(BIO* bio, char* out, int len) {
  BIO_clear_retry_flags(bio);
  if (out == nullptr || len <= 0) return 0;
  return rx_ ? RecordRead(bio, out, len) : PlainRead(bio, out, len);
}

int KernelBio::PlainRead(BIO* bio, char* out, int len) {
  const ssize_t n = libc::Recv(fd_, out, static_cast<size_t>(len), 0);
  if (n > 0) {
    plain_rx_.Feed(reinterpret_cast<const uint8_t*>(out), static_cast<size_t>(n));
    return static_cast<int>(n);
  }
  if (n == 0) {
    eof_ = true;
    return 0;
  }
  if (BIO_sock_non_fatal_error(errno) != 0) BIO_set_retry_read(bio);
  return -1;
}

// What OpenSSL's ktls_read_record() makes of a recvmsg() with a TLS_GET_RECORD_TYPE
// control message: a 5-byte header in front of the plaintext. For the TLS 1.3 records
// OpenSSL did not hand over, the header says application_data and the inner content
// type follows the plaintext, as after OpenSSL's own decryption.
int KernelBio::RecordRead(BIO* bio, char* out, int len) {
  const size_t trailer = rx_inner_type_ ? 1 : 0;
  if (static_cast<size_t>(len) <= record::kHeaderLen + trailer) {
    errno = EINVAL;
    return -1;
  }
  auto* bytes = reinterpret_cast<uint8_t*>(out);
  const size_t room =
      std::min(static_cast<size_t>(len) - record::kHeaderLen - trailer, kMaxDelivery);
  struct iovec iov = {bytes + record::kHeaderLen, room};
  alignas(struct cmsghdr) char control[CMSG_SPACE(1)] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t n = linux_abi::Recvmsg(fd_, &msg, 0);
  if (n == linux_abi::kNotHandled) {
    errno = EIO;  // keys installed but the socket layer lost them: never read raw
    return -1;
  }
  if (n < 0) {
    errno = static_cast<int>(-n);
    if (Retryable(errno)) BIO_set_retry_read(bio);
    return -1;
  }
  const struct cmsghdr* cmsg = msg.msg_controllen >= CMSG_LEN(1) ? CMSG_FIRSTHDR(&msg) : nullptr;
  if (cmsg == nullptr || cmsg->cmsg_level != SOL_TLS || cmsg->cmsg_type != TLS_GET_RECORD_TYPE) {
    if (n == 0) {
      eof_ = true;
      return 0;
    }
    errno = EIO;
    return -1;
  }
  const uint8_t type = *CMSG_DATA(cmsg);
  size_t body = static_cast<size_t>(n);
  uint8_t outer_type = type;
  if (rx_inner_type_) {
    bytes[record::kHeaderLen + body] = type;
    ++body;
    outer_type = record::kApplicationData;
  }
  bytes[0] = outer_type;
  bytes[1] = 3;  // OpenSSL's kTLS records always say 3,3 (TLS 1.2 framing)
  bytes[2] = 3;
  StoreBe16(bytes + 3, static_cast<uint16_t>(body));
  if (rx_inner_type_ && type == kHandshakeType) {
    // Records after a KeyUpdate wait in our engine for the peer's next key.
    const int updates =
        rx_handshake_.Feed(ConstBytes(bytes + record::kHeaderLen, static_cast<size_t>(n)));
    for (int i = 0; i < updates; ++i) {
      if (const int error = Rekey(false); error != 0) rx_error_ = error;
    }
  }
  return static_cast<int>(record::kHeaderLen + body);
}

int KernelBio::Write(BIO* bio, const char* in, int len) {
  BIO_clear_retry_flags(bio);
  if (in == nullptr || len <= 0) return 0;
  return tx_ ? RecordWrite(bio, in, len) : PlainWrite(bio, in, len);
}

int KernelBio::PlainWrite(BIO* bio, const char* in, int len) {
  const ssize_t n = libc::Send(fd_, in, static_cast<size_t>(len), 0);
  if (n >= 0) return static_cast<int>(n);
  if (BIO_sock_non_fatal_error(errno) != 0) BIO_set_retry_write(bio);
  return -1;
}

int KernelBio::RecordWrite(BIO* bio, const char* in, int len) {
  if (tx_error_ != 0) {
    errno = tx_error_;
    return -1;
  }
  const ConstBytes data(reinterpret_cast<const uint8_t*>(in), static_cast<size_t>(len));
  const std::optional<uint8_t> type = ctrl_type_;
  const bool watch_key_updates = tx_tls13_ && type == kHandshakeType;
  if (watch_key_updates) {
    // A KeyUpdate we could not follow with the next key would leave the peer unable to
    // read us: refuse to send it instead.
    HandshakeStream probe = tx_handshake_;
    if (probe.Feed(data) > 0 && tx_secret_.empty() && !LoadTxSecret()) {
      errno = ENOKEY;
      return -1;
    }
  }
  struct iovec iov = {const_cast<char*>(in), static_cast<size_t>(len)};
  alignas(struct cmsghdr) char control[CMSG_SPACE(1)] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (type.has_value()) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_TLS;
    cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
    cmsg->cmsg_len = CMSG_LEN(1);
    *CMSG_DATA(cmsg) = *type;
  }
  const ssize_t n = linux_abi::Sendmsg(fd_, &msg, 0);
  if (n == linux_abi::kNotHandled) {
    errno = EIO;  // keys installed but the socket layer lost them: never send plaintext
    return -1;
  }
  if (n < 0) {
    errno = static_cast<int>(-n);
    if (Retryable(errno)) BIO_set_retry_write(bio);
    return -1;
  }
  // Like OpenSSL's socket BIO, a control message's type lasts for one write; OpenSSL sets
  // it again before writing any rest.
  ctrl_type_.reset();
  if (watch_key_updates) {
    const int updates = tx_handshake_.Feed(data.first(static_cast<size_t>(n)));
    for (int i = 0; i < updates && tx_error_ == 0; ++i) tx_error_ = Rekey(true);
  }
  // After an alert (close_notify above all) applications often shutdown(2) or close(2)
  // the descriptor themselves, past us: on a blocking socket, let SSL_shutdown() return
  // only once the kernel holds every record, as it would with the kernel's kTLS.
  if (type == static_cast<uint8_t>(record::ContentType::kAlert) && !IsNonBlocking(fd_)) {
    if (const std::shared_ptr<socket::KtlsSocket> socket = socket::SocketTable::Get().Find(fd_)) {
      DrainTx(*socket, fd_, true);
    }
  }
  return static_cast<int>(n);
}

long KernelBio::Ctrl(BIO* bio, int cmd, long num, void* ptr) {
  switch (cmd) {
    case BIO_C_GET_FD:
      if (ptr != nullptr) *static_cast<int*>(ptr) = fd_;
      return fd_;
    case BIO_CTRL_GET_CLOSE:
      return close_fd_ ? BIO_CLOSE : BIO_NOCLOSE;
    case BIO_CTRL_SET_CLOSE:
      close_fd_ = num != BIO_NOCLOSE;
      return 1;
    case BIO_CTRL_DUP:
      return 1;
    case BIO_CTRL_FLUSH:
      return Flush(bio);
    case BIO_CTRL_WPENDING:
      return PendingTx();
    case BIO_CTRL_PENDING:
      return PendingRx();
    case BIO_CTRL_EOF:
      return eof_ ? 1 : 0;
    case kCtrlSetKtls:
      return SetKtls(ptr, num != 0);
    case BIO_CTRL_GET_KTLS_SEND:
      return tx_ ? 1 : 0;
    case BIO_CTRL_GET_KTLS_RECV:
      MaybeTakeOverRx();
      return rx_ ? 1 : 0;
    case kCtrlSetKtlsTxCtrlMsg:
      ctrl_type_ = static_cast<uint8_t>(num);
      return 0;
    case kCtrlClearKtlsTxCtrlMsg:
      ctrl_type_.reset();
      return 0;
    default:
      return 0;
  }
}

bool KernelBio::AttachUlp() {
  const int result = linux_abi::Setsockopt(fd_, SOL_TCP, TCP_ULP, "tls", sizeof("tls"));
  return result == 0 || result == -EEXIST;
}

// OpenSSL passes its tls_crypto_info_all union: the Linux struct for the cipher, whose
// size its leading tls_crypto_info gives. Any refusal leaves OpenSSL in user space.
long KernelBio::SetKtls(const void* info, bool tx) {
  if (info == nullptr || (tx ? tx_ : rx_)) return 0;
  struct tls_crypto_info header = {};
  std::memcpy(&header, info, sizeof(header));
  const size_t size = session::LinuxCryptoInfoSize(header.cipher_type);
  const std::optional<crypto::SuiteId> suite = crypto::SuiteFromLinux(header.cipher_type);
  if (size == 0 || !suite.has_value() || !AttachUlp()) return 0;
  if (linux_abi::Setsockopt(fd_, SOL_TLS, tx ? TLS_TX : TLS_RX, info,
                            static_cast<socklen_t>(size)) != 0) {
    return 0;
  }
  if (tx) {
    tx_ = true;
    tx_suite_ = *suite;
    tx_tls13_ = header.version == TLS_1_3_VERSION;
    // OpenSSL logs the secret before handing the key over; keep it for KeyUpdates.
    if (tx_tls13_) LoadTxSecret();
  } else {
    rx_ = true;
    rx_settled_ = true;
    rx_suite_ = *suite;
  }
  return 1;
}

bool KernelBio::LoadTxSecret() {
  Result<SecretBytes> secret = ExportTrafficSecret(ssl_, Direction::kWrite);
  if (!secret.ok()) return false;
  tx_secret_ = std::move(secret).value();
  return true;
}

void KernelBio::MaybeTakeOverRx() {
  if (rx_ || rx_settled_) return;
  // Only its application keys are final, and only TLS 1.3 lacks OpenSSL's own hand-over
  // (which for TLS 1.2 came during the handshake, or not at all).
  if (SSL_is_init_finished(ssl_) != 1) return;
  if (SSL_version(ssl_) != TLS1_3_VERSION) {
    rx_settled_ = true;
    return;
  }
  if ((SSL_get_options(ssl_) & SSL_OP_ENABLE_KTLS) == 0 || !plain_rx_.at_boundary()) return;
  auto settle = [this](int error) {
    rx_settled_ = true;
    rx_error_ = error;
  };
  Result<record::RecordKeys> keys = ExportKeys(ssl_, Direction::kRead);
  if (!keys.ok()) {
    if (keys.error() != EBUSY) settle(keys.error());  // EBUSY: OpenSSL still holds bytes
    return;
  }
  Result<SecretBytes> secret = ExportTrafficSecret(ssl_, Direction::kRead);
  if (!secret.ok()) return settle(secret.error());
  Result<SecretBytes> info = MakeLinuxCryptoInfo(*keys);
  if (!info.ok()) return settle(info.error());
  if (!AttachUlp()) return settle(ENOPROTOOPT);
  const int result = linux_abi::Setsockopt(fd_, SOL_TLS, TLS_RX, info->data(),
                                           static_cast<socklen_t>(info->size()));
  if (result != 0) return settle(-result);
  rx_ = true;
  rx_inner_type_ = true;
  rx_suite_ = keys->suite;
  rx_secret_ = std::move(secret).value();
  settle(0);
}

int KernelBio::Rekey(bool tx) {
  SecretBytes& secret = tx ? tx_secret_ : rx_secret_;
  Result<SecretBytes> next = NextTrafficSecret(secret.view());
  if (!next.ok()) return next.error();
  Result<record::RecordKeys> keys =
      Tls13KeysFromSecret(tx ? tx_suite_ : rx_suite_, next->view(), 0);
  if (!keys.ok()) return keys.error();
  Result<SecretBytes> info = MakeLinuxCryptoInfo(*keys);
  if (!info.ok()) return info.error();
  const int result = linux_abi::Setsockopt(fd_, SOL_TLS, tx ? TLS_TX : TLS_RX, info->data(),
                                           static_cast<socklen_t>(info->size()));
  if (result != 0) return -result;
  secret = std::move(next).value();
  return 0;
}

long KernelBio::Flush(BIO* bio) {
  if (!tx_) return 1;
  const std::shared_ptr<socket::KtlsSocket> socket = socket::SocketTable::Get().Find(fd_);
  if (!socket) return 1;
  const bool nonblocking = IsNonBlocking(fd_);
  if (DrainTx(*socket, fd_, !nonblocking)) return 1;
  BIO_clear_retry_flags(bio);
  if (nonblocking) BIO_set_retry_write(bio);
  errno = EAGAIN;
  return 0;
}

long KernelBio::PendingTx() const {
  if (!tx_) return 0;
  const std::shared_ptr<socket::KtlsSocket> socket = socket::SocketTable::Get().Find(fd_);
  return socket && socket->has_pending_tx() ? 1 : 0;
}

long KernelBio::PendingRx() const {
  if (!rx_) return 0;
  const std::shared_ptr<socket::KtlsSocket> socket = socket::SocketTable::Get().Find(fd_);
  return socket && socket->HasQueuedRx() ? 1 : 0;
}

// SSL_free(): what our engine still queues must reach the kernel before the descriptor
// goes back to its owner, who may close(2) it without us; then the descriptor leaves the
// socket table so a later socket with the same number starts clean.
void KernelBio::Release() {
  socket::SocketTable& table = socket::SocketTable::Get();
  const std::shared_ptr<socket::KtlsSocket> socket = table.Find(fd_);
  if (!socket) {
    if (close_fd_) libc::Close(fd_);
    return;
  }
  table.RemoveIf(fd_, socket.get());
  if (close_fd_) {
    socket->Close();  // keeps flushing in the background, like close(2)
    return;
  }
  DrainTx(*socket, fd_, true);
  socket::Flusher::Get().Unwatch(fd_);
}

// --- BIO_METHOD glue ------------------------------------------------------------------

KernelBio* StateOf(BIO* bio) {
  return static_cast<KernelBio*>(BIO_get_data(bio));
}

int BioRead(BIO* bio, char* out, int len) {
  KernelBio* state = StateOf(bio);
  return state != nullptr ? state->Read(bio, out, len) : -1;
}

int BioWrite(BIO* bio, const char* in, int len) {
  KernelBio* state = StateOf(bio);
  return state != nullptr ? state->Write(bio, in, len) : -1;
}

int BioPuts(BIO* bio, const char* text) {
  return BioWrite(bio, text, static_cast<int>(std::strlen(text)));
}

long BioCtrl(BIO* bio, int cmd, long num, void* ptr) {
  KernelBio* state = StateOf(bio);
  return state != nullptr ? state->Ctrl(bio, cmd, num, ptr) : 0;
}

int BioCreate(BIO* bio) {
  BIO_set_data(bio, nullptr);
  BIO_set_init(bio, 0);
  return 1;
}

int BioDestroy(BIO* bio) {
  if (bio == nullptr) return 0;
  KernelBio* state = StateOf(bio);
  BIO_set_data(bio, nullptr);
  BIO_set_init(bio, 0);
  if (state != nullptr && state->Unref()) delete state;
  return 1;
}

int TypeIndex() {
  static const int index = BIO_get_new_index();
  return index;
}

// Two types: the read BIO is a descriptor BIO (SSL_get_fd() works); the write BIO is one
// only where SSL_sendfile() may see the descriptor.
int BioType(bool descriptor) {
  return TypeIndex() | BIO_TYPE_SOURCE_SINK | (descriptor ? BIO_TYPE_DESCRIPTOR : 0);
}

BIO_METHOD* MakeMethod(bool descriptor) {
  if (TypeIndex() < 0) return nullptr;
  BIO_METHOD* method = BIO_meth_new(BioType(descriptor), "ktls kernel socket");
  if (method == nullptr) return nullptr;
  if (BIO_meth_set_write(method, BioWrite) != 1 || BIO_meth_set_read(method, BioRead) != 1 ||
      BIO_meth_set_puts(method, BioPuts) != 1 || BIO_meth_set_ctrl(method, BioCtrl) != 1 ||
      BIO_meth_set_create(method, BioCreate) != 1 ||
      BIO_meth_set_destroy(method, BioDestroy) != 1) {
    BIO_meth_free(method);
    return nullptr;
  }
  return method;
}

const BIO_METHOD* Method(bool descriptor) {
  // Created once and kept for the life of the process, as OpenSSL's own methods are.
  static BIO_METHOD* const with_fd = MakeMethod(true);
  static BIO_METHOD* const without_fd = MakeMethod(false);
  return descriptor ? with_fd : without_fd;
}

}  // namespace

Result<KernelBios> NewKernelBios(SSL* ssl, int fd, bool close_fd, bool expose_write_fd) {
  const BIO_METHOD* read_method = Method(true);
  const BIO_METHOD* write_method = Method(expose_write_fd);
  if (read_method == nullptr || write_method == nullptr) return Status::Error(ENOMEM);
  BIO* read = BIO_new(read_method);
  BIO* write = BIO_new(write_method);
  KernelBio* state = nullptr;
  if (read != nullptr && write != nullptr) state = new (std::nothrow) KernelBio(ssl, fd, close_fd);
  if (state == nullptr) {
    BIO_free(read);
    BIO_free(write);
    return Status::Error(ENOMEM);
  }
  state->Ref();  // one reference per BIO
  BIO_set_data(read, state);
  BIO_set_data(write, state);
  BIO_set_init(read, 1);
  BIO_set_init(write, 1);
  return KernelBios{.read = read, .write = write};
}

bool IsKernelBio(const BIO* bio) {
  if (bio == nullptr || TypeIndex() < 0) return false;
  const int type = BIO_method_type(bio);
  return type == BioType(true) || type == BioType(false);
}

Result<KernelBioState> InspectKernelBio(BIO* bio) {
  if (!IsKernelBio(bio)) return Status::Error(EINVAL);
  const KernelBio* state = StateOf(bio);
  if (state == nullptr) return Status::Error(EINVAL);
  return state->state();
}

}  // namespace ktls::openssl
