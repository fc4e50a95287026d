// Blocking, non-blocking and readiness semantics of offloaded sockets through the C API
// (include/ktls/freebsd.h) on real loopback TCP: EAGAIN only when nothing was accepted,
// partial writes, SO_SNDTIMEO, ktls_poll (never POLLIN on a partial record; POLLOUT),
// edge-triggered epoll, close and shutdown with ciphertext still queued, and the flusher
// finishing what a writer left behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
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
#include "socket/socket_table.h"
#include "socket/socket_test_util.h"
#include "testlib/tcp_pair.h"
#include "testlib/tls_enable_builder.h"

namespace ktls::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kSocketTimeoutMs = 10000;
constexpr auto kDeadline = 60s;

// A TcpPair whose descriptors are closed through ktls_close (so the socket table
// forgets them) unless the test already did.
struct ApiPair {
  ApiPair() {
    SetSocketTimeouts(pair.client, kSocketTimeoutMs, kSocketTimeoutMs);
    SetSocketTimeouts(pair.server, kSocketTimeoutMs, kSocketTimeoutMs);
  }
  ~ApiPair() {
    if (pair.client >= 0) ktls_close(pair.client);
    if (pair.server >= 0) ktls_close(pair.server);
    pair.Release(pair.client);
    pair.Release(pair.server);
  }
  int CloseClient() {
    const int fd = pair.client;
    pair.Release(fd);
    return ktls_close(fd);
  }
  TcpPair pair;
};

int EnableTx(int fd, const TlsEnableBuilder& session) {
  return ktls_setsockopt(fd, IPPROTO_TCP, TCP_TXTLS_ENABLE, &session.get(),
                         sizeof(struct tls_enable));
}

int EnableRx(int fd, const TlsEnableBuilder& session) {
  return ktls_setsockopt(fd, IPPROTO_TCP, TCP_RXTLS_ENABLE, &session.get(),
                         sizeof(struct tls_enable));
}

std::shared_ptr<socket::KtlsSocket> Socket(int fd) {
  return socket::SocketTable::Get().Find(fd);
}

std::string SuiteName(const ::testing::TestParamInfo<FreeBsdSuite>& info) {
  return info.param.name;
}

// Suites with receive offload, one per record format.
std::vector<FreeBsdSuite> RxFormats() {
  std::vector<FreeBsdSuite> out;
  for (const FreeBsdSuite& suite : AllValidSuites()) {
    if (suite.name == "aes128_gcm_1_2" || suite.name == "aes256_gcm_1_3" ||
        suite.name == "chacha20_poly1305_1_2" || suite.name == "aes128_cbc_1_1_sha1" ||
        suite.name == "aes256_cbc_1_2_sha384") {
      out.push_back(suite);
    }
  }
  return out;
}

// The sending side of a stream: deterministic bytes, hashed as they are accepted.
class StreamWriter {
 public:
  StreamWriter(int fd, uint64_t seed) : fd_(fd), bytes_(seed), sizes_(seed ^ 0xabcdef) {}

  // One ktls_write of 1..max_write bytes (the unaccepted tail is offered again next).
  // Returns what ktls_write returned; errno is preserved.
  ssize_t WriteOnce(size_t max_write) {
    if (pending_.empty()) {
      pending_.resize(sizes_.Uniform(1, max_write));
      bytes_.Fill(pending_.data(), pending_.size());
    }
    const ssize_t n = ktls_write(fd_, pending_.data(), pending_.size());
    const int saved = errno;
    if (n > 0) {
      hash_.Update(pending_.data(), static_cast<size_t>(n));
      accepted_ += static_cast<uint64_t>(n);
      if (static_cast<size_t>(n) < pending_.size()) ++partial_writes_;
      pending_.erase(pending_.begin(), pending_.begin() + n);
    }
    errno = saved;
    return n;
  }

  uint64_t accepted() const { return accepted_; }
  uint64_t partial_writes() const { return partial_writes_; }
  std::string Finish() { return hash_.Finish(); }

 private:
  int fd_;
  ByteStream bytes_;
  ByteStream sizes_;
  std::vector<uint8_t> pending_;
  Sha256 hash_;
  uint64_t accepted_ = 0;
  uint64_t partial_writes_ = 0;
};

struct WriteLog {
  uint64_t calls = 0;
  uint64_t eagains = 0;
  std::string failure;
};

