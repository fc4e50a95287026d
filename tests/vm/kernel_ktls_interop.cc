// Runs as /init's child inside a VM whose kernel has the TLS ULP (run-vm-tests.sh):
// our record engine against the Linux kernel's own kTLS over loopback TCP, for TLS 1.2
// and 1.3 with AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305:
//   ours->kernel  records we seal (ktls_write, ktls_sendmsg, ktls_sendfile) opened by
//                 the kernel's TLS_RX, byte for byte, control records included;
//   kernel->ours  records the kernel's TLS_TX seals opened by ktls_recvmsg;
//   ifnet-switch  SW records, then TCP_TXTLS_MODE=IFNET, then kernel-sealed records: the
//                 kernel receiver must read one unbroken stream (sequence continuity);
//   ifnet-enable  kern.ipc.tls.ifnet.permitted=1 makes TCP_TXTLS_ENABLE start in IFNET.
// Prints one line per case and "KTLS-VM: N passed, M failed"; exits non-zero on failure.
#include <arpa/inet.h>
#include <linux/tls.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ktls/freebsd.h"
#include "ktls/sysctl.h"

namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint8_t kData = TLS_RLTYPE_APP;
constexpr uint8_t kAlert = TLS_RLTYPE_ALERT;
constexpr size_t kSizes[] = {1, 16384, 100000};

struct Suite {
  const char* name;
  int freebsd_cipher;
  int key_len;
  uint16_t linux_cipher;
};

constexpr Suite kSuites[] = {
    {"aes128-gcm", CRYPTO_AES_NIST_GCM_16, 16, TLS_CIPHER_AES_GCM_128},
    {"aes256-gcm", CRYPTO_AES_NIST_GCM_16, 32, TLS_CIPHER_AES_GCM_256},
    {"chacha20-poly1305", CRYPTO_CHACHA20_POLY1305, 32, TLS_CIPHER_CHACHA20_POLY1305},
};

