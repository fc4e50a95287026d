// Linux's `zero_len` and `tls_err` fixtures (linux-ktls.md §3.7, §3.10, §4.2): raw
// records, built with the reference implementation or tampered with, written to a
// socket whose peer has RX keys. The selftest's zero_len vectors are AES-CCM, which we
// do not run; the same records are built here with AES-GCM.
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "control/knobs.h"
#include "linux_abi/linux_abi_test_util.h"

namespace ktls::linux_abi_test {
namespace {

constexpr std::string_view kHello = "Hello world";  // 11 bytes, as in the selftest

// A kernel socket raising SIGPIPE would end the binary; every test sees EPIPE instead.
class IgnoreSigpipe : public ::testing::Environment {
 public:
  void SetUp() override { signal(SIGPIPE, SIG_IGN); }
};
const ::testing::Environment* const kIgnoreSigpipe =
    ::testing::AddGlobalTestEnvironment(new IgnoreSigpipe);

// --- zero_len: one row of the table in §3.7. ---

struct ZeroLenRow {
  const char* name;
  std::vector<std::pair<uint8_t, size_t>> records;  // (type, payload length)
  std::vector<ssize_t> results;                     // DONTWAIT recvmsg results, in order
};

constexpr uint8_t kData = kAppData;
constexpr uint8_t kCtrl = kControlType;

std::vector<ZeroLenRow> ZeroLenRows() {
  return {
      {"data_data_data", {{kData, 11}, {kData, 11}, {kData, 11}}, {33, -EAGAIN}},
      {"data_0ctrl_data", {{kData, 11}, {kCtrl, 0}, {kData, 11}}, {11, 0, 11, -EAGAIN}},
      {"0data_0data_0data", {{kData, 0}, {kData, 0}, {kData, 0}}, {-EAGAIN}},
      {"0data_0data_ctrl", {{kData, 0}, {kData, 0}, {kCtrl, 11}}, {0, 11, -EAGAIN}},
      {"0data_0data_0ctrl", {{kData, 0}, {kData, 0}, {kCtrl, 0}}, {0, 0, -EAGAIN}},
      {"0ctrl_0ctrl_0ctrl", {{kCtrl, 0}, {kCtrl, 0}, {kCtrl, 0}}, {0, 0, 0, -EAGAIN}},
      {"0data_0data_data", {{kData, 0}, {kData, 0}, {kData, 11}}, {11, -EAGAIN}},
      {"data_0data_0data", {{kData, 11}, {kData, 0}, {kData, 0}}, {11, -EAGAIN}},
  };
}

using ZeroLenParam = std::tuple<Variant, ZeroLenRow>;

class ZeroLenTest : public ::testing::TestWithParam<ZeroLenParam> {
 protected:
  void SetUp() override {
    ASSERT_EQ(AttachUlp(pair_.cfd), 0);
    ASSERT_EQ(SetRx(pair_.cfd, info_), 0);
    std::vector<uint8_t> stream;
    uint64_t seq = 0;
    for (const auto& [type, len] : row().records) {
      const std::string payload(kHello.substr(0, len));
      const std::vector<uint8_t> record =
          info_.Seal(seq++, type,
                     ConstBytes(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
      stream.insert(stream.end(), record.begin(), record.end());
    }
    ASSERT_TRUE(WriteRaw(pair_.fd, stream));
    ASSERT_TRUE(WaitForQueued(pair_.cfd, stream.size()));
  }

  const ZeroLenRow& row() const { return std::get<1>(GetParam()); }

  SocketPair pair_;
  CryptoInfo info_{std::get<0>(GetParam()).version, std::get<0>(GetParam()).cipher};
};

TEST_P(ZeroLenTest, Recvmsg) {
  char buf[100];
  for (size_t i = 0; i < row().results.size(); ++i) {
    std::memset(buf, 0, sizeof(buf));
    int type = 0;
    const ssize_t got = RecvRecord(pair_.cfd, &type, buf, sizeof(buf), MSG_DONTWAIT);
    EXPECT_EQ(got, row().results[i]) << "recv #" << i;
    if (got > 0) {
      EXPECT_EQ(std::string_view(buf, static_cast<size_t>(got)).substr(0, 11), kHello);
    }
  }
}

// zero_len_peek: a peek past empty data records reaches the payload or gives EAGAIN,
// never 0, and leaves the records for the next read.
TEST_P(ZeroLenTest, PeekSkipsEmptyData) {
  const ZeroLenRow& r = row();
  if (r.records[0].first != kData || r.records[0].second != 0 || r.records[2].first != kData) {
    GTEST_SKIP() << "peek rows: 0data_0data_data and 0data_0data_0data";
  }
  char buf[100] = {};
  const ssize_t expected = r.records[2].second == 0 ? -EAGAIN : 11;
  EXPECT_EQ(Recv(pair_.cfd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT), expected);
  EXPECT_EQ(Recv(pair_.cfd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT), expected);
  EXPECT_EQ(Recv(pair_.cfd, buf, sizeof(buf), MSG_DONTWAIT), expected);
}

std::string ZeroLenName(const ::testing::TestParamInfo<ZeroLenParam>& info) {
  return std::string(std::get<0>(info.param).name) + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Linux, ZeroLenTest,
                         ::testing::Combine(::testing::ValuesIn(AesGcmVariants()),
                                            ::testing::ValuesIn(ZeroLenRows())),
                         ZeroLenName);

// --- tls_err: `fd` (TX) -> `cfd` (raw), then tampered bytes `fd2` (raw) -> `cfd2` (RX). ---

class TlsErrTest : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    ASSERT_EQ(AttachUlp(first_.fd), 0);
    ASSERT_EQ(SetTx(first_.fd, info_), 0);
    ASSERT_EQ(AttachUlp(second_.cfd), 0);
    ASSERT_EQ(SetRx(second_.cfd, info_), 0);
  }

