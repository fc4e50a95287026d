// Shared helpers of the ktls(4) conformance tests: FreeBSD's tests/sys/kern/ktls_test.c
// reproduced over real loopback TCP connections through the C API of ktls/freebsd.h.
// Records we produce are checked, and records we consume are built, with the
// independent reference implementation (testlib/record_reference.h), never src/record.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "ktls/freebsd.h"
#include "testlib/record_reference.h"
#include "testlib/tcp_pair.h"
#include "testlib/tls_enable_builder.h"

namespace ktls::conformance {

using testing::FreeBsdSuite;
using testing::ReferenceOpened;
using testing::ReferenceParams;
using testing::TlsEnableBuilder;

// How long any single blocking step of a test may take before it fails.
inline constexpr int kTimeoutMs = 5000;
// ktls_test.c's record type for control records (commented "Alert", really 0x21).
inline constexpr uint8_t kControlType = 0x21;
// The largest payload of a record (TLS_MAX_MSG_SIZE_V10_2).
inline constexpr size_t kMaxPayload = TLS_MAX_MSG_SIZE_V10_2;

// One generated test case: a suite, the case's name as ktls_test.c registers it (without
// the ktls_<group>_ prefix), and its sizes.
struct Case {
  FreeBsdSuite suite;
  std::string name;     // e.g. "aes128_gcm_1_3_short", "invalid_aes128_gcm_1_0"
  std::string variant;  // the case without the suite: "short", "bad_mac", ...
  size_t len = 0;       // payload bytes
  size_t padding = 0;   // CBC: extra padding (multiple of 16); TLS 1.3: zero padding
};
void PrintTo(const Case& c, std::ostream* os);
std::string CaseName(const ::testing::TestParamInfo<Case>& info);

// `suites` x one case each, named <suite>_<suffix> (or <prefix><suite> if suffix is empty).
std::vector<Case> CasesFor(const std::vector<FreeBsdSuite>& suites, const std::string& suffix,
                           size_t len = 0, size_t padding = 0, const std::string& prefix = "");
std::vector<Case> Concat(std::vector<std::vector<Case>> groups);

// A loopback TCP connection (client = connecting side, server = accepted side) whose
// descriptors are closed with ktls_close, so no offloaded state outlives the test.
// Both descriptors have SO_RCVTIMEO/SO_SNDTIMEO set: no ktls_ call can hang the suite.
struct Connection {
  Connection();
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  testing::TcpPair pair;
  int client() const { return pair.client; }
  int server() const { return pair.server; }
};

void SetTimeouts(int fd, int timeout_ms = kTimeoutMs);
// A new, unconnected IPv4 TCP socket with the timeouts of SetTimeouts.
int NewTcpSocket();

// ktls_setsockopt(TCP_TXTLS_ENABLE / TCP_RXTLS_ENABLE) with the whole struct.
int EnableTx(int fd, const struct tls_enable& en, socklen_t len = sizeof(struct tls_enable));
int EnableRx(int fd, const struct tls_enable& en, socklen_t len = sizeof(struct tls_enable));

// Passes when `rv` is -1 and errno is `expected` (checked right after the call).
::testing::AssertionResult FailsWith(long rv, int expected);
// Passes when `rv` is 0 (or, for byte counts, not -1), naming errno otherwise.
::testing::AssertionResult Succeeds(long rv);

std::vector<uint8_t> RandomBytes(size_t len);
testing::RefCbcIv RandomIv();

// The 5-byte header of a TLS record as FreeBSD's tls_record_layer.
std::vector<uint8_t> RecordHeader(uint8_t type, uint8_t major, uint8_t minor, uint16_t length);

// --- Transmit side -------------------------------------------------------------------

// Reads the records a transmit session produces and verifies each with the reference:
// header version and length, AEAD tag or CBC MAC and minimal padding, sequence numbers
// advancing by one, TLS 1.0 IV chaining, TLS 1.3 outer type 23 / version 3.3.
class TxVerifier {
 public:
  TxVerifier(const TlsEnableBuilder& builder, uint64_t first_sequence);

