#include "conformance.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "base/errno_name.h"
#include "ktls/sysctl.h"

namespace ktls::conformance {
namespace {

std::mt19937_64& Rng() {
  static std::mt19937_64 rng(std::random_device{}());
  return rng;
}

// Peers of an offloaded socket see resets (fatal receive errors drop the connection):
// writes must fail with EPIPE, not kill the test binary.
class IgnoreSigpipe : public ::testing::Environment {
 public:
  void SetUp() override { signal(SIGPIPE, SIG_IGN); }
};
[[maybe_unused]] ::testing::Environment* const kIgnoreSigpipe =
    ::testing::AddGlobalTestEnvironment(new IgnoreSigpipe);

}  // namespace

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

std::vector<Case> CasesFor(const std::vector<FreeBsdSuite>& suites, const std::string& suffix,
                           size_t len, size_t padding, const std::string& prefix) {
  std::vector<Case> cases;
  for (const FreeBsdSuite& suite : suites) {
    std::string name = prefix + suite.name;
    if (!suffix.empty()) name += "_" + suffix;
    cases.push_back(Case{suite, name, suffix, len, padding});
  }
  return cases;
}

std::vector<Case> Concat(std::vector<std::vector<Case>> groups) {
  std::vector<Case> all;
  for (std::vector<Case>& group : groups) {
    for (Case& c : group) all.push_back(std::move(c));
  }
  return all;
}

void SetTimeouts(int fd, int timeout_ms) {
  struct timeval tv = {};
  tv.tv_sec = timeout_ms / 1000;
  tv.tv_usec = (timeout_ms % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

Connection::Connection() {
  SetTimeouts(pair.client);
  SetTimeouts(pair.server);
}

Connection::~Connection() {
  // ktls_close drops the descriptor's offload state with it; close(2) alone would leave
  // it to a later socket that reuses the number.
  const int client = pair.client;
  const int server = pair.server;
  pair.Release(client);
  pair.Release(server);
  if (server >= 0) ktls_close(server);
  if (client >= 0) ktls_close(client);
}

int NewTcpSocket() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd >= 0) SetTimeouts(fd);
  return fd;
}

int EnableTx(int fd, const struct tls_enable& en, socklen_t len) {
  return ktls_setsockopt(fd, IPPROTO_TCP, TCP_TXTLS_ENABLE, &en, len);
}

int EnableRx(int fd, const struct tls_enable& en, socklen_t len) {
  return ktls_setsockopt(fd, IPPROTO_TCP, TCP_RXTLS_ENABLE, &en, len);
}

::testing::AssertionResult FailsWith(long rv, int expected) {
  const int error = errno;
  if (rv == -1 && error == expected) return ::testing::AssertionSuccess();
  if (rv != -1) {
    return ::testing::AssertionFailure()
           << "returned " << rv << ", expected -1/" << ErrnoName(expected);
  }
  return ::testing::AssertionFailure()
         << "failed with " << ErrnoName(error) << ", expected " << ErrnoName(expected);
}

::testing::AssertionResult Succeeds(long rv) {
  const int error = errno;
  if (rv != -1) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "failed with " << ErrnoName(error);
}

std::vector<uint8_t> RandomBytes(size_t len) {
  std::vector<uint8_t> out(len);
  std::uniform_int_distribution<int> dist(0, 255);
  for (uint8_t& b : out) b = static_cast<uint8_t>(dist(Rng()));
  return out;
}

testing::RefCbcIv RandomIv() {
  testing::RefCbcIv iv{};
  const std::vector<uint8_t> bytes = RandomBytes(iv.size());
  std::copy(bytes.begin(), bytes.end(), iv.begin());
  return iv;
}

std::vector<uint8_t> RecordHeader(uint8_t type, uint8_t major, uint8_t minor, uint16_t length) {
  return {type, major, minor, static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length)};
}

size_t BytesReadable(int fd) {
  int pending = 0;
  if (ioctl(fd, FIONREAD, &pending) != 0) return 0;
  return static_cast<size_t>(pending);
}

// --- Transmit side -------------------------------------------------------------------

TxVerifier::TxVerifier(const TlsEnableBuilder& builder, uint64_t first_sequence)
    : builder_(builder),
      params_(builder.reference()),
      sequence_(first_sequence),
      tls10_iv_(builder.tls10_iv()) {}

size_t TxVerifier::MinimalCbcPadding(size_t payload_len) const {
  return 16 - (payload_len + builder_.mac_len()) % 16;
}