std::string ErrnoText(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

Bytes RandomBytes(size_t len) {
  Bytes out(len);
  size_t done = 0;
  while (done < len) {
    const ssize_t n = getrandom(out.data() + done, len - done, 0);
    if (n > 0) done += static_cast<size_t>(n);
  }
  return out;
}

void StoreBe64(uint8_t* out, uint64_t value) {
  for (int i = 7; i >= 0; --i, value >>= 8) out[i] = static_cast<uint8_t>(value);
}

uint64_t LoadBe64(const uint8_t* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | in[i];
  return value;
}

// One direction's session as both APIs describe it.
struct Session {
  const Suite* suite;
  bool tls13;
  Bytes key;
  Bytes iv;  // TLS 1.2 GCM: 4-byte salt; otherwise the 12-byte static IV
  uint64_t rec_seq;
  uint64_t explicit_nonce;  // the kernel's first TLS 1.2 GCM explicit nonce (its TX)

  static Session Make(const Suite& suite, bool tls13) {
    Session s{&suite, tls13, RandomBytes(static_cast<size_t>(suite.key_len)), {}, 0, 0};
    const bool salt_only = !tls13 && suite.freebsd_cipher == CRYPTO_AES_NIST_GCM_16;
    s.iv = RandomBytes(salt_only ? TLS_AEAD_GCM_LEN : TLS_1_3_GCM_IV_LEN);
    // Away from 0, so a receiver starting at 0 would fail; far from the 2^64 end.
    const Bytes seq = RandomBytes(8);
    s.rec_seq = LoadBe64(seq.data()) >> 24;
    const Bytes nonce = RandomBytes(8);
    s.explicit_nonce = LoadBe64(nonce.data());
    return s;
  }

  struct tls_enable FreeBsd() const {
    struct tls_enable en = {};
    en.cipher_key = key.data();
    en.iv = iv.data();
    en.cipher_algorithm = suite->freebsd_cipher;
    en.cipher_key_len = suite->key_len;
    en.iv_len = static_cast<int>(iv.size());
    en.tls_vmajor = TLS_MAJOR_VER_ONE;
    en.tls_vminor = tls13 ? TLS_MINOR_VER_THREE : TLS_MINOR_VER_TWO;
    StoreBe64(en.rec_seq, rec_seq);
    return en;
  }

  // The tls12_crypto_info_* a TLS library would hand the kernel.
  Bytes Linux() const {
    const uint16_t version = tls13 ? TLS_1_3_VERSION : TLS_1_2_VERSION;
    if (suite->linux_cipher == TLS_CIPHER_CHACHA20_POLY1305) {
      tls12_crypto_info_chacha20_poly1305 info = {};
      info.info.version = version;
      info.info.cipher_type = suite->linux_cipher;
      std::memcpy(info.key, key.data(), sizeof(info.key));
      std::memcpy(info.iv, iv.data(), sizeof(info.iv));
      StoreBe64(info.rec_seq, rec_seq);
      const auto* raw = reinterpret_cast<const uint8_t*>(&info);
      return Bytes(raw, raw + sizeof(info));
    }
    return suite->linux_cipher == TLS_CIPHER_AES_GCM_128
               ? Gcm<tls12_crypto_info_aes_gcm_128>(version)
               : Gcm<tls12_crypto_info_aes_gcm_256>(version);
  }

  template <typename Info>
  Bytes Gcm(uint16_t version) const {
    Info info = {};
    info.info.version = version;
    info.info.cipher_type = suite->linux_cipher;
    std::memcpy(info.key, key.data(), sizeof(info.key));
    std::memcpy(info.salt, iv.data(), sizeof(info.salt));
    if (tls13) {
      std::memcpy(info.iv, iv.data() + sizeof(info.salt), sizeof(info.iv));
    } else {
      StoreBe64(info.iv, explicit_nonce);
    }
    StoreBe64(info.rec_seq, rec_seq);
    const auto* raw = reinterpret_cast<const uint8_t*>(&info);
    return Bytes(raw, raw + sizeof(info));
  }
};

// A stream as the receiver sees it: runs of bytes, each of one record type.
using Stream = std::vector<std::pair<uint8_t, Bytes>>;

void Append(Stream& stream, uint8_t type, const uint8_t* data, size_t len) {
  if (stream.empty() || stream.back().first != type) stream.emplace_back(type, Bytes());
  stream.back().second.insert(stream.back().second.end(), data, data + len);
}

size_t TotalBytes(const Stream& stream) {
  size_t total = 0;
  for (const auto& run : stream) total += run.second.size();
  return total;
}

std::string Compare(const Stream& want, const Stream& got) {
  if (want.size() != got.size()) {
    return "runs: want " + std::to_string(want.size()) + ", got " + std::to_string(got.size());
  }
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i].first != got[i].first) {
      return "run " + std::to_string(i) + ": type " + std::to_string(got[i].first) + ", want " +
             std::to_string(want[i].first);
    }
    if (want[i].second != got[i].second) {
      return "run " + std::to_string(i) + ": " + std::to_string(got[i].second.size()) +
             " bytes differ from the " + std::to_string(want[i].second.size()) + " sent";
    }
  }
  return "";
}

// A connected loopback pair; `a` is the engine under test, `b` the kernel's side.
struct Pair {
  int a = -1;
  int b = -1;
  std::string error;

  explicit Pair(int small_buffers) {
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    // Small buffers keep sealed records queued in the engine when the receiver lags.
    if (small_buffers > 0) {
      setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small_buffers, sizeof(small_buffers));
    }
    if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(listener, 1) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      error = ErrnoText("listen");
    } else {
      a = socket(AF_INET, SOCK_STREAM, 0);
      if (small_buffers > 0) {
        setsockopt(a, SOL_SOCKET, SO_SNDBUF, &small_buffers, sizeof(small_buffers));
      }
      if (connect(a, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
        error = ErrnoText("connect");
      } else {
        b = accept(listener, nullptr, nullptr);
        if (b < 0) error = ErrnoText("accept");
      }
    }
    if (listener >= 0) close(listener);
    // A receiver that waits this long has lost the stream: fail instead of hanging.
    struct timeval timeout = {10, 0};
    if (a >= 0) setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    if (b >= 0) setsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~Pair() {
    if (a >= 0) ktls_close(a);
    if (b >= 0) close(b);
  }
  // A receiver that gave up resets the connection, so a sender blocked on a full
  // send buffer fails instead of waiting forever.
  void ResetIf(const std::string& receive_error, int& receiver) {
    if (receive_error.empty() || receiver < 0) return;
    const struct linger reset = {1, 0};
    setsockopt(receiver, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    if (receiver == a) {
      ktls_close(receiver);
    } else {
      close(receiver);
    }
    receiver = -1;
  }
};

// The kernel side: TCP_ULP "tls", then TLS_TX or TLS_RX.
std::string KernelInstall(int fd, int direction, const Session& session) {
  if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) != 0) {
    return ErrnoText("TCP_ULP");
  }
  const Bytes info = session.Linux();
  if (setsockopt(fd, SOL_TLS, direction, info.data(), static_cast<socklen_t>(info.size())) != 0) {
    return ErrnoText(direction == TLS_TX ? "TLS_TX" : "TLS_RX");
  }
  return "";
}

