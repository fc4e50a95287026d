// The socket layer on a hostile kernel: KtlsSocket objects built directly on a FaultyOs
// (short sendmsg, EAGAIN, EINTR, short recv, EINTR on recv, short pread, on-demand
// resets) over real loopback TCP. Checked from the outside: every byte arrives exactly
// once and in order (SHA-256), records are whole with consecutive sequence numbers (the
// peer opens the raw stream with the independent reference), errors surface with the
// right errno, and nothing of the plaintext ever reaches the wire.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ktls/freebsd.h"
#include "socket/ktls_socket.h"
#include "socket/socket_test_util.h"
#include "testlib/faulty_os.h"
#include "testlib/tcp_pair.h"
#include "testlib/tls_enable_builder.h"

namespace ktls::testing {
namespace {

using namespace std::chrono_literals;
using socket::KtlsSocket;

constexpr size_t kStreamBytes = 3 * 1024 * 1024;
constexpr auto kStreamDeadline = 60s;
constexpr int kSocketTimeoutMs = 10000;
constexpr char kMarker[] = "KTLS-PLAINTEXT-MARKER:do-not-put-me-on-the-wire";

ConstBytes MarkerBytes() {
  return {reinterpret_cast<const uint8_t*>(kMarker), sizeof(kMarker) - 1};
}

// KTLS_FAULT_SEED overrides the base seed so a failure can be replayed.
uint64_t BaseSeed() {
  static const uint64_t seed = [] {
    const char* env = getenv("KTLS_FAULT_SEED");
    return env != nullptr ? std::strtoull(env, nullptr, 0) : 0x6b746c73ULL;
  }();
  return seed;
}

uint64_t SeedFor(const std::string& name) {
  uint64_t seed = BaseSeed();
  for (char c : name) seed = seed * 131 + static_cast<unsigned char>(c);
  return seed;
}

// Random bytes with the plaintext marker planted every 4 KiB.
std::vector<uint8_t> MakeData(uint64_t seed, size_t len) {
  std::vector<uint8_t> data = ByteStream(seed).Take(len);
  const ConstBytes marker = MarkerBytes();
  for (size_t at = 0; at + marker.size() <= len; at += 4096) {
    std::memcpy(data.data() + at, marker.data(), marker.size());
  }
  return data;
}

std::shared_ptr<KtlsSocket> TxSocket(int fd, socket::Os& os, const TlsEnableBuilder& session) {
  auto socket = std::make_shared<KtlsSocket>(fd, os);
  if (socket->EnableTx(&session.get(), sizeof(struct tls_enable)) != 0) return nullptr;
  return socket;
}

std::shared_ptr<KtlsSocket> RxSocket(int fd, socket::Os& os, const TlsEnableBuilder& session) {
  auto socket = std::make_shared<KtlsSocket>(fd, os);
  if (socket->EnableRx(&session.get(), sizeof(struct tls_enable)) != 0) return nullptr;
  return socket;
}

ssize_t SendBytes(KtlsSocket& socket, ConstBytes bytes, int flags = MSG_NOSIGNAL) {
  return socket.Send(std::span<const ConstBytes>(&bytes, 1), std::nullopt, flags);
}

struct WriterResult {
  size_t accepted = 0;
  int error = 0;  // errno of a failed send (0: none)
  int close_result = 0;
};

// Sends `data` in random-size blocking writes (1..max_write), then closes the socket
// (queued records are then finished by the flusher).
WriterResult WriteAllThenClose(KtlsSocket& socket, ConstBytes data, uint64_t seed,
                               size_t max_write) {
  WriterResult result;
  ByteStream sizes(seed);
  while (result.accepted < data.size()) {
    const size_t want =
        std::min<size_t>(sizes.Uniform(1, max_write), data.size() - result.accepted);
    const ssize_t n = SendBytes(socket, data.subspan(result.accepted, want));
    if (n <= 0) {
      result.error = n < 0 ? static_cast<int>(-n) : EIO;
      break;
    }
    result.accepted += static_cast<size_t>(n);
  }
  result.close_result = socket.Close();
  return result;
}

struct ReaderResult {
  std::string error;
  std::string payload_sha;
  uint64_t payload_bytes = 0;
  uint64_t records = 0;
  uint64_t next_sequence = 0;
  std::string wire_sha;
  uint64_t wire_bytes = 0;
  bool ended = false;
};

// Opens every record on raw `fd` with the reference until EOF.
ReaderResult ReadReferenceStream(int fd, const TlsEnableBuilder& session,
                                 std::chrono::steady_clock::time_point deadline) {
  ReaderResult result;
  ReferenceStreamReader reader(fd, session);
  Sha256 payload;
  for (;;) {
    ReferenceOpened record;
    const auto status = reader.Next(&record, deadline);
    if (status == ReferenceStreamReader::Status::kEnd) {
      result.ended = true;
      break;
    }
    if (status == ReferenceStreamReader::Status::kError) {
      result.error = reader.error();
      break;
    }
    if (record.type != TLS_RLTYPE_APP) {
      result.error = "record of type " + std::to_string(record.type);
      break;
    }
    payload.Update(record.payload);
    result.payload_bytes += record.payload.size();
  }
  result.payload_sha = payload.Finish();
  result.records = reader.records();
  result.next_sequence = reader.next_sequence();
  result.wire_bytes = reader.wire_bytes();
  result.wire_sha = reader.FinishWireHash();
  return result;
}

// A TcpPair whose client has our TX on a hostile FaultyOs that captures what it sends;
// the peer reads the raw stream.
struct HostileTxPair {
  HostileTxPair(const FreeBsdSuite& suite, uint64_t seed)
      : os(LeakedFaultyOs(HostilePlan(seed))), session(suite) {
    SetSocketTimeouts(pair.client, kSocketTimeoutMs, kSocketTimeoutMs);
    os.set_capture(true);
    client = TxSocket(pair.client, os, session);
  }