size_t TxVerifier::ExpectedBodyLen(size_t payload_len) const {
  const size_t explicit_len = builder_.header_len() - 5;
  if (builder_.is_cbc()) {
    return explicit_len + payload_len + builder_.mac_len() + MinimalCbcPadding(payload_len);
  }
  return explicit_len + payload_len + builder_.mac_len() + (builder_.is_tls13() ? 1 : 0);
}

std::optional<TxVerifier::Record> TxVerifier::Next(int fd, uint8_t expected_type) {
  Record record;
  record.raw = testing::ReadRawRecord(fd, kTimeoutMs);
  if (record.raw.empty()) {
    ADD_FAILURE() << "no record with sequence number " << sequence_ << " arrived";
    return std::nullopt;
  }
  const bool tls13 = builder_.is_tls13();
  // TLS 1.3 hides the real type and version: the outer header says 23, 3.3.
  EXPECT_EQ(int{record.raw[0]}, tls13 ? TLS_RLTYPE_APP : int{expected_type});
  EXPECT_EQ(int{record.raw[1]}, TLS_MAJOR_VER_ONE);
  EXPECT_EQ(int{record.raw[2]}, tls13 ? TLS_MINOR_VER_TWO : int{builder_.get().tls_vminor});
  record.opened = testing::ReferenceOpen(params_, sequence_, record.raw, tls10_iv_);
  if (!record.opened.ok()) {
    ADD_FAILURE() << "record " << sequence_ << " (" << record.raw.size()
                  << " bytes) does not open as expected: "
                  << testing::ReferenceErrorName(record.opened.error);
    return std::nullopt;
  }
  EXPECT_EQ(int{record.opened.type}, int{expected_type});
  const size_t payload_len = record.opened.payload.size();
  EXPECT_LE(payload_len, kMaxPayload);
  EXPECT_EQ(record.raw.size() - 5, ExpectedBodyLen(payload_len))
      << "header length of a record carrying " << payload_len << " bytes";
  if (builder_.is_cbc()) {
    EXPECT_EQ(record.opened.padding_len, MinimalCbcPadding(payload_len))
        << "CBC padding must be minimal";
  }
  if (tls13) {
    EXPECT_EQ(record.opened.padding_len, 0u) << "TLS 1.3 records are not padded";
  }
  if (builder_.is_tls10()) tls10_iv_ = testing::NextTls10Iv(record.raw);
  ++sequence_;
  return record;
}

std::optional<std::vector<uint8_t>> TxVerifier::ReadPayload(int fd, size_t len, uint8_t type,
                                                            std::vector<Record>* records) {
  std::vector<uint8_t> payload;
  while (payload.size() < len) {
    std::optional<Record> record = Next(fd, type);
    if (!record) return std::nullopt;
    if (record->opened.payload.empty()) {
      ADD_FAILURE() << "empty record in a data stream";
      return std::nullopt;
    }
    payload.insert(payload.end(), record->opened.payload.begin(), record->opened.payload.end());
    if (records != nullptr) records->push_back(std::move(*record));
  }
  EXPECT_EQ(payload.size(), len);
  return payload;
}

// --- Receive side --------------------------------------------------------------------

RxSealer::RxSealer(const TlsEnableBuilder& builder)
    : builder_(builder), params_(builder.reference()), sequence_(builder.sequence()) {}

std::vector<uint8_t> RxSealer::Seal(uint8_t type, ConstBytes payload, size_t padding) {
  testing::ReferenceSealOptions options;
  options.explicit_nonce = sequence_;  // as ktls_test.c does
  options.cbc_iv = RandomIv();
  if (builder_.is_cbc()) {
    options.cbc_extra_padding = padding;
  } else if (builder_.is_tls13()) {
    options.tls13_padding = padding;
  }
  return testing::ReferenceSeal(params_, sequence_++, type, payload, options);
}

Received ReceiveRecord(int fd, size_t buffer_len, int flags) {
  Received received;
  std::vector<uint8_t> buffer(buffer_len);
  alignas(struct cmsghdr) uint8_t control[CMSG_SPACE(sizeof(struct tls_get_record))] = {};
  struct iovec iov = {buffer.data(), buffer.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  errno = 0;
  received.rv = ktls_recvmsg(fd, &msg, flags);
  received.error = received.rv < 0 ? errno : 0;
  if (received.rv < 0) return received;
  received.flags = msg.msg_flags;
  received.data.assign(buffer.begin(), buffer.begin() + received.rv);
  if (msg.msg_controllen >= sizeof(struct cmsghdr)) {
    const struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg != nullptr) {
      received.cmsg_level = cmsg->cmsg_level;
      received.cmsg_type = cmsg->cmsg_type;
      received.cmsg_len = cmsg->cmsg_len;
      if (cmsg->cmsg_len >= CMSG_LEN(sizeof(struct tls_get_record))) {
        received.has_record_info = true;
        std::memcpy(&received.info, CMSG_DATA(cmsg), sizeof(received.info));
      }
    }
  }
  return received;
}