// Our engine's side: TCP_TXTLS_ENABLE or TCP_RXTLS_ENABLE.
std::string EngineInstall(int fd, int option, const Session& session) {
  const struct tls_enable en = session.FreeBsd();
  if (ktls_setsockopt(fd, IPPROTO_TCP, option, &en, sizeof(en)) != 0) {
    return ErrnoText(option == TCP_TXTLS_ENABLE ? "TCP_TXTLS_ENABLE" : "TCP_RXTLS_ENABLE");
  }
  return "";
}

// A connected pair with the kernel's `kernel_direction` (TLS_TX or TLS_RX) on `b` and our
// engine's other direction on `a`.
std::string InstallBoth(const Pair& pair, int kernel_direction, const Session& session) {
  if (!pair.error.empty()) return pair.error;
  if (std::string e = KernelInstall(pair.b, kernel_direction, session); !e.empty()) return e;
  return EngineInstall(pair.a, kernel_direction == TLS_RX ? TCP_TXTLS_ENABLE : TCP_RXTLS_ENABLE,
                       session);
}

// The kernel's next sequence number for `direction` (getsockopt readback).
uint64_t KernelRecSeq(int fd, int direction, const Session& session) {
  Bytes info = session.Linux();
  socklen_t len = static_cast<socklen_t>(info.size());
  if (getsockopt(fd, SOL_TLS, direction, info.data(), &len) != 0) return ~uint64_t{0};
  return LoadBe64(info.data() + info.size() - 8);
}

// A msghdr for the one buffer `iov`, with `control` for the cmsgs.
struct msghdr OneBufferMsg(struct iovec& iov, void* control, size_t control_len) {
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = control_len;
  return msg;
}

// Reads what the kernel's TLS_RX decrypted until `total` bytes arrived.
std::string KernelReceive(int fd, size_t total, Stream& got) {
  Bytes buffer(65536);
  while (TotalBytes(got) < total) {
    struct iovec iov = {buffer.data(), buffer.size()};
    alignas(struct cmsghdr) unsigned char control[CMSG_SPACE(1)] = {};
    struct msghdr msg = OneBufferMsg(iov, control, sizeof(control));
    const ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0) return ErrnoText("kernel recvmsg");
    if (n == 0) return "kernel recvmsg: end of stream after " + std::to_string(TotalBytes(got));
    uint8_t type = kData;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_TLS && c->cmsg_type == TLS_GET_RECORD_TYPE) type = *CMSG_DATA(c);
    }
    Append(got, type, buffer.data(), static_cast<size_t>(n));
  }
  return "";
}

// Reads records our engine opened until `total` bytes arrived.
std::string EngineReceive(int fd, size_t total, Stream& got) {
  Bytes buffer(65536);
  uint8_t type = kData;
  while (TotalBytes(got) < total) {
    struct iovec iov = {buffer.data(), buffer.size()};
    alignas(struct cmsghdr) unsigned char control[CMSG_SPACE(sizeof(struct tls_get_record))] = {};
    struct msghdr msg = OneBufferMsg(iov, control, sizeof(control));
    const ssize_t n = ktls_recvmsg(fd, &msg, 0);
    if (n < 0) return ErrnoText("ktls_recvmsg");
    if (n == 0 && msg.msg_controllen == 0) {
      return "ktls_recvmsg: end of stream after " + std::to_string(TotalBytes(got));
    }
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_TCP && c->cmsg_type == TLS_GET_RECORD) {
        struct tls_get_record record;
        std::memcpy(&record, CMSG_DATA(c), sizeof(record));
        type = record.tls_type;
      }
    }
    Append(got, type, buffer.data(), static_cast<size_t>(n));
  }
  return "";
}