  int fd() const { return first_.fd; }
  int cfd() const { return first_.cfd; }
  int fd2() const { return second_.fd; }
  int cfd2() const { return second_.cfd; }

  // Sends `len` bytes through TLS and returns the raw record they became.
  std::vector<uint8_t> MakeRecord(size_t len, uint8_t type = kAppData) {
    const std::vector<uint8_t> data = Pattern(len, static_cast<uint32_t>(len));
    const ssize_t sent = type == kAppData ? Send(fd(), data.data(), data.size())
                                          : SendRecord(fd(), type, data.data(), data.size());
    EXPECT_EQ(sent, static_cast<ssize_t>(len));
    return ReadRawRecord(cfd());
  }

  void Deliver(const std::vector<std::vector<uint8_t>>& records) {
    std::vector<uint8_t> stream;
    for (const std::vector<uint8_t>& record : records) {
      stream.insert(stream.end(), record.begin(), record.end());
    }
    ASSERT_TRUE(WriteRaw(fd2(), stream));
    ASSERT_TRUE(WaitForQueued(cfd2(), stream.size()));
  }

  SocketPair first_;
  SocketPair second_;
  CryptoInfo info_{GetParam().version, GetParam().cipher};
};

TEST_P(TlsErrTest, BadRec) {
  Deliver({std::vector<uint8_t>(64, 0x55)});
  char buf[128];
  // Length 0x5555 is too long: reported once, then the stream is dead (not EOF).
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), -EMSGSIZE);
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
  SetTimeouts(cfd2(), 20, 0);
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), -EAGAIN);
  EXPECT_EQ(Poll(cfd2(), POLLIN, 10), 0);
}

TEST_P(TlsErrTest, BadAuth) {
  std::vector<uint8_t> record = MakeRecord(10);
  ASSERT_FALSE(record.empty());
  record.back() ^= 1;
  const uint64_t decrypt_errors = control::GetStats().linux_tls.decrypt_error.value();
  Deliver({record});
  char buf[16];
  // The bad record stays at the head: every read fails again.
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), -EBADMSG);
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), -EBADMSG);
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf), MSG_PEEK), -EBADMSG);
  // TlsDecryptError (counted once per bad record here; Linux counts every attempt).
  EXPECT_GE(control::GetStats().linux_tls.decrypt_error.value() - decrypt_errors, 1u);
}

TEST_P(TlsErrTest, BadInLargeRead) {
  std::vector<uint8_t> r1 = MakeRecord(64);
  std::vector<uint8_t> r2 = MakeRecord(64);
  std::vector<uint8_t> r3 = MakeRecord(64);
  r3.back() ^= 1;
  Deliver({r1, r2, r3});
  char buf[3 * 64];
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), 128);
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), -EBADMSG);
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), -EBADMSG);
}