  // Opens the peer's raw stream with the reference until EOF (shutting the peer down to
  // unblock the writer if it ends early), then joins the writer.
  ReaderResult ReadStreamThenJoin(std::thread& writer) {
    const ReaderResult read =
        ReadReferenceStream(pair.server, session, DeadlineIn(kStreamDeadline));
    if (!read.ended) shutdown(pair.server, SHUT_RDWR);
    writer.join();
    pair.Release(pair.client);
    return read;
  }

  TcpPair pair;
  FaultyOs& os;
  TlsEnableBuilder session;
  std::shared_ptr<KtlsSocket> client;
};

class FaultSuiteTest : public ::testing::TestWithParam<FreeBsdSuite> {};

std::string SuiteName(const ::testing::TestParamInfo<FreeBsdSuite>& info) {
  return info.param.name;
}

std::vector<FreeBsdSuite> RxSuites() {
  std::vector<FreeBsdSuite> suites = AesCbcNonZeroSuites();
  for (const FreeBsdSuite& suite : AesGcmSuites()) suites.push_back(suite);
  for (const FreeBsdSuite& suite : ChaChaSuites()) suites.push_back(suite);
  return suites;
}

// TX on a FaultyOs; the peer reads the raw stream and opens it with the reference.
TEST_P(FaultSuiteTest, TransmitUnderFaultsIsWholeOrderedAndExactlyOnce) {
  const FreeBsdSuite& suite = GetParam();
  const uint64_t seed = SeedFor("tx-" + suite.name);
  SCOPED_TRACE("KTLS_FAULT_SEED base " + std::to_string(BaseSeed()));
  HostileTxPair tx(suite, seed);
  ASSERT_NE(tx.client, nullptr);
  const std::vector<uint8_t> data = MakeData(seed, kStreamBytes);

  WriterResult written;
  std::thread writer([&] { written = WriteAllThenClose(*tx.client, data, seed + 1, 256 * 1024); });
  const ReaderResult read = tx.ReadStreamThenJoin(writer);

  ASSERT_EQ(read.error, "") << tx.os.counts().ToString();
  EXPECT_TRUE(read.ended);
  EXPECT_EQ(written.error, 0);
  EXPECT_EQ(written.close_result, 0);
  EXPECT_EQ(written.accepted, data.size());
  EXPECT_EQ(read.payload_bytes, data.size());
  EXPECT_EQ(read.payload_sha, Sha256Hex(data));
  // Sequence numbers: one per record, consecutive from rec_seq, none skipped.
  EXPECT_EQ(read.next_sequence, tx.client->tx_sequence());
  EXPECT_EQ(read.records, tx.client->tx_sequence() - tx.session.sequence());
  // What sendmsg handed the kernel is exactly what the peer read: no byte twice.
  const std::vector<uint8_t> wire = tx.os.TakeCapture();
  EXPECT_EQ(wire.size(), read.wire_bytes);
  EXPECT_EQ(Sha256Hex(wire), read.wire_sha);
  EXPECT_FALSE(Contains(wire, MarkerBytes())) << "plaintext marker on the wire";
  // The faults really happened.
  EXPECT_GT(tx.os.counts().short_sends.load(), 0u);
  EXPECT_GT(tx.os.counts().send_eagains.load(), 0u);
  EXPECT_GT(tx.os.counts().send_eintrs.load(), 0u);
}

INSTANTIATE_TEST_SUITE_P(AllSuites, FaultSuiteTest, ::testing::ValuesIn(AllValidSuites()),
                         SuiteName);

class FaultRxSuiteTest : public ::testing::TestWithParam<FreeBsdSuite> {};

// TX on one FaultyOs, RX on another: our receive path under short reads and EINTR,
// reading with random buffer sizes so records are also taken in pieces.
TEST_P(FaultRxSuiteTest, TransmitAndReceiveUnderFaults) {
  const FreeBsdSuite& suite = GetParam();
  const uint64_t seed = SeedFor("rx-" + suite.name);
  SCOPED_TRACE("KTLS_FAULT_SEED base " + std::to_string(BaseSeed()));
  TcpPair pair;
  SetSocketTimeouts(pair.client, kSocketTimeoutMs, kSocketTimeoutMs);
  SetSocketTimeouts(pair.server, kSocketTimeoutMs, kSocketTimeoutMs);
  FaultyOs& tx_os = LeakedFaultyOs(HostilePlan(seed));
  FaultyOs& rx_os = LeakedFaultyOs(HostilePlan(seed ^ 0x5555));
  tx_os.set_capture(true);
  TlsEnableBuilder session(suite);
  std::shared_ptr<KtlsSocket> client = TxSocket(pair.client, tx_os, session);
  std::shared_ptr<KtlsSocket> server = RxSocket(pair.server, rx_os, session);
  ASSERT_NE(client, nullptr);
  ASSERT_NE(server, nullptr);
  const std::vector<uint8_t> data = MakeData(seed, kStreamBytes);

  WriterResult written;
  std::thread writer([&] { written = WriteAllThenClose(*client, data, seed + 1, 128 * 1024); });

  Sha256 received;
  uint64_t received_bytes = 0;
  uint64_t records = 0;
  std::string failure;
  ByteStream sizes(seed + 2);
  std::vector<uint8_t> buffer(32 * 1024);
  size_t record_left = 0;  // bytes of the current record not yet read
  const auto deadline = DeadlineIn(kStreamDeadline);
  while (failure.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      failure = "deadline passed";
      break;
    }
    struct iovec iov = {buffer.data(), sizes.Uniform(1, buffer.size())};
    alignas(struct cmsghdr) uint8_t control[CMSG_SPACE(sizeof(struct tls_get_record))];
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = server->Receive(&msg, 0);
    if (n == 0 && msg.msg_controllen == 0) break;  // EOF
    if (n < 0) {
      failure = "Receive: " + std::string(std::strerror(static_cast<int>(-n)));
      break;
    }
    if (msg.msg_controllen > 0) {
      if (record_left != 0) failure = "record info in the middle of a record";
      const auto* cmsg = CMSG_FIRSTHDR(&msg);
      struct tls_get_record info;
      std::memcpy(&info, CMSG_DATA(cmsg), sizeof(info));
      if (cmsg->cmsg_level != IPPROTO_TCP || cmsg->cmsg_type != TLS_GET_RECORD ||
          info.tls_type != TLS_RLTYPE_APP || info.tls_vmajor != TLS_MAJOR_VER_ONE) {
        failure = "bad TLS_GET_RECORD";
      }
      record_left = ntohs(info.tls_length);
      ++records;
    } else if (record_left == 0) {
      failure = "record data without record info";
    }
    if (static_cast<size_t>(n) > record_left) failure = "read crossed a record boundary";
    record_left -= std::min(record_left, static_cast<size_t>(n));
    if (((msg.msg_flags & MSG_EOR) != 0) != (record_left == 0)) failure = "MSG_EOR mismatch";
    received.Update(buffer.data(), static_cast<size_t>(n));
    received_bytes += static_cast<uint64_t>(n);
  }
  if (!failure.empty()) shutdown(pair.server, SHUT_RDWR);
  writer.join();
  pair.Release(pair.client);
  EXPECT_EQ(server->Close(), 0);
  pair.Release(pair.server);