// Sends one run through the FreeBSD API: data with ktls_write, other types as a
// TLS_SET_RECORD_TYPE sendmsg. Whole runs only (blocking socket).
std::string EngineSend(int fd, uint8_t type, const Bytes& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n;
    if (type == kData) {
      n = ktls_write(fd, data.data() + done, data.size() - done);
    } else {
      struct iovec iov = {const_cast<uint8_t*>(data.data()), data.size()};
      alignas(struct cmsghdr) unsigned char control[CMSG_SPACE(1)] = {};
      struct msghdr msg = OneBufferMsg(iov, control, sizeof(control));
      struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = IPPROTO_TCP;
      c->cmsg_type = TLS_SET_RECORD_TYPE;
      c->cmsg_len = CMSG_LEN(1);
      *CMSG_DATA(c) = type;
      n = ktls_sendmsg(fd, &msg, 0);
      if (n >= 0 && static_cast<size_t>(n) != data.size()) return "control record split";
    }
    if (n < 0) return ErrnoText(type == kData ? "ktls_write" : "ktls_sendmsg");
    done += static_cast<size_t>(n);
  }
  return "";
}

// ktls_sendfile of `data` from a memory file, all of it.
std::string EngineSendFile(int fd, const Bytes& data) {
  const int file = memfd_create("ktls-vm", 0);
  if (file < 0) return ErrnoText("memfd_create");
  std::string error;
  if (write(file, data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
    error = ErrnoText("memfd write");
  }
  off_t offset = 0;
  while (error.empty() && static_cast<size_t>(offset) < data.size()) {
    const ssize_t n = ktls_sendfile(fd, file, &offset, data.size() - static_cast<size_t>(offset));
    if (n <= 0) error = n < 0 ? ErrnoText("ktls_sendfile") : "ktls_sendfile sent nothing";
  }
  close(file);
  return error;
}

// The kernel's TLS_TX: data with send, other types with a SOL_TLS cmsg.
std::string KernelSend(int fd, uint8_t type, const Bytes& data) {
  size_t done = 0;
  while (done < data.size()) {
    struct iovec iov = {const_cast<uint8_t*>(data.data() + done), data.size() - done};
    alignas(struct cmsghdr) unsigned char control[CMSG_SPACE(1)] = {};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (type != kData) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_TLS;
      c->cmsg_type = TLS_SET_RECORD_TYPE;
      c->cmsg_len = CMSG_LEN(1);
      *CMSG_DATA(c) = type;
    }
    const ssize_t n = sendmsg(fd, &msg, 0);
    if (n < 0) return ErrnoText("kernel sendmsg");
    done += static_cast<size_t>(n);
  }
  return "";
}

// Sends every run of `runs` with `send` (EngineSend or KernelSend); the first error.
std::string SendRuns(int fd, const Stream& runs,
                     std::string (*send)(int fd, uint8_t type, const Bytes& data)) {
  for (const auto& run : runs) {
    if (std::string e = send(fd, run.first, run.second); !e.empty()) return e;
  }
  return "";
}

// TCP_TXTLS_MODE=IFNET: the kernel takes over sealing.
std::string SwitchToIfnet(int fd) {
  const int ifnet = TCP_TLS_MODE_IFNET;
  if (ktls_setsockopt(fd, IPPROTO_TCP, TCP_TXTLS_MODE, &ifnet, sizeof(ifnet)) != 0) {
    return ErrnoText("TCP_TXTLS_MODE=IFNET");
  }
  return "";
}

int TxMode(int fd) {
  int mode = -1;
  socklen_t len = sizeof(mode);
  if (ktls_getsockopt(fd, IPPROTO_TCP, TCP_TXTLS_MODE, &mode, &len) != 0) return -1;
  return mode;
}

uint64_t Counter(const char* name) {
  uint64_t value = 0;
  size_t len = sizeof(value);
  if (ktls_sysctlbyname(name, &value, &len, nullptr, 0) != 0) return ~uint64_t{0};
  return value;
}

void SetPermitted(uint32_t value) {
  ktls_sysctlbyname("kern.ipc.tls.ifnet.permitted", nullptr, nullptr, &value, sizeof(value));
}

// The script every transmit case sends: the three sizes, an alert, then a short tail.
Stream Script() {
  Stream script;
  for (size_t size : kSizes) script.emplace_back(kData, RandomBytes(size));
  script.emplace_back(kAlert, Bytes{2, 0});  // close_notify
  script.emplace_back(kData, RandomBytes(7));
  return script;
}