TEST_P(TlsErrTest, BadCmsg) {
  std::vector<uint8_t> data = MakeRecord(10);
  std::vector<uint8_t> control = MakeRecord(10, kControlType);
  control.back() ^= 1;
  Deliver({data, control});
  char buf[32];
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), 10);
  int type = 0;
  EXPECT_EQ(RecvRecord(cfd2(), &type, buf, sizeof(buf)), -EBADMSG);
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), -EBADMSG);
}

TEST_P(TlsErrTest, Timeo) {
  SetTimeouts(cfd2(), 10, 0);
  char buf[16];
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), -EAGAIN);
  // Two readers at once both time out.
  std::atomic<ssize_t> results[2] = {{1}, {1}};
  std::thread a([&] { results[0] = Recv(cfd2(), buf, sizeof(buf)); });
  std::thread b([&] {
    char own[16];
    results[1] = Recv(cfd2(), own, sizeof(own));
  });
  a.join();
  b.join();
  EXPECT_EQ(results[0].load(), -EAGAIN);
  EXPECT_EQ(results[1].load(), -EAGAIN);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST_P(TlsErrTest, PollPartialRec) {
  const std::vector<uint8_t> record = MakeRecord(200);
  ASSERT_GT(record.size(), 100u);
  ASSERT_TRUE(WriteRaw(fd2(), ConstBytes(record).first(100)));
  ASSERT_TRUE(WaitForQueued(cfd2(), 100));
  // A partial record is not readable.
  EXPECT_EQ(Poll(cfd2(), POLLIN, 10), 0);
  ASSERT_TRUE(WriteRaw(fd2(), ConstBytes(record).subspan(100)));
  short revents = 0;
  EXPECT_EQ(Poll(cfd2(), POLLIN, kTimeoutMs, &revents), 1);
  EXPECT_NE(revents & POLLIN, 0);
  std::vector<uint8_t> got(256);
  ASSERT_EQ(Recv(cfd2(), got.data(), got.size()), 200);
  got.resize(200);
  EXPECT_EQ(got, Pattern(200, 200));
}

// A poller asleep is not woken for good by a partial record, only by the whole one.
TEST_P(TlsErrTest, PollPartialRecAsync) {
  const std::vector<uint8_t> record = MakeRecord(200);
  std::atomic<int> polled{-1};
  std::thread poller([&] { polled = Poll(cfd2(), POLLIN, kTimeoutMs); });
  ASSERT_TRUE(WriteRaw(fd2(), ConstBytes(record).first(100)));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(polled.load(), -1);
  ASSERT_TRUE(WriteRaw(fd2(), ConstBytes(record).subspan(100)));
  poller.join();
  EXPECT_EQ(polled.load(), 1);
  char buf[256];
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf), MSG_DONTWAIT), 200);
}