  struct Record {
    std::vector<uint8_t> raw;
    ReferenceOpened opened;
  };
  // Reads one raw record from `fd` and opens it as record `sequence()`. Returns nothing
  // (after recording a failure) on a read timeout or a record that does not verify.
  std::optional<Record> Next(int fd, uint8_t expected_type);
  // Reads records of type `type` until `len` payload bytes arrived, each at most
  // kMaxPayload; returns the concatenated payload.
  std::optional<std::vector<uint8_t>> ReadPayload(int fd, size_t len, uint8_t type,
                                                  std::vector<Record>* records = nullptr);
  uint64_t sequence() const { return sequence_; }

  // The wire length after the header of a record carrying `payload_len` bytes.
  size_t ExpectedBodyLen(size_t payload_len) const;
  // The minimal CBC padding (including the length byte) for `payload_len`.
  size_t MinimalCbcPadding(size_t payload_len) const;

 private:
  const TlsEnableBuilder& builder_;
  ReferenceParams params_;
  uint64_t sequence_;
  testing::RefCbcIv tls10_iv_;
};

// Nothing more is readable on `fd` right now (FIONREAD).
size_t BytesReadable(int fd);

// --- Receive side --------------------------------------------------------------------

// Builds records for a receive session the way ktls_test.c's encrypt_tls_record does
// (GCM 1.2 explicit nonce = the sequence number, random CBC explicit IVs).
class RxSealer {
 public:
  explicit RxSealer(const TlsEnableBuilder& builder);
  // The next record (sequence numbers advance by one per call).
  std::vector<uint8_t> Seal(uint8_t type, ConstBytes payload, size_t padding = 0);
  uint64_t sequence() const { return sequence_; }

 private:
  const TlsEnableBuilder& builder_;
  ReferenceParams params_;
  uint64_t sequence_;
};

// What one ktls_recvmsg call returned.
struct Received {
  long rv = 0;
  int error = 0;
  int flags = 0;
  bool has_record_info = false;
  struct tls_get_record info = {};
  int cmsg_level = 0;
  int cmsg_type = 0;
  size_t cmsg_len = 0;
  std::vector<uint8_t> data;
};
// ktls_recvmsg with a control buffer large enough for TLS_GET_RECORD.
Received ReceiveRecord(int fd, size_t buffer_len = kMaxPayload + 1, int flags = 0);

// ktls_test.c's ktls_receive_tls_record: recvmsg > 0 (or == 0 for an empty payload),
// MSG_EOR, no MSG_CTRUNC, one TLS_GET_RECORD cmsg at IPPROTO_TCP of the right length,
// the expected type, version 3.x (TLS 1.3: 3.3) and tls_length == htons(bytes), and
// the payload equal to `expected`.
void ExpectRecord(const TlsEnableBuilder& builder, int fd, uint8_t type, ConstBytes expected);

// ktls_test.c's ktls_receive_tls_error: ktls_recvmsg fails with `expected`.
void ExpectReceiveError(int fd, int expected);

// Writes `data` from a helper thread (plain write(2), bounded by SO_SNDTIMEO), so a
// reader can consume more than the socket buffers hold. Joins on destruction.
class BackgroundWriter {
 public:
  BackgroundWriter(int fd, std::vector<uint8_t> data);
  ~BackgroundWriter();
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;
  // Waits for the writer; true when every byte was written.
  bool Join();

 private:
  std::vector<uint8_t> data_;
  std::atomic<bool> ok_{false};
  std::thread thread_;
};

// --- Knobs and counters --------------------------------------------------------------

uint64_t ReadCounter(const char* name);

// Sets a kern.ipc.* knob through ktls_sysctlbyname and restores it on destruction.
class KnobGuard {
 public:
  KnobGuard(const char* name, int value);
  ~KnobGuard();
  KnobGuard(const KnobGuard&) = delete;
  KnobGuard& operator=(const KnobGuard&) = delete;
  bool ok() const { return ok_; }

 private:
  std::string name_;
  std::vector<uint8_t> old_;
  bool ok_ = false;
};

}  // namespace ktls::conformance
