// Helpers for the Linux kTLS ABI tests: the calls of tools/testing/selftests/net/tls.c
// routed through ktls::api::linux_abi (falling back to the real system call where the
// emulation answers kNotHandled, as the interposer does), crypto_info structs, loopback
// pairs, and raw records built and opened with the independent reference implementation.
//
// Every wrapper returns the system call's value or -errno (never -1 with errno).
#pragma once

#include <gtest/gtest.h>
#include <linux/tls.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "testlib/record_reference.h"

#ifndef TLS_TX_MAX_PAYLOAD_LEN
#define TLS_TX_MAX_PAYLOAD_LEN 5
#endif

namespace ktls::linux_abi_test {

// Longest a single blocking step may take (SO_RCVTIMEO/SO_SNDTIMEO on every socket).
inline constexpr int kTimeoutMs = 3000;
inline constexpr size_t kMaxPayload = 16384;
inline constexpr uint8_t kHandshake = 22;
inline constexpr uint8_t kAppData = 23;
// The selftest's control record type: the kernel does not validate it.
inline constexpr uint8_t kControlType = 100;
// A TLS 1.3 KeyUpdate handshake message (update_not_requested).
inline constexpr uint8_t kKeyUpdate[] = {0x18, 0x00, 0x00, 0x01, 0x00};

// One (version, cipher) pair our engine runs.
struct Variant {
  const char* name;
  uint16_t version;
  uint16_t cipher;
  bool tls13() const { return version == TLS_1_3_VERSION; }
};
std::vector<Variant> AllVariants();
std::vector<Variant> AesGcmVariants();  // 1.2 and 1.3 AES-GCM-128 (tls_err, zero_len)
std::string VariantName(const ::testing::TestParamInfo<Variant>& info);
void PrintTo(const Variant& variant, std::ostream* os);

// A tls12_crypto_info_<cipher> as raw bytes: header, iv, key, salt, rec_seq.
class CryptoInfo {
 public:
  // Every byte after the header is `fill` (the selftest's "key generation").
  CryptoInfo(uint16_t version, uint16_t cipher, uint8_t fill = 0);

  const uint8_t* data() const { return bytes_.data(); }
  uint8_t* data() { return bytes_.data(); }
  socklen_t size() const { return static_cast<socklen_t>(bytes_.size()); }
  uint16_t version() const { return version_; }
  uint16_t cipher() const { return cipher_; }
  bool tls13() const { return version_ == TLS_1_3_VERSION; }
  // TLS 1.2 AES-GCM: `iv` is the explicit nonce sent on the wire.
  bool has_explicit_nonce() const;

  std::span<uint8_t> iv() { return Field(4, iv_len_); }
  std::span<uint8_t> key() { return Field(4 + iv_len_, key_len_); }
  std::span<uint8_t> salt() { return Field(4 + iv_len_ + key_len_, salt_len_); }
  std::span<uint8_t> rec_seq() { return Field(4 + iv_len_ + key_len_ + salt_len_, 8); }
  uint64_t RecSeq() const;
  void SetRecSeq(uint64_t seq);
  // The first 8 bytes of `iv` as a big-endian number.
  uint64_t IvNumber() const;
  void SetIvNumber(uint64_t value);

  // The same keys for the reference implementation.
  testing::ReferenceParams Reference() const;
  // A record with sequence number `seq` as a kernel with these keys would send it
  // (TLS 1.2 GCM: explicit nonce = iv + records since rec_seq).
  std::vector<uint8_t> Seal(uint64_t seq, uint8_t type, ConstBytes payload) const;
  testing::ReferenceOpened Open(uint64_t seq, ConstBytes record) const;

 private:
  std::span<uint8_t> Field(size_t offset, size_t len) {
    return std::span<uint8_t>(bytes_.data() + offset, len);
  }

  uint16_t version_;
  uint16_t cipher_;
  size_t iv_len_;
  size_t key_len_;
  size_t salt_len_;
  std::vector<uint8_t> bytes_;
};

// A connected loopback TCP pair (IPv4 or IPv6) with timeouts on both ends, closed
// with ktls_close so no emulated state outlives the test.
class SocketPair {
 public:
  explicit SocketPair(int family = AF_INET);
  ~SocketPair();
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;

  int fd = -1;   // the connecting side (the selftest's "fd", the sender)
  int cfd = -1;  // the accepted side ("cfd", the receiver)
};

void SetTimeouts(int fd, int recv_ms, int send_ms);

// --- The ABI, -errno style. ---
int SetOpt(int fd, int level, int name, const void* value, socklen_t len);
int GetOpt(int fd, int level, int name, void* value, socklen_t* len);
int AttachUlp(int fd);
int SetTx(int fd, const CryptoInfo& info);
int SetRx(int fd, const CryptoInfo& info);
ssize_t SendMsg(int fd, const struct msghdr* msg, int flags);
ssize_t Send(int fd, const void* buf, size_t len, int flags = 0);
ssize_t SendText(int fd, std::string_view text, int flags = 0);
// sendmsg with a SOL_TLS TLS_SET_RECORD_TYPE cmsg.
ssize_t SendRecord(int fd, uint8_t type, const void* buf, size_t len, int flags = 0);
ssize_t RecvMsg(int fd, struct msghdr* msg, int flags);
ssize_t Recv(int fd, void* buf, size_t len, int flags = 0);
// recvmsg with room for one TLS_GET_RECORD_TYPE cmsg; `type` gets the record type or
// -1 when no cmsg came back.
ssize_t RecvRecord(int fd, int* type, void* buf, size_t len, int flags = 0);
ssize_t SendFile(int out_fd, int in_fd, off_t* offset, size_t count);
// ktls_poll on one descriptor; returns poll's value (or -errno) and the revents.
int Poll(int fd, short events, int timeout_ms, short* revents = nullptr);
int Shutdown(int fd, int how);

// Plain (kernel) I/O on a socket without keys: raw record reads and writes.
bool WriteRaw(int fd, ConstBytes bytes);
std::vector<uint8_t> ReadRawRecord(int fd);
// Waits until the kernel holds `bytes` unread bytes on `fd` (FIONREAD), so a later
// non-blocking read sees everything that was written.
bool WaitForQueued(int fd, size_t bytes);

// Deterministic test bytes.
std::vector<uint8_t> Pattern(size_t len, uint32_t seed = 1);
std::string ToString(ConstBytes bytes);

// A temporary file with `content`, unlinked at once; returns its descriptor.
int TempFileWith(ConstBytes content);

}  // namespace ktls::linux_abi_test