// Framing checks in the strparser's order: too long (EMSGSIZE), too short (EBADMSG),
// version bytes (EINVAL). Each is reported once.
TEST_P(TlsErrTest, FramingErrors) {
  const size_t explicit_len = info_.has_explicit_nonce() ? 8 : 0;
  const size_t max_body = kMaxPayload + 16 + explicit_len + (info_.tls13() ? 1 : 0);
  struct Case {
    const char* name;
    std::vector<uint8_t> header;
    int error;
  };
  auto header = [](uint8_t major, uint8_t minor, size_t length) {
    return std::vector<uint8_t>{kAppData, major, minor, static_cast<uint8_t>(length >> 8),
                                static_cast<uint8_t>(length)};
  };
  const Case cases[] = {
      {"too long", header(3, 3, max_body + 1), EMSGSIZE},
      {"too long, bad version", header(3, 1, max_body + 1), EMSGSIZE},
      {"too short", header(3, 3, 15 + explicit_len), EBADMSG},
      {"too short, bad version", header(2, 0, 15 + explicit_len), EBADMSG},
      {"bad version", header(3, 1, 100), EINVAL},
      {"TLS 1.3 version bytes", header(3, 4, 100), EINVAL},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SocketPair pair;
    ASSERT_EQ(AttachUlp(pair.cfd), 0);
    ASSERT_EQ(SetRx(pair.cfd, info_), 0);
    std::vector<uint8_t> bytes = c.header;
    bytes.resize(bytes.size() + 64, 0);
    ASSERT_TRUE(WriteRaw(pair.fd, bytes));
    ASSERT_TRUE(WaitForQueued(pair.cfd, bytes.size()));
    char buf[64];
    EXPECT_EQ(Recv(pair.cfd, buf, sizeof(buf)), -c.error);
    EXPECT_EQ(Recv(pair.cfd, buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
  }
}

// The longest record body is exact: 2^14 payload is fine, one byte of TLS 1.3 padding
// beyond it is EMSGSIZE (the kernel refuses RFC 8446's extra 256 bytes).
TEST_P(TlsErrTest, MaximumRecordLength) {
  const std::vector<uint8_t> payload = Pattern(kMaxPayload, 3);
  Deliver({info_.Seal(0, kAppData, payload)});
  std::vector<uint8_t> got(kMaxPayload);
  ASSERT_EQ(Recv(cfd2(), got.data(), got.size()), static_cast<ssize_t>(kMaxPayload));
  EXPECT_EQ(got, payload);
  if (!info_.tls13()) return;
  testing::ReferenceSealOptions options;
  options.tls13_padding = 1;
  Deliver({testing::ReferenceSeal(info_.Reference(), 1, kAppData, payload, options)});
  EXPECT_EQ(Recv(cfd2(), got.data(), got.size()), -EMSGSIZE);
}

// TLS 1.3: padding is stripped; an all-zero inner plaintext has no type (EBADMSG).
TEST_P(TlsErrTest, Tls13Padding) {
  if (!info_.tls13()) GTEST_SKIP() << "TLS 1.3 only";
  testing::ReferenceSealOptions options;
  options.tls13_padding = 100;
  const std::vector<uint8_t> payload = Pattern(30);
  Deliver({testing::ReferenceSeal(info_.Reference(), 0, kAppData, payload, options)});
  char buf[64];
  ASSERT_EQ(Recv(cfd2(), buf, sizeof(buf)), 30);
  EXPECT_EQ(std::memcmp(buf, payload.data(), 30), 0);
  // An empty payload of type 0 is an all-zero plaintext.
  options.tls13_padding = 5;
  Deliver({testing::ReferenceSeal(info_.Reference(), 1, 0, {}, options)});
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), -EBADMSG);
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), -EBADMSG);
}

// TLS 1.2 record type 0 cannot be reported (tls_record_content_type): EBADMSG.
TEST_P(TlsErrTest, Tls12TypeZero) {
  if (info_.tls13()) GTEST_SKIP() << "TLS 1.2 only";
  Deliver({info_.Seal(0, 0, ConstBytes(reinterpret_cast<const uint8_t*>(kHello.data()), 11))});
  char buf[32];
  int type = 0;
  EXPECT_EQ(RecvRecord(cfd2(), &type, buf, sizeof(buf)), -EBADMSG);
}

// Empty data records read as nothing: the bad record after them is the answer.
TEST_P(TlsErrTest, EmptyDataThenBadRecord) {
  std::vector<uint8_t> bad = info_.Seal(1, kAppData, Pattern(20));
  bad.back() ^= 1;
  Deliver({info_.Seal(0, kAppData, {}), bad});
  char buf[32];
  int type = 0;
  EXPECT_EQ(RecvRecord(cfd2(), &type, buf, sizeof(buf)), -EBADMSG);
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf), MSG_WAITALL), -EBADMSG);
}

// linux-ktls.md §3.7 (UNVERIFIED): end of stream inside a record reads as EOF (0).
TEST_P(TlsErrTest, EofInsideRecord) {
  const std::vector<uint8_t> good = MakeRecord(10);
  const std::vector<uint8_t> cut = MakeRecord(50);
  std::vector<uint8_t> stream = good;
  stream.insert(stream.end(), cut.begin(), cut.begin() + 20);
  ASSERT_TRUE(WriteRaw(fd2(), stream));
  ASSERT_EQ(shutdown(fd2(), SHUT_WR), 0);
  char buf[64];
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), 10);
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), 0);
  EXPECT_EQ(Recv(cfd2(), buf, sizeof(buf)), 0);
}

INSTANTIATE_TEST_SUITE_P(Linux, TlsErrTest, ::testing::ValuesIn(AllVariants()), VariantName);

}  // namespace
}  // namespace ktls::linux_abi_test