void ExpectRecord(const TlsEnableBuilder& builder, int fd, uint8_t type, ConstBytes expected) {
  const Received r = ReceiveRecord(fd);
  ASSERT_GE(r.rv, 0) << "ktls_recvmsg failed with " << ErrnoName(r.error);
  if (!expected.empty()) {
    EXPECT_GT(r.rv, 0);
  }
  EXPECT_NE(r.flags & MSG_EOR, 0) << "MSG_EOR";
  EXPECT_EQ(r.flags & MSG_CTRUNC, 0) << "MSG_CTRUNC";
  ASSERT_TRUE(r.has_record_info) << "no TLS_GET_RECORD control message";
  EXPECT_EQ(r.cmsg_level, IPPROTO_TCP);
  EXPECT_EQ(r.cmsg_type, TLS_GET_RECORD);
  EXPECT_EQ(r.cmsg_len, CMSG_LEN(sizeof(struct tls_get_record)));
  EXPECT_EQ(int{r.info.tls_type}, int{type});
  EXPECT_EQ(int{r.info.tls_vmajor}, TLS_MAJOR_VER_ONE);
  // ktls_test.c: TLS 1.3 records report the outer version, 3.3.
  EXPECT_EQ(int{r.info.tls_vminor},
            builder.is_tls13() ? TLS_MINOR_VER_TWO : int{builder.get().tls_vminor});
  EXPECT_EQ(r.info.tls_length, htons(static_cast<uint16_t>(r.rv)));
  ASSERT_EQ(r.data.size(), expected.size());
  EXPECT_TRUE(std::equal(r.data.begin(), r.data.end(), expected.begin())) << "payload differs";
}

void ExpectReceiveError(int fd, int expected) {
  const Received r = ReceiveRecord(fd);
  EXPECT_EQ(r.rv, -1) << "ktls_recvmsg returned " << r.rv << " bytes, expected "
                      << ErrnoName(expected);
  if (r.rv == -1) {
    EXPECT_EQ(r.error, expected) << ErrnoName(r.error) << " instead of " << ErrnoName(expected);
  }
}

BackgroundWriter::BackgroundWriter(int fd, std::vector<uint8_t> data) : data_(std::move(data)) {
  thread_ = std::thread([this, fd] { ok_ = testing::WriteAll(fd, data_.data(), data_.size()); });
}

BackgroundWriter::~BackgroundWriter() {
  if (thread_.joinable()) thread_.join();
}

bool BackgroundWriter::Join() {
  if (thread_.joinable()) thread_.join();
  return ok_;
}

// --- Knobs and counters --------------------------------------------------------------

uint64_t ReadCounter(const char* name) {
  uint64_t value = 0;
  size_t len = sizeof(value);
  if (ktls_sysctlbyname(name, &value, &len, nullptr, 0) != 0 || len != sizeof(value)) {
    ADD_FAILURE() << "cannot read " << name << ": " << ErrnoName(errno);
    return 0;
  }
  return value;
}

KnobGuard::KnobGuard(const char* name, int value) : name_(name) {
  size_t len = 0;
  if (ktls_sysctlbyname(name, nullptr, &len, nullptr, 0) != 0 || len == 0) {
    ADD_FAILURE() << "cannot size " << name << ": " << ErrnoName(errno);
    return;
  }
  old_.resize(len);
  if (ktls_sysctlbyname(name, old_.data(), &len, nullptr, 0) != 0) {
    ADD_FAILURE() << "cannot read " << name << ": " << ErrnoName(errno);
    old_.clear();
    return;
  }
  int rc = -1;
  if (len == 1) {
    const auto byte = static_cast<uint8_t>(value);
    rc = ktls_sysctlbyname(name, nullptr, nullptr, &byte, sizeof(byte));
  } else {
    const auto word = static_cast<int32_t>(value);
    rc = ktls_sysctlbyname(name, nullptr, nullptr, &word, sizeof(word));
  }
  if (rc != 0) {
    ADD_FAILURE() << "cannot set " << name << ": " << ErrnoName(errno);
    old_.clear();
    return;
  }
  ok_ = true;
}

KnobGuard::~KnobGuard() {
  if (old_.empty()) return;
  if (ktls_sysctlbyname(name_.c_str(), nullptr, nullptr, old_.data(), old_.size()) != 0) {
    ADD_FAILURE() << "cannot restore " << name_ << ": " << ErrnoName(errno);
  }
}

}  // namespace ktls::conformance