Stream Merged(const Stream& runs) {
  Stream merged;
  for (const auto& run : runs) Append(merged, run.first, run.second.data(), run.second.size());
  return merged;
}

// Records of at most 16384 bytes each, as the engine cuts a write.
uint64_t RecordsFor(const Stream& runs) {
  uint64_t records = 0;
  for (const auto& run : runs) records += (run.second.size() + 16383) / 16384;
  return records;
}

const char* ModeCounterName(const Suite& suite) {
  return suite.freebsd_cipher == CRYPTO_CHACHA20_POLY1305 ? "kern.ipc.tls.ifnet.chacha20"
                                                          : "kern.ipc.tls.ifnet.gcm";
}

// Runs `send` on its own thread. A sender that fails half-closes `fd`, so the receiver
// sees the end of the stream at once instead of waiting for its timeout.
template <typename Send>
std::thread StartSender(int fd, std::string& error, Send send) {
  return std::thread([fd, &error, send] {
    error = send();
    if (!error.empty()) ktls_shutdown(fd, SHUT_WR);
  });
}

// Both sides' errors: either one may be the cause of the other.
std::string Failure(const std::string& send_error, const std::string& receive_error) {
  if (send_error.empty() || receive_error.empty()) return send_error + receive_error;
  return "send: " + send_error + "; receive: " + receive_error;
}

// Reads `want` with `receive` (KernelReceive or EngineReceive) on `receiver`, one of the
// pair's ends, then joins the sender: either side's failure, else how the stream read
// differs from `want`.
std::string ReceiveAndCompare(Pair& pair, int& receiver,
                              std::string (*receive)(int fd, size_t total, Stream& got),
                              const Stream& want, std::thread& sender,
                              const std::string& send_error) {
  Stream got;
  const std::string receive_error = receive(receiver, TotalBytes(want), got);
  pair.ResetIf(receive_error, receiver);
  sender.join();
  if (std::string e = Failure(send_error, receive_error); !e.empty()) return e;
  return Compare(want, got);
}

// (a) Records sealed by our engine, opened by the kernel.
std::string OursToKernel(const Suite& suite, bool tls13) {
  const Session session = Session::Make(suite, tls13);
  Pair pair(0);
  if (std::string e = InstallBoth(pair, TLS_RX, session); !e.empty()) return e;
  if (TxMode(pair.a) != TCP_TLS_MODE_SW) return "mode is not SW after enable";
  const Stream script = Script();
  const Bytes file = RandomBytes(50000);
  std::string send_error;
  std::thread sender = StartSender(pair.a, send_error, [&]() -> std::string {
    if (std::string e = SendRuns(pair.a, script, EngineSend); !e.empty()) return e;
    return EngineSendFile(pair.a, file);
  });
  Stream want = Merged(script);
  Append(want, kData, file.data(), file.size());
  return ReceiveAndCompare(pair, pair.b, KernelReceive, want, sender, send_error);
}

// (b) Records sealed by the kernel, opened by our engine.
std::string KernelToOurs(const Suite& suite, bool tls13) {
  const Session session = Session::Make(suite, tls13);
  Pair pair(0);
  if (std::string e = InstallBoth(pair, TLS_TX, session); !e.empty()) return e;
  const Stream script = Script();
  std::string send_error;
  std::thread sender = StartSender(
      pair.b, send_error, [&]() -> std::string { return SendRuns(pair.b, script, KernelSend); });
  return ReceiveAndCompare(pair, pair.a, EngineReceive, Merged(script), sender, send_error);
}