// Non-blocking writes until the kernel and our queue are full and stay full: EAGAIN
// twice in a row, 20 ms apart. Every EAGAIN must have consumed no sequence number.
WriteLog WriteUntilStuck(StreamWriter& writer, int fd, size_t max_write) {
  WriteLog log;
  int stuck = 0;
  const auto deadline = Clock::now() + 20s;
  while (stuck < 2 && log.failure.empty()) {
    if (Clock::now() > deadline) {
      log.failure = "the socket never filled up";
      break;
    }
    const uint64_t sequence = Socket(fd)->tx_sequence();
    const ssize_t n = writer.WriteOnce(max_write);
    ++log.calls;
    if (n > 0) {
      stuck = 0;
      if (Socket(fd)->tx_sequence() == sequence) log.failure = "bytes accepted, no record sealed";
      continue;
    }
    if (n == 0 || errno != EAGAIN) {
      log.failure = "ktls_write: " + std::string(n == 0 ? "0" : std::strerror(errno));
      break;
    }
    ++log.eagains;
    if (Socket(fd)->tx_sequence() != sequence) log.failure = "EAGAIN after sealing a record";
    ++stuck;
    std::this_thread::sleep_for(20ms);
  }
  return log;
}

struct ReadLog {
  uint64_t bytes = 0;
  std::string sha;
  bool eof = false;
  std::string failure;
};

// ktls_read (RX offload) until EOF, or until `limit` bytes when limit != 0.
ReadLog ReadKtlsStream(int fd, Clock::time_point deadline, uint64_t limit = 0) {
  ReadLog log;
  Sha256 hash;
  std::vector<uint8_t> buffer(64 * 1024);
  while (limit == 0 || log.bytes < limit) {
    if (Clock::now() > deadline) {
      log.failure = "deadline passed";
      break;
    }
    const ssize_t n = ktls_read(fd, buffer.data(), buffer.size());
    if (n == 0) {
      log.eof = true;
      break;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      log.failure = "ktls_read: " + std::string(std::strerror(errno));
      break;
    }
    hash.Update(buffer.data(), static_cast<size_t>(n));
    log.bytes += static_cast<uint64_t>(n);
  }
  log.sha = hash.Finish();
  return log;
}

// A ktls_read stream that ended cleanly at EOF with exactly `bytes` bytes hashing to `sha`.
void ExpectReadToEof(const ReadLog& read, uint64_t bytes, const std::string& sha) {
  ASSERT_EQ(read.failure, "");
  EXPECT_TRUE(read.eof);
  EXPECT_EQ(read.bytes, bytes);
  EXPECT_EQ(read.sha, sha);
}

// Small (64 KiB) socket buffers on both ends, so a peer that does not read soon stops
// the writer.
void ShrinkBuffers(const ApiPair& api) {
  SetSmallBuffers(api.pair.client, 64 * 1024);
  SetSmallBuffers(api.pair.server, 64 * 1024);
}

// TX offload on the client, RX offload on the server.
void EnableClientToServer(const ApiPair& api, const TlsEnableBuilder& session) {
  ASSERT_EQ(EnableTx(api.pair.client, session), 0);
  ASSERT_EQ(EnableRx(api.pair.server, session), 0);
}

// Small buffers on both ends, then offload from the client to the server.
void EnableSmallBufferedClientToServer(const ApiPair& api, const TlsEnableBuilder& session) {
  ShrinkBuffers(api);
  ASSERT_NO_FATAL_FAILURE(EnableClientToServer(api, session));
}

class NonBlockingTest : public ::testing::TestWithParam<FreeBsdSuite> {};