  ASSERT_EQ(failure, "") << "tx " << tx_os.counts().ToString() << "\nrx "
                         << rx_os.counts().ToString();
  EXPECT_EQ(written.error, 0);
  EXPECT_EQ(written.accepted, data.size());
  EXPECT_EQ(received_bytes, data.size());
  EXPECT_EQ(received.Finish(), Sha256Hex(data));
  EXPECT_EQ(server->rx_sequence(), client->tx_sequence());
  EXPECT_EQ(records, client->tx_sequence() - session.sequence());
  EXPECT_FALSE(Contains(tx_os.TakeCapture(), MarkerBytes())) << "plaintext marker on the wire";
  EXPECT_GT(rx_os.counts().short_recvs.load(), 0u);
  EXPECT_GT(rx_os.counts().recv_eintrs.load(), 0u);
}

INSTANTIATE_TEST_SUITE_P(RxSuites, FaultRxSuiteTest, ::testing::ValuesIn(RxSuites()), SuiteName);

// A temp file holding `data`, removed on destruction.
class TempFile {
 public:
  explicit TempFile(ConstBytes data) {
    char path[] = "/tmp/ktls-socket-test-XXXXXX";
    fd_ = mkstemp(path);
    if (fd_ >= 0) {
      unlink(path);
      size_t done = 0;
      while (done < data.size()) {
        const ssize_t n = write(fd_, data.data() + done, data.size() - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
      }
    }
  }
  ~TempFile() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

class FaultSendfileTest : public ::testing::TestWithParam<FreeBsdSuite> {};

// sendfile under short/interrupted preads and a hostile kernel socket.
TEST_P(FaultSendfileTest, SendfileUnderFaults) {
  const FreeBsdSuite& suite = GetParam();
  const uint64_t seed = SeedFor("sendfile-" + suite.name);
  SCOPED_TRACE("KTLS_FAULT_SEED base " + std::to_string(BaseSeed()));
  HostileTxPair tx(suite, seed);
  ASSERT_NE(tx.client, nullptr);
  const std::vector<uint8_t> data = MakeData(seed, 2 * 1024 * 1024 + 12345);
  TempFile file(data);
  ASSERT_GE(file.fd(), 0);

  std::string writer_error;
  std::thread writer([&] {
    ByteStream sizes(seed + 1);
    off_t offset = 0;
    while (static_cast<size_t>(offset) < data.size() && writer_error.empty()) {
      const size_t want = sizes.Uniform(1, 300 * 1024);
      const off_t before = offset;
      const ssize_t n = tx.client->SendFile(file.fd(), &offset, want);
      if (n <= 0) {
        writer_error = "SendFile returned " + std::to_string(n);
      } else if (offset != before + n) {
        writer_error = "offset not advanced by the count";
      } else if (static_cast<size_t>(n) !=
                 std::min(want, data.size() - static_cast<size_t>(before))) {
        writer_error = "short sendfile on a blocking socket";
      }
    }
    if (lseek(file.fd(), 0, SEEK_CUR) != static_cast<off_t>(data.size())) {
      // The file position is untouched by the offset form (it stayed where write left it).
      writer_error += " file position moved";
    }
    tx.client->Close();
  });
  const ReaderResult read = tx.ReadStreamThenJoin(writer);

  ASSERT_EQ(read.error, "") << tx.os.counts().ToString();
  EXPECT_EQ(writer_error, "");
  EXPECT_EQ(read.payload_bytes, data.size());
  EXPECT_EQ(read.payload_sha, Sha256Hex(data));
  EXPECT_EQ(read.records, tx.client->tx_sequence() - tx.session.sequence());
  const std::vector<uint8_t> wire = tx.os.TakeCapture();
  EXPECT_EQ(Sha256Hex(wire), read.wire_sha);
  EXPECT_FALSE(Contains(wire, MarkerBytes())) << "plaintext marker on the wire";
  EXPECT_GT(tx.os.counts().short_preads.load(), 0u);
  EXPECT_GT(tx.os.counts().pread_eintrs.load(), 0u);
}

INSTANTIATE_TEST_SUITE_P(AllSuites, FaultSendfileTest, ::testing::ValuesIn(AllValidSuites()),
                         SuiteName);

FreeBsdSuite Gcm12() {
  return AesGcm12Suites()[0];
}

// Blocks SIGPIPE on this thread for the test and collects what was raised.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    Take();
  }
  ~ScopedSigpipeBlock() {
    Take();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  // True if a SIGPIPE was pending (and consumes it).
  bool Take() {
    struct timespec zero = {0, 0};
    return sigtimedwait(&set_, nullptr, &zero) == SIGPIPE;
  }

 private:
  sigset_t set_;
  sigset_t old_;
};

class SendResetTest : public ::testing::TestWithParam<int> {};

// A connection that breaks under the sender: the error is reported (ECONNRESET or
// EPIPE, as injected) and every later send fails with EPIPE; nothing more is sealed.
TEST_P(SendResetTest, SendAfterResetFailsWithTheErrno) {
  const int injected = GetParam();
  TcpPair pair;
  SetSocketTimeouts(pair.client, kSocketTimeoutMs, kSocketTimeoutMs);
  FaultyOs& os = LeakedFaultyOs(FaultPlan{});
  TlsEnableBuilder session(Gcm12());
  std::shared_ptr<KtlsSocket> client = TxSocket(pair.client, os, session);
  ASSERT_NE(client, nullptr);
  const std::vector<uint8_t> data = MakeData(1, 1000);
  ASSERT_EQ(SendBytes(*client, data), 1000);
  ReferenceStreamReader reader(pair.server, session);
  ReferenceOpened record;
  ASSERT_EQ(reader.Next(&record, DeadlineIn(5s)), ReferenceStreamReader::Status::kRecord);

  os.BreakSends(injected);
  ScopedSigpipeBlock sigpipe;
  // The send that meets the break may still report the bytes it sealed (the kernel
  // accepts into its buffer before a reset, too); the error comes at the latest next.
  ssize_t n = SendBytes(*client, ConstBytes(data).first(100));
  if (n == 100) n = SendBytes(*client, ConstBytes(data).first(100));
  EXPECT_EQ(n, -injected);
  const uint64_t sequence = client->tx_sequence();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(SendBytes(*client, ConstBytes(data).first(100)), -EPIPE) << "send " << i;
  }
  EXPECT_EQ(client->tx_sequence(), sequence) << "records sealed on a dead connection";
  EXPECT_FALSE(sigpipe.Take()) << "SIGPIPE despite MSG_NOSIGNAL";
  // Without MSG_NOSIGNAL the thread gets SIGPIPE, as from the kernel.
  EXPECT_EQ(SendBytes(*client, ConstBytes(data).first(100), 0), -EPIPE);
  EXPECT_TRUE(sigpipe.Take()) << "no SIGPIPE without MSG_NOSIGNAL";
  // A poller learns of it: the socket is "writable" so the error can be collected.
  EXPECT_NE(client->ReadyEvents(POLLOUT) & POLLOUT, 0);
  EXPECT_EQ(client->Close(), 0);
  pair.Release(pair.client);
}

std::string ErrnoName(const ::testing::TestParamInfo<int>& param) {
  return param.param == EPIPE ? "EPIPE" : "ECONNRESET";
}

INSTANTIATE_TEST_SUITE_P(Errnos, SendResetTest, ::testing::Values(ECONNRESET, EPIPE), ErrnoName);

// Sends `count` records of `size` bytes with our TX on `socket`.
void SendRecords(KtlsSocket& socket, int count, size_t size) {
  const std::vector<uint8_t> data = MakeData(7, size);
  for (int i = 0; i < count; ++i) ASSERT_EQ(SendBytes(socket, data), static_cast<ssize_t>(size));
}

ssize_t ReceiveInto(KtlsSocket& socket, std::vector<uint8_t>& buffer) {
  struct iovec iov = {buffer.data(), buffer.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  return socket.Receive(&msg, 0);
}

// A reset under the receiver: records that arrived before it are delivered, then the
// error once, then end of stream on every later read.
TEST(FaultResetTest, ReceiveResetIsReportedOnceThenEof) {
  TcpPair pair;
  SetSocketTimeouts(pair.server, kSocketTimeoutMs, kSocketTimeoutMs);
  FaultyOs& rx_os = LeakedFaultyOs(FaultPlan{});
  TlsEnableBuilder session(Gcm12());
  std::shared_ptr<KtlsSocket> client = TxSocket(pair.client, socket::RealOs(), session);
  std::shared_ptr<KtlsSocket> server = RxSocket(pair.server, rx_os, session);
  ASSERT_NE(client, nullptr);
  ASSERT_NE(server, nullptr);
  SendRecords(*client, 3, 100);
  // Wait until all three records are in the server's kernel buffer.
  const auto deadline = DeadlineIn(5s);
  int queued = 0;
  while (queued < 3 * 129 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
    uint8_t peek[1024];
    queued = static_cast<int>(recv(pair.server, peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT));
  }
  std::vector<uint8_t> buffer(1024);
  ASSERT_EQ(ReceiveInto(*server, buffer), 100);  // reads all three from the kernel
  rx_os.BreakRecvs(ECONNRESET);
  SendRecords(*client, 1, 100);
  EXPECT_EQ(ReceiveInto(*server, buffer), 100);
  EXPECT_EQ(ReceiveInto(*server, buffer), 100);
  EXPECT_EQ(ReceiveInto(*server, buffer), -ECONNRESET);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ReceiveInto(*server, buffer), 0) << "read " << i;
  EXPECT_NE(server->ReadyEvents(POLLIN) & POLLIN, 0) << "EOF must poll readable";
  EXPECT_EQ(client->Close(), 0);
  pair.Release(pair.client);
  EXPECT_EQ(server->Close(), 0);
  pair.Release(pair.server);
}

// Closes `fd` with SO_LINGER {1, 0}: the peer gets a reset.
void ResetClose(int fd) {
  struct linger linger = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
  close(fd);
}

// The same with a real reset from the kernel (no injection).
TEST(RealResetTest, SendAfterPeerResetFails) {
  TcpPair pair;
  SetSocketTimeouts(pair.client, kSocketTimeoutMs, kSocketTimeoutMs);
  TlsEnableBuilder session(Gcm12());
  std::shared_ptr<KtlsSocket> client = TxSocket(pair.client, socket::RealOs(), session);
  ASSERT_NE(client, nullptr);
  ResetClose(pair.server);
  pair.Release(pair.server);
  const std::vector<uint8_t> data = MakeData(3, 100);
  ssize_t n = 0;
  const auto deadline = DeadlineIn(5s);
  while ((n = SendBytes(*client, data)) > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(n == -ECONNRESET || n == -EPIPE) << n;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(SendBytes(*client, data), -EPIPE) << "send " << i;
  EXPECT_EQ(client->Close(), 0);
  pair.Release(pair.client);
}

TEST(RealResetTest, ReceiveDeliversRecordsThenResetThenEof) {
  TcpPair pair;
  SetSocketTimeouts(pair.client, kSocketTimeoutMs, kSocketTimeoutMs);
  TlsEnableBuilder session(Gcm12());
  std::shared_ptr<KtlsSocket> client = RxSocket(pair.client, socket::RealOs(), session);
  ASSERT_NE(client, nullptr);
  const ReferenceParams params = session.reference();
  const std::vector<uint8_t> payload = MakeData(5, 300);
  ReferenceSealOptions options;
  options.explicit_nonce = 42;
  const std::vector<uint8_t> record =
      ReferenceSeal(params, session.sequence(), TLS_RLTYPE_APP, payload, options);
  ASSERT_TRUE(WriteAll(pair.server, record.data(), record.size()));
  std::this_thread::sleep_for(50ms);
  ResetClose(pair.server);
  pair.Release(pair.server);
  std::this_thread::sleep_for(50ms);
  std::vector<uint8_t> buffer(1024);
  ssize_t n = ReceiveInto(*client, buffer);
  // Linux may drop unread data on a reset; when the record survived it comes first.
  if (n == 300) {
    EXPECT_EQ(std::vector<uint8_t>(buffer.begin(), buffer.begin() + 300), payload);
    n = ReceiveInto(*client, buffer);
  }
  EXPECT_EQ(n, -ECONNRESET);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ReceiveInto(*client, buffer), 0) << "read " << i;
  EXPECT_EQ(client->Close(), 0);
  pair.Release(pair.client);
}

}  // namespace
}  // namespace ktls::testing