// (c) SW records, the switch to IFNET while records are still queued, kernel records.
std::string IfnetSwitch(const Suite& suite, bool tls13) {
  const Session session = Session::Make(suite, tls13);
  Pair pair(4096);
  if (std::string e = InstallBoth(pair, TLS_RX, session); !e.empty()) return e;
  const uint64_t switches = Counter("kern.ipc.tls.stats.switch_to_ifnet");
  const uint64_t failures = Counter("kern.ipc.tls.stats.switch_failed");
  const uint64_t active = Counter(ModeCounterName(suite));
  const Stream before = Script();
  const Stream after = Script();
  const Bytes file = RandomBytes(50000);
  std::string send_error;
  std::thread sender = StartSender(pair.a, send_error, [&]() -> std::string {
    if (std::string e = SendRuns(pair.a, before, EngineSend); !e.empty()) return e;
    // The receiver is still asleep: sealed records are queued, and the switch must
    // put every one of them ahead of the kernel's first.
    if (std::string e = SwitchToIfnet(pair.a); !e.empty()) return e;
    if (TxMode(pair.a) != TCP_TLS_MODE_IFNET) {
      return "mode is not IFNET after the switch";
    }
    const uint64_t expected = session.rec_seq + RecordsFor(before);
    if (const uint64_t next = KernelRecSeq(pair.a, TLS_TX, session); next != expected) {
      return "kernel TX starts at sequence +" + std::to_string(next - session.rec_seq) +
             ", want +" + std::to_string(expected - session.rec_seq);
    }
    for (size_t i = 0; i < after.size(); ++i) {
      if (i == 2) {
        // The kernel cannot give the session back: refused, and nothing changes.
        const int sw = TCP_TLS_MODE_SW;
        if (ktls_setsockopt(pair.a, IPPROTO_TCP, TCP_TXTLS_MODE, &sw, sizeof(sw)) == 0 ||
            errno != EOPNOTSUPP || TxMode(pair.a) != TCP_TLS_MODE_IFNET) {
          return "IFNET -> SW was not refused with EOPNOTSUPP";
        }
      }
      if (std::string e = EngineSend(pair.a, after[i].first, after[i].second); !e.empty()) {
        return e;
      }
    }
    return EngineSendFile(pair.a, file);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Stream want = Merged(before);
  for (const auto& run : after) Append(want, run.first, run.second.data(), run.second.size());
  Append(want, kData, file.data(), file.size());
  if (std::string e = ReceiveAndCompare(pair, pair.b, KernelReceive, want, sender, send_error);
      !e.empty()) {
    return e;
  }
  if (KernelRecSeq(pair.b, TLS_RX, session) != KernelRecSeq(pair.a, TLS_TX, session)) {
    return "receiver and sender sequence numbers differ at the end";
  }
  if (Counter("kern.ipc.tls.stats.switch_to_ifnet") != switches + 1) {
    return "stats.switch_to_ifnet did not count the switch";
  }
  if (Counter("kern.ipc.tls.stats.switch_failed") != failures + 1) {
    return "stats.switch_failed did not count the refused IFNET -> SW";
  }
  if (Counter(ModeCounterName(suite)) != active + 1) {
    return std::string(ModeCounterName(suite)) + " does not count the session";
  }
  return "";
}

// (d) With kern.ipc.tls.ifnet.permitted the session starts in IFNET mode.
std::string IfnetAtEnable(const Suite& suite, bool tls13) {
  const Session session = Session::Make(suite, tls13);
  Pair pair(0);
  if (!pair.error.empty()) return pair.error;
  if (std::string e = KernelInstall(pair.b, TLS_RX, session); !e.empty()) return e;
  SetPermitted(1);
  const std::string enable_error = EngineInstall(pair.a, TCP_TXTLS_ENABLE, session);
  SetPermitted(0);
  if (!enable_error.empty()) return enable_error;
  if (TxMode(pair.a) != TCP_TLS_MODE_IFNET) return "permitted session did not start in IFNET";
  const Stream script = Script();
  std::string send_error;
  std::thread sender = StartSender(
      pair.a, send_error, [&]() -> std::string { return SendRuns(pair.a, script, EngineSend); });
  return ReceiveAndCompare(pair, pair.b, KernelReceive, Merged(script), sender, send_error);
}

bool HasExplicitNonce(const Suite& suite, bool tls13) {
  return !tls13 && suite.freebsd_cipher == CRYPTO_AES_NIST_GCM_16;
}

// (e) TLS 1.2 AES-GCM carries its nonce in each record: across the switch the explicit
// nonces must go on counting by one, none used twice. A plain receiver reads the
// records without opening them.
std::string IfnetNonces(const Suite& suite, bool tls13) {
  const Session session = Session::Make(suite, tls13);
  Pair pair(0);
  if (!pair.error.empty()) return pair.error;
  if (std::string e = EngineInstall(pair.a, TCP_TXTLS_ENABLE, session); !e.empty()) return e;
  std::string send_error;
  std::thread sender = StartSender(pair.a, send_error, [&]() -> std::string {
    for (size_t size : kSizes) {
      if (std::string e = EngineSend(pair.a, kData, RandomBytes(size)); !e.empty()) return e;
    }
    if (std::string e = SwitchToIfnet(pair.a); !e.empty()) return e;
    for (size_t size : kSizes) {
      if (std::string e = EngineSend(pair.a, kData, RandomBytes(size)); !e.empty()) return e;
    }
    return ktls_shutdown(pair.a, SHUT_WR) == 0 ? "" : ErrnoText("ktls_shutdown");
  });
  Bytes wire;
  std::string receive_error;
  for (;;) {
    uint8_t buffer[65536];
    const ssize_t n = recv(pair.b, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      if (n < 0) receive_error = ErrnoText("recv");
      break;
    }
    wire.insert(wire.end(), buffer, buffer + n);
  }
  pair.ResetIf(receive_error, pair.b);
  sender.join();
  if (std::string e = Failure(send_error, receive_error); !e.empty()) return e;
  std::vector<uint64_t> nonces;
  for (size_t at = 0; at < wire.size();) {
    if (wire.size() - at < 13) return "a record is cut short";
    const size_t length = static_cast<size_t>(wire[at + 3]) << 8 | wire[at + 4];
    nonces.push_back(LoadBe64(&wire[at + 5]));
    at += 5 + length;
  }
  uint64_t records = 0;
  for (size_t size : kSizes) records += 2 * ((size + 16383) / 16384);
  if (nonces.size() != records) {
    return std::to_string(nonces.size()) + " records, want " + std::to_string(records);
  }
  for (size_t i = 1; i < nonces.size(); ++i) {
    if (nonces[i] != nonces[0] + i) {
      return "record " + std::to_string(i) + " has explicit nonce first+" +
             std::to_string(nonces[i] - nonces[0]);
    }
  }
  return "";
}

// A case that hangs still ends the run with a verdict: the watchdog prints it.
char g_watchdog_message[256];
size_t g_watchdog_len = 0;
constexpr unsigned kCaseSeconds = 60;

void OnWatchdog(int) {
  if (write(STDOUT_FILENO, g_watchdog_message, g_watchdog_len) < 0) _exit(2);
  _exit(1);
}

// The initramfs leaves loopback down.
void BringUpLoopback() {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP) == 0) {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    ioctl(fd, SIOCSIFFLAGS, &ifr);
  }
  close(fd);
}

}  // namespace