// Write until EAGAIN with a peer that does not read (EAGAIN only when nothing was
// accepted, partial writes otherwise), then let the peer read and finish the stream
// with ktls_poll-driven writes: every byte arrives intact.
TEST_P(NonBlockingTest, PartialWritesAndEagainThenEverythingArrives) {
  ApiPair api;
  const int client = api.pair.client;
  const int server = api.pair.server;
  TlsEnableBuilder session(GetParam());
  ASSERT_NO_FATAL_FAILURE(EnableSmallBufferedClientToServer(api, session));
  SetNonBlocking(client, true);

  StreamWriter writer(client, 11);
  const WriteLog phase1 = WriteUntilStuck(writer, client, 256 * 1024);
  ASSERT_EQ(phase1.failure, "");
  EXPECT_GE(phase1.eagains, 2u);
  EXPECT_GT(writer.partial_writes(), 0u) << "no partial write before EAGAIN";

  ReadLog read;
  std::thread reader([&] { read = ReadKtlsStream(server, Clock::now() + kDeadline); });
  constexpr uint64_t kTotal = 8 * 1024 * 1024;
  std::string failure;
  const auto deadline = Clock::now() + kDeadline;
  while (writer.accepted() < kTotal && failure.empty()) {
    if (Clock::now() > deadline) failure = "deadline passed";
    const uint64_t sequence = Socket(client)->tx_sequence();
    const ssize_t n = writer.WriteOnce(std::min<uint64_t>(256 * 1024, kTotal - writer.accepted()));
    if (n > 0) continue;
    if (n == 0 || errno != EAGAIN) {
      failure = "ktls_write: " + std::string(std::strerror(errno));
      break;
    }
    if (Socket(client)->tx_sequence() != sequence) failure = "EAGAIN after sealing a record";
    struct pollfd pfd = {client, POLLOUT, 0};
    if (ktls_poll(&pfd, 1, kSocketTimeoutMs) != 1) failure = "ktls_poll(POLLOUT) timed out";
  }
  const std::string sent_sha = writer.Finish();
  EXPECT_EQ(api.CloseClient(), 0);
  reader.join();
  ASSERT_EQ(failure, "");
  ASSERT_NO_FATAL_FAILURE(ExpectReadToEof(read, writer.accepted(), sent_sha));
}

INSTANTIATE_TEST_SUITE_P(Formats, NonBlockingTest, ::testing::ValuesIn(RxFormats()), SuiteName);

FreeBsdSuite Gcm12() {
  return AesGcm12Suites()[0];
}

// A blocking writer with SO_SNDTIMEO and a peer that stopped reading: each write comes
// back after about the timeout with the bytes it got in, or EAGAIN when it got none in.
TEST(BlockingTest, SendTimeoutReturnsAcceptedCountOrEagain) {
  ApiPair api;
  const int client = api.pair.client;
  const int server = api.pair.server;
  TlsEnableBuilder session(Gcm12());
  ASSERT_NO_FATAL_FAILURE(EnableSmallBufferedClientToServer(api, session));
  SetSocketTimeouts(client, 0, 300);

  StreamWriter writer(client, 12);
  bool saw_eagain = false;
  for (int call = 0; call < 40 && !saw_eagain; ++call) {
    const uint64_t sequence = Socket(client)->tx_sequence();
    const auto start = Clock::now();
    const ssize_t n = writer.WriteOnce(4 * 1024 * 1024);
    const auto elapsed = Clock::now() - start;
    EXPECT_LT(elapsed, 3s) << "call " << call;
    if (n < 0) {
      ASSERT_EQ(errno, EAGAIN) << std::strerror(errno);
      EXPECT_GE(elapsed, 250ms) << "EAGAIN before SO_SNDTIMEO";
      EXPECT_EQ(Socket(client)->tx_sequence(), sequence) << "EAGAIN after sealing a record";
      saw_eagain = true;
    } else {
      ASSERT_GT(n, 0);
    }
  }
  EXPECT_TRUE(saw_eagain);
  EXPECT_GT(writer.partial_writes(), 0u);

  const std::string sent_sha = writer.Finish();
  EXPECT_EQ(api.CloseClient(), 0);
  const ReadLog read = ReadKtlsStream(server, Clock::now() + kDeadline);
  ASSERT_NO_FATAL_FAILURE(ExpectReadToEof(read, writer.accepted(), sent_sha));
}

class PollTest : public ::testing::TestWithParam<FreeBsdSuite> {};

// One ktls_poll of `fd` for `events`; what it returned, and the revents if asked for.
int PollFor(int fd, short events, int timeout_ms, short* revents) {
  struct pollfd pfd = {fd, events, 0};
  const int n = ktls_poll(&pfd, 1, timeout_ms);
  if (revents != nullptr) *revents = pfd.revents;
  return n;
}

int PollIn(int fd, int timeout_ms, short* revents = nullptr) {
  return PollFor(fd, POLLIN, timeout_ms, revents);
}

int PollOut(int fd, int timeout_ms, short* revents = nullptr) {
  return PollFor(fd, POLLOUT, timeout_ms, revents);
}