int main() {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  BringUpLoopback();
  int passed = 0;
  int failed = 0;
  {
    Pair probe(0);
    if (!probe.error.empty() || setsockopt(probe.b, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) != 0) {
      std::printf("FAIL kernel TLS ULP unavailable: %s\n",
                  probe.error.empty() ? std::strerror(errno) : probe.error.c_str());
      std::printf("KTLS-VM: 0 passed, 1 failed\n");
      return 1;
    }
  }
  using Case = std::string (*)(const Suite&, bool);
  const std::pair<const char*, Case> kCases[] = {
      {"ours->kernel", OursToKernel}, {"kernel->ours", KernelToOurs},
      {"ifnet-switch", IfnetSwitch},  {"ifnet-enable", IfnetAtEnable},
      {"ifnet-nonces", IfnetNonces},
  };
  signal(SIGALRM, OnWatchdog);
  const auto start = std::chrono::steady_clock::now();
  for (bool tls13 : {false, true}) {
    for (const Suite& suite : kSuites) {
      for (const auto& [name, run] : kCases) {
        if (run == IfnetNonces && !HasExplicitNonce(suite, tls13)) continue;
        const std::string label =
            std::string("tls1.") + (tls13 ? "3 " : "2 ") + suite.name + " " + name;
        const int len =
            std::snprintf(g_watchdog_message, sizeof(g_watchdog_message),
                          "FAIL %s: no result within %u s\nKTLS-VM: %d passed, %d failed\n",
                          label.c_str(), kCaseSeconds, passed, failed + 1);
        g_watchdog_len = std::min(sizeof(g_watchdog_message) - 1, static_cast<size_t>(len));
        alarm(kCaseSeconds);
        const std::string error = run(suite, tls13);
        alarm(0);
        std::printf("%s %s%s%s\n", error.empty() ? "PASS" : "FAIL", label.c_str(),
                    error.empty() ? "" : ": ", error.c_str());
        (error.empty() ? passed : failed)++;
      }
    }
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::printf("cases took %lld ms\n", static_cast<long long>(ms.count()));
  std::printf("KTLS-VM: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