// ktls_poll never reports POLLIN while only part of a record has arrived.
TEST_P(PollTest, NoPollinOnPartialRecord) {
  ApiPair api;
  const int client = api.pair.client;
  const int server = api.pair.server;
  TlsEnableBuilder session(GetParam());
  ASSERT_EQ(EnableRx(server, session), 0);
  ByteStream bytes(13);
  const std::vector<uint8_t> payload = bytes.Take(1000);
  ReferenceSealOptions options;
  options.explicit_nonce = bytes.Next64();
  bytes.Fill(options.cbc_iv.data(), options.cbc_iv.size());
  const std::vector<uint8_t> record =
      ReferenceSeal(session.reference(), session.sequence(), TLS_RLTYPE_APP, payload, options);
  const std::vector<uint8_t> second =
      ReferenceSeal(session.reference(), session.sequence() + 1, TLS_RLTYPE_APP, payload, options);

  EXPECT_EQ(PollIn(server, 100), 0) << "readable with nothing sent";
  ASSERT_TRUE(WriteAll(client, record.data(), 3));  // part of the header
  EXPECT_EQ(PollIn(server, 200), 0) << "POLLIN on a partial header";
  const size_t half = record.size() / 2;
  ASSERT_TRUE(WriteAll(client, record.data() + 3, half - 3));  // header and half the body
  EXPECT_EQ(PollIn(server, 200), 0) << "POLLIN on half a record";
  uint8_t buffer[2048];
  EXPECT_EQ(ktls_recv(server, buffer, sizeof(buffer), MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);
  ASSERT_TRUE(WriteAll(client, record.data() + half, record.size() - 1 - half));
  EXPECT_EQ(PollIn(server, 200), 0) << "POLLIN one byte short of a record";

  // The last byte of the first record, and half of a second one.
  ASSERT_TRUE(WriteAll(client, record.data() + record.size() - 1, 1));
  ASSERT_TRUE(WriteAll(client, second.data(), second.size() / 2));
  short revents = 0;
  ASSERT_EQ(PollIn(server, 5000, &revents), 1);
  EXPECT_NE(revents & POLLIN, 0);
  alignas(struct cmsghdr) uint8_t control[CMSG_SPACE(sizeof(struct tls_get_record))];
  struct iovec iov = {buffer, sizeof(buffer)};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ASSERT_EQ(ktls_recvmsg(server, &msg, 0), 1000);
  EXPECT_NE(msg.msg_flags & MSG_EOR, 0);
  EXPECT_EQ(std::vector<uint8_t>(buffer, buffer + 1000), payload);
  EXPECT_EQ(PollIn(server, 200), 0) << "POLLIN on the partial second record";

  ASSERT_TRUE(
      WriteAll(client, second.data() + second.size() / 2, second.size() - second.size() / 2));
  ASSERT_EQ(PollIn(server, 5000, &revents), 1);
  ASSERT_EQ(ktls_recv(server, buffer, sizeof(buffer), 0), 1000);
  EXPECT_EQ(PollIn(server, 100), 0);
  // EOF is readable.
  shutdown(client, SHUT_WR);
  ASSERT_EQ(PollIn(server, 5000, &revents), 1);
  EXPECT_EQ(ktls_recv(server, buffer, sizeof(buffer), 0), 0);
}

INSTANTIATE_TEST_SUITE_P(Formats, PollTest, ::testing::ValuesIn(RxFormats()), SuiteName);

// POLLOUT: reported while the socket can take bytes, not while it cannot, and again
// once the peer drains it.
TEST(PollOutTest, WritableFullThenWritableAgain) {
  ApiPair api;
  const int client = api.pair.client;
  const int server = api.pair.server;
  TlsEnableBuilder session(Gcm12());
  ASSERT_NO_FATAL_FAILURE(EnableSmallBufferedClientToServer(api, session));
  SetNonBlocking(client, true);
  short revents = 0;
  ASSERT_EQ(PollOut(client, 0, &revents), 1);
  EXPECT_NE(revents & POLLOUT, 0);

  StreamWriter writer(client, 14);
  ASSERT_EQ(WriteUntilStuck(writer, client, 128 * 1024).failure, "");
  // TCP may still open its window a little after the writer stopped; every POLLOUT
  // must then be honest (a write takes bytes), and the socket must settle at "not
  // writable" while the peer does not read.
  bool settled = false;
  int dishonest = 0;
  for (int i = 0; i < 50 && !settled; ++i) {
    if (PollOut(client, 300) == 0) {
      settled = true;
      break;
    }
    if (writer.WriteOnce(128 * 1024) <= 0) ++dishonest;
  }
  EXPECT_TRUE(settled) << "POLLOUT while nothing can be written";
  EXPECT_LE(dishonest, 2) << "POLLOUT reported, then the write took nothing";
  EXPECT_TRUE(Socket(client)->has_pending_tx());

  ReadLog read;
  std::thread reader([&] { read = ReadKtlsStream(server, Clock::now() + kDeadline); });
  ASSERT_EQ(PollOut(client, kSocketTimeoutMs, &revents), 1);
  EXPECT_NE(revents & POLLOUT, 0);
  EXPECT_GT(writer.WriteOnce(1000), 0) << "POLLOUT but the write failed";
  const std::string sent_sha = writer.Finish();
  EXPECT_EQ(api.CloseClient(), 0);
  reader.join();
  ASSERT_EQ(read.failure, "");
  EXPECT_EQ(read.bytes, writer.accepted());
  EXPECT_EQ(read.sha, sent_sha);
}

// After the peer resets, a poller is woken (not left hanging) and writes fail.
TEST(PollOutTest, PeerResetWakesPollerAndWritesFail) {
  ApiPair api;
  const int client = api.pair.client;
  TlsEnableBuilder session(Gcm12());
  ASSERT_EQ(EnableTx(client, session), 0);
  SetNonBlocking(client, true);
  StreamWriter writer(client, 15);
  ASSERT_EQ(WriteUntilStuck(writer, client, 128 * 1024).failure, "");
  struct linger linger = {1, 0};
  setsockopt(api.pair.server, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
  close(api.pair.server);
  api.pair.Release(api.pair.server);
  short revents = 0;
  ASSERT_EQ(PollOut(client, 5000, &revents), 1);
  EXPECT_NE(revents & (POLLOUT | POLLERR | POLLHUP), 0);
  uint8_t byte = 0;
  ssize_t n = 0;
  for (int i = 0; i < 100 && (n = ktls_send(client, &byte, 1, MSG_NOSIGNAL)) > 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(n, -1);
  EXPECT_TRUE(errno == ECONNRESET || errno == EPIPE) << std::strerror(errno);
  EXPECT_EQ(ktls_send(client, &byte, 1, MSG_NOSIGNAL), -1);
  EXPECT_EQ(errno, EPIPE);
}

// The edge-triggered epoll pattern: on each edge, ktls_read until EAGAIN. It must never
// wait for an edge while decrypted data is waiting.
TEST(EpollTest, EdgeTriggeredReadUntilEagain) {
  ApiPair api;
  const int client = api.pair.client;
  const int server = api.pair.server;
  TlsEnableBuilder session(AesGcmSuites()[3]);
  ASSERT_NO_FATAL_FAILURE(EnableClientToServer(api, session));
  SetNonBlocking(server, true);
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(epfd, 0);
  struct epoll_event event = {};
  event.events = EPOLLIN | EPOLLET | EPOLLRDHUP;
  event.data.fd = server;
  ASSERT_EQ(epoll_ctl(epfd, EPOLL_CTL_ADD, server, &event), 0);

  constexpr uint64_t kTotal = 8 * 1024 * 1024;
  std::string sent_sha;
  uint64_t sent = 0;
  std::thread writer_thread([&] {
    StreamWriter writer(client, 16);
    while (writer.accepted() < kTotal) {
      if (writer.WriteOnce(std::min<uint64_t>(200 * 1024, kTotal - writer.accepted())) <= 0) break;
    }
    sent = writer.accepted();
    sent_sha = writer.Finish();
    ktls_close(client);
  });
  api.pair.Release(client);

  Sha256 hash;
  uint64_t received = 0;
  bool eof = false;
  std::string failure;
  std::vector<uint8_t> buffer(48 * 1024);
  const auto deadline = Clock::now() + kDeadline;
  while (!eof && failure.empty()) {
    struct epoll_event ready[4];
    const int n = epoll_wait(epfd, ready, 4, 5000);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      failure = "no edge for 5 s after " + std::to_string(received) + " bytes";
      break;
    }
    if (Clock::now() > deadline) failure = "deadline passed";
    for (;;) {
      const ssize_t got = ktls_read(server, buffer.data(), buffer.size());
      if (got > 0) {
        hash.Update(buffer.data(), static_cast<size_t>(got));
        received += static_cast<uint64_t>(got);
        continue;
      }
      if (got == 0) eof = true;
      if (got < 0 && errno != EAGAIN) failure = std::string("ktls_read: ") + std::strerror(errno);
      break;
    }
  }
  writer_thread.join();
  close(epfd);
  ASSERT_EQ(failure, "");
  EXPECT_EQ(received, sent);
  EXPECT_EQ(received, kTotal);
  EXPECT_EQ(hash.Finish(), sent_sha);
}

struct StreamCheck {
  uint64_t payload_bytes = 0;
  std::string payload_sha;
  uint64_t records = 0;
  uint64_t next_sequence = 0;
  bool ended = false;
  std::string failure;
};

// Reads the raw record stream on `fd` with the reference until EOF (or `limit` bytes).
StreamCheck ReadReference(int fd, const TlsEnableBuilder& session, uint64_t limit = 0) {
  StreamCheck check;
  ReferenceStreamReader reader(fd, session);
  Sha256 hash;
  const auto deadline = Clock::now() + kDeadline;
  while (limit == 0 || check.payload_bytes < limit) {
    ReferenceOpened record;
    const auto status = reader.Next(&record, deadline);
    if (status == ReferenceStreamReader::Status::kEnd) {
      check.ended = true;
      break;
    }
    if (status == ReferenceStreamReader::Status::kError) {
      check.failure = reader.error();
      break;
    }
    hash.Update(record.payload);
    check.payload_bytes += record.payload.size();
  }
  check.payload_sha = hash.Finish();
  check.records = reader.records();
  check.next_sequence = reader.next_sequence();
  return check;
}

// The record stream ended cleanly after exactly `bytes` payload bytes hashing to `sha`,
// its last record numbered `sequence` - 1.
void ExpectStreamToEnd(const StreamCheck& check, uint64_t bytes, const std::string& sha,
                       uint64_t sequence) {
  ASSERT_EQ(check.failure, "");
  EXPECT_TRUE(check.ended);
  EXPECT_EQ(check.payload_bytes, bytes);
  EXPECT_EQ(check.payload_sha, sha);
  EXPECT_EQ(check.next_sequence, sequence);
}

// Shrinks the buffers, enables TX on the client and writes it non-blocking until
// ciphertext is stuck in the queue (the peer does not read).
void FillClientQueue(const ApiPair& api, const TlsEnableBuilder& session, StreamWriter& writer) {
  ShrinkBuffers(api);
  ASSERT_EQ(EnableTx(api.pair.client, session), 0);
  SetNonBlocking(api.pair.client, true);
  ASSERT_EQ(WriteUntilStuck(writer, api.pair.client, 256 * 1024).failure, "");
}

// Each case starts with ciphertext queued on a non-blocking client whose peer does not read.
class PendingTest : public ::testing::TestWithParam<FreeBsdSuite> {
 protected:
  // Fills the client's queue from the stream seeded with `seed`, noting the next
  // sequence number and the hash of what was accepted.
  void FillQueue(uint64_t seed) {
    writer_.emplace(client_, seed);
    ASSERT_NO_FATAL_FAILURE(FillClientQueue(api_, session_, *writer_));
    sequence_ = Socket(client_)->tx_sequence();
    sent_sha_ = writer_->Finish();
  }

  ApiPair api_;
  const int client_ = api_.pair.client;
  TlsEnableBuilder session_{GetParam()};
  std::optional<StreamWriter> writer_;
  uint64_t sequence_ = 0;
  std::string sent_sha_;
};

// ktls_close right after a non-blocking write left ciphertext queued: the descriptor is
// free at once, and the peer still receives every record, then EOF.
TEST_P(PendingTest, CloseWithQueuedCiphertextDeliversEverythingThenEof) {
  ASSERT_NO_FATAL_FAILURE(FillQueue(17));
  ASSERT_TRUE(Socket(client_)->has_pending_tx());

  const auto start = Clock::now();
  EXPECT_EQ(api_.CloseClient(), 0);
  EXPECT_LT(Clock::now() - start, 1s) << "close waited for the peer";
  EXPECT_EQ(fcntl(client_, F_GETFD), -1) << "descriptor still open after ktls_close";

  const StreamCheck check = ReadReference(api_.pair.server, session_);
  ASSERT_NO_FATAL_FAILURE(ExpectStreamToEnd(check, writer_->accepted(), sent_sha_, sequence_));
}

// shutdown(SHUT_WR) with ciphertext queued: returns at once, later writes fail with
// EPIPE, the FIN follows the last record, and the other direction stays open.
TEST_P(PendingTest, ShutdownWriteWithQueuedCiphertextFinAfterLastRecord) {
  ASSERT_NO_FATAL_FAILURE(FillQueue(18));
  ASSERT_TRUE(Socket(client_)->has_pending_tx());

  const auto start = Clock::now();
  EXPECT_EQ(ktls_shutdown(client_, SHUT_WR), 0);
  EXPECT_LT(Clock::now() - start, 1s) << "non-blocking shutdown waited";
  uint8_t byte = 0;
  EXPECT_EQ(ktls_send(client_, &byte, 1, MSG_NOSIGNAL), -1) << "write accepted after SHUT_WR";
  EXPECT_EQ(errno, EPIPE);
  EXPECT_EQ(Socket(client_)->tx_sequence(), sequence_) << "record sealed after SHUT_WR";

  const StreamCheck check = ReadReference(api_.pair.server, session_);
  ASSERT_NO_FATAL_FAILURE(ExpectStreamToEnd(check, writer_->accepted(), sent_sha_, sequence_));
  // Half-close: the client still reads what the server sends.
  const char reply[] = "still open";
  ASSERT_TRUE(WriteAll(api_.pair.server, reinterpret_cast<const uint8_t*>(reply), sizeof(reply)));
  uint8_t got[sizeof(reply)];
  SetNonBlocking(client_, false);
  ASSERT_TRUE(ReadExactly(client_, got, sizeof(got)));
  EXPECT_EQ(std::memcmp(got, reply, sizeof(reply)), 0);
}

// The blocking form waits until the queue is on its way, then sends the FIN.
TEST_P(PendingTest, BlockingShutdownWriteWaitsForQueue) {
  ASSERT_NO_FATAL_FAILURE(FillQueue(19));
  SetNonBlocking(client_, false);

  StreamCheck check;
  std::thread reader([&] { check = ReadReference(api_.pair.server, session_); });
  EXPECT_EQ(ktls_shutdown(client_, SHUT_WR), 0);
  EXPECT_FALSE(Socket(client_)->has_pending_tx());
  reader.join();
  ASSERT_NO_FATAL_FAILURE(ExpectStreamToEnd(check, writer_->accepted(), sent_sha_, sequence_));
}

// The application stops calling ktls_ after a non-blocking write: the flusher delivers
// the queued records as the peer reads.
TEST_P(PendingTest, FlusherFinishesWhenTheWriterStops) {
  ASSERT_NO_FATAL_FAILURE(FillQueue(20));
  ASSERT_TRUE(Socket(client_)->has_pending_tx());

  const StreamCheck check = ReadReference(api_.pair.server, session_, writer_->accepted());
  ASSERT_EQ(check.failure, "");
  EXPECT_EQ(check.payload_bytes, writer_->accepted());
  EXPECT_EQ(check.payload_sha, sent_sha_);
  EXPECT_EQ(check.next_sequence, sequence_);
  EXPECT_FALSE(Socket(client_)->has_pending_tx());
}

INSTANTIATE_TEST_SUITE_P(AllSuites, PendingTest, ::testing::ValuesIn(AllValidSuites()), SuiteName);

// A record-type (TLS_SET_RECORD_TYPE) send is atomic on a non-blocking socket: EAGAIN
// with nothing sealed while it does not fit, then the whole record at once.
TEST(NonBlockingControlTest, RecordTypeSendIsAllOrNothing) {
  ApiPair api;
  const int client = api.pair.client;
  TlsEnableBuilder session(Gcm12());
  StreamWriter writer(client, 21);
  ASSERT_NO_FATAL_FAILURE(FillClientQueue(api, session, writer));
  const std::string sent_sha = writer.Finish();

  const std::vector<uint8_t> handshake = ByteStream(22).Take(200000);
  alignas(struct cmsghdr) uint8_t control[CMSG_SPACE(1)] = {};
  struct iovec iov = {const_cast<uint8_t*>(handshake.data()), handshake.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = IPPROTO_TCP;
  cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
  cmsg->cmsg_len = CMSG_LEN(1);
  *CMSG_DATA(cmsg) = TLS_RLTYPE_HANDSHAKE;
  const uint64_t sequence = Socket(client)->tx_sequence();
  ASSERT_EQ(ktls_sendmsg(client, &msg, MSG_NOSIGNAL), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(Socket(client)->tx_sequence(), sequence) << "part of an atomic send was sealed";

  // Let the peer drain the stream, then the control send goes through whole.
  std::vector<uint8_t> handshake_seen;
  uint64_t data_bytes = 0;
  Sha256 data_hash;
  std::string failure;
  std::thread reader([&] {
    ReferenceStreamReader stream(api.pair.server, session);
    const auto deadline = Clock::now() + kDeadline;
    while (handshake_seen.size() < handshake.size()) {
      ReferenceOpened record;
      if (stream.Next(&record, deadline) != ReferenceStreamReader::Status::kRecord) {
        failure = stream.error().empty() ? "early EOF" : stream.error();
        return;
      }
      if (record.type == TLS_RLTYPE_APP) {
        if (!handshake_seen.empty()) failure = "data record inside the control send";
        data_hash.Update(record.payload);
        data_bytes += record.payload.size();
      } else if (record.type == TLS_RLTYPE_HANDSHAKE) {
        handshake_seen.insert(handshake_seen.end(), record.payload.begin(), record.payload.end());
      } else {
        failure = "record of type " + std::to_string(record.type);
      }
    }
  });
  ssize_t n = -1;
  const auto deadline = Clock::now() + kDeadline;
  while ((n = ktls_sendmsg(client, &msg, MSG_NOSIGNAL)) < 0 && errno == EAGAIN &&
         Clock::now() < deadline) {
    EXPECT_EQ(Socket(client)->tx_sequence(), sequence) << "part of an atomic send was sealed";
    struct pollfd pfd = {client, POLLOUT, 0};
    ktls_poll(&pfd, 1, 1000);
  }
  EXPECT_EQ(n, static_cast<ssize_t>(handshake.size())) << std::strerror(errno);
  reader.join();
  ASSERT_EQ(failure, "");
  EXPECT_EQ(data_bytes, writer.accepted());
  EXPECT_EQ(data_hash.Finish(), sent_sha);
  EXPECT_EQ(handshake_seen, handshake);
}

// Non-blocking sendfile: a partial count (offset advanced by exactly that much) or
// EAGAIN with nothing sealed; resumed from the offset, the whole file arrives intact.
TEST(NonBlockingSendfileTest, PartialThenComplete) {
  ApiPair api;
  const int client = api.pair.client;
  TlsEnableBuilder session(AesCbcNonZeroSuites()[3]);
  ASSERT_NO_FATAL_FAILURE(EnableSmallBufferedClientToServer(api, session));
  SetNonBlocking(client, true);
  const std::vector<uint8_t> data = ByteStream(23).Take(6 * 1024 * 1024 + 777);
  char path[] = "/tmp/ktls-sendfile-XXXXXX";
  const int file = mkstemp(path);
  ASSERT_GE(file, 0);
  unlink(path);
  ASSERT_TRUE(WriteAll(file, data.data(), data.size()));

  off_t offset = 0;
  bool saw_partial = false;
  bool saw_eagain = false;
  while (!saw_eagain) {
    const off_t before = offset;
    const uint64_t sequence = Socket(client)->tx_sequence();
    const ssize_t n =
        ktls_sendfile(client, file, &offset, data.size() - static_cast<size_t>(offset));
    if (n < 0) {
      ASSERT_EQ(errno, EAGAIN) << std::strerror(errno);
      EXPECT_EQ(offset, before) << "offset moved on EAGAIN";
      EXPECT_EQ(Socket(client)->tx_sequence(), sequence) << "EAGAIN after sealing a record";
      saw_eagain = true;
    } else {
      ASSERT_GT(n, 0);
      EXPECT_EQ(offset, before + n);
      if (static_cast<size_t>(offset) < data.size()) saw_partial = true;
      ASSERT_LT(static_cast<size_t>(offset), data.size()) << "6 MiB fit without the peer reading";
    }
  }
  EXPECT_TRUE(saw_partial);
  ReadLog read;
  std::thread reader([&] { read = ReadKtlsStream(api.pair.server, Clock::now() + kDeadline); });
  const auto deadline = Clock::now() + kDeadline;
  while (static_cast<size_t>(offset) < data.size() && Clock::now() < deadline) {
    const ssize_t n =
        ktls_sendfile(client, file, &offset, data.size() - static_cast<size_t>(offset));
    if (n < 0 && errno != EAGAIN) break;
    struct pollfd pfd = {client, POLLOUT, 0};
    if (n < 0) ktls_poll(&pfd, 1, 1000);
  }
  EXPECT_EQ(static_cast<size_t>(offset), data.size());
  EXPECT_EQ(lseek(file, 0, SEEK_CUR), static_cast<off_t>(data.size())) << "file position moved";
  close(file);
  EXPECT_EQ(api.CloseClient(), 0);
  reader.join();
  ASSERT_NO_FATAL_FAILURE(ExpectReadToEof(read, data.size(), Sha256Hex(data)));
}

}  // namespace
}  // namespace ktls::testing
