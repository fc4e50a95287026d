// TCP_TXTLS_MODE=IFNET on a host whose kernel has no TLS ULP: the socket layer driven
// through an Os that plays a kernel with one. The stand-in accepts TCP_ULP "tls" and
// SOL_TLS TLS_TX, then seals the plaintext it is given with the independent reference
// (from the crypto_info it was handed, never from our sealer), so the peer's walk over
// the raw stream proves the hand-off: every SW record first, then the "kernel's", with
// consecutive sequence numbers. tests/vm/ checks the same against a real kernel.
#include <gtest/gtest.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "control/knobs.h"
#include "ktls/freebsd.h"
#include "socket/ktls_socket.h"
#include "socket/os.h"
#include "socket_test_util.h"
#include "testlib/record_reference.h"
#include "testlib/tcp_pair.h"
#include "testlib/tls_enable_builder.h"

namespace ktls::testing {
namespace {

using socket::KtlsSocket;
using socket::Mode;

constexpr size_t kRecordMax = 16384;
constexpr auto kDeadline = std::chrono::seconds(20);

// A kernel with the TLS ULP, on top of the real system calls.
class UlpKernelOs final : public socket::Os {
 public:
  bool has_ulp = true;   // TCP_ULP "tls" attaches (else ENOENT, like no tls.ko)
  int tls_tx_error = 0;  // TLS_TX fails with this errno (0: installs)
  std::atomic<int> ulp_attempts{0};
  std::atomic<int> kernel_sendfiles{0};

  bool installed() const {
    std::lock_guard lock(mu_);
    return params_.has_value();
  }
  uint64_t installed_sequence() const { return installed_sequence_; }
  uint64_t installed_explicit_nonce() const { return installed_nonce_; }
  // What passed through before TLS_TX: our records, walked by their headers.
  uint64_t records_before() const { return records_before_; }
  std::optional<uint64_t> last_explicit_nonce_before() const { return last_nonce_before_; }

  ssize_t Recv(int fd, void* buf, size_t len, int flags) override {
    return base_.Recv(fd, buf, len, flags);
  }
  ssize_t Recvmsg(int fd, struct msghdr* msg, int flags) override {
    return base_.Recvmsg(fd, msg, flags);
  }
  ssize_t Sendmsg(int fd, const struct msghdr* msg, int flags) override {
    std::unique_lock lock(mu_);
    if (!params_) {
      const ssize_t n = base_.Sendmsg(fd, msg, flags);
      if (n > 0) Walk(msg, static_cast<size_t>(n));
      return n;
    }
    uint8_t type = TLS_RLTYPE_APP;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr;
         c = CMSG_NXTHDR(const_cast<struct msghdr*>(msg), c)) {
      if (c->cmsg_level == SOL_TLS && c->cmsg_type == TLS_SET_RECORD_TYPE) type = *CMSG_DATA(c);
    }
    std::vector<uint8_t> plain;
    for (size_t i = 0; i < msg->msg_iovlen; ++i) {
      const auto* base = static_cast<const uint8_t*>(msg->msg_iov[i].iov_base);
      plain.insert(plain.end(), base, base + msg->msg_iov[i].iov_len);
    }
    if (!SealAndSend(fd, type, plain)) return -1;
    return static_cast<ssize_t>(plain.size());
  }
  ssize_t Sendfile(int out_fd, int in_fd, off_t* offset, size_t count) override {
    std::unique_lock lock(mu_);
    if (!params_) return base_.Sendfile(out_fd, in_fd, offset, count);
    ++kernel_sendfiles;
    std::vector<uint8_t> plain(count);
    const ssize_t got = pread(in_fd, plain.data(), count, *offset);
    if (got < 0) return -1;
    plain.resize(static_cast<size_t>(got));
    if (!SealAndSend(out_fd, TLS_RLTYPE_APP, plain)) return -1;
    *offset += got;
    return got;
  }
  ssize_t Pread(int fd, void* buf, size_t len, off_t offset) override {
    return base_.Pread(fd, buf, len, offset);
  }
  off_t Lseek(int fd, off_t offset, int whence) override { return base_.Lseek(fd, offset, whence); }
  int Poll(struct pollfd* fds, nfds_t nfds, int timeout_ms) override {
    return base_.Poll(fds, nfds, timeout_ms);
  }
  int Shutdown(int fd, int how) override { return base_.Shutdown(fd, how); }
  int Close(int fd) override { return base_.Close(fd); }
  int Dup(int fd) override { return base_.Dup(fd); }
  int Fcntl(int fd, int cmd, int arg) override { return base_.Fcntl(fd, cmd, arg); }
  int Getsockopt(int fd, int level, int name, void* value, socklen_t* len) override {
    return base_.Getsockopt(fd, level, name, value, len);
  }
  int Setsockopt(int fd, int level, int name, const void* value, socklen_t len) override {
    if (level == SOL_TCP && name == TCP_ULP) {
      ++ulp_attempts;
      if (!has_ulp) return Fail(ENOENT);
      if (ulp_attached_) return Fail(EEXIST);
      ulp_attached_ = true;
      return 0;
    }
    if (level == SOL_TLS && name == TLS_TX) {
      if (!ulp_attached_) return Fail(ENOPROTOOPT);
      if (tls_tx_error != 0) return Fail(tls_tx_error);
      return Fail(Install(static_cast<const uint8_t*>(value), len));
    }
    if (level == SOL_TLS) return Fail(ENOPROTOOPT);
    return base_.Setsockopt(fd, level, name, value, len);
  }
  int Disconnect(int fd) override { return base_.Disconnect(fd); }

 private:
  static int Fail(int error) {
    if (error == 0) return 0;
    errno = error;
    return -1;
  }

  // The crypto_info as Linux reads it (tls12_crypto_info_*), into reference params.
  int Install(const uint8_t* info, socklen_t len) {
    uint16_t version = 0;
    uint16_t cipher = 0;
    std::memcpy(&version, info, 2);
    std::memcpy(&cipher, info + 2, 2);
    size_t iv_len = 8;
    size_t key_len = 16;
    size_t salt_len = 4;
    RefCipher ref = RefCipher::kAes128Gcm;
    if (cipher == TLS_CIPHER_AES_GCM_256) {
      key_len = 32;
      ref = RefCipher::kAes256Gcm;
    } else if (cipher == TLS_CIPHER_CHACHA20_POLY1305) {
      iv_len = 12;
      key_len = 32;
      salt_len = 0;
      ref = RefCipher::kChaCha20Poly1305;
    } else if (cipher != TLS_CIPHER_AES_GCM_128) {
      return EINVAL;
    }
    if (len != 4 + iv_len + key_len + salt_len + 8) return EINVAL;
    const uint8_t* iv = info + 4;
    const uint8_t* key = iv + iv_len;
    const uint8_t* salt = key + key_len;
    const uint8_t* rec_seq = salt + salt_len;
    ReferenceParams params;
    params.cipher = ref;
    params.version = version;
    params.key.assign(key, key + key_len);
    gcm12_ = version == TLS_1_2_VERSION && salt_len > 0;
    if (gcm12_) {
      params.iv.assign(salt, salt + salt_len);
      installed_nonce_ = LoadBe64(iv);
    } else {
      params.iv.assign(salt, salt + salt_len);
      params.iv.insert(params.iv.end(), iv, iv + iv_len);
    }
    std::lock_guard lock(mu_);
    installed_sequence_ = LoadBe64(rec_seq);
    sequence_ = installed_sequence_;
    nonce_ = installed_nonce_;
    params_ = std::move(params);
    return 0;
  }

  // Follows record headers through the ciphertext we are given before the hand-off.
  void Walk(const struct msghdr* msg, size_t len) {
    for (size_t i = 0; i < msg->msg_iovlen && len > 0; ++i) {
      const auto* base = static_cast<const uint8_t*>(msg->msg_iov[i].iov_base);
      const size_t take = std::min(len, msg->msg_iov[i].iov_len);
      walked_.insert(walked_.end(), base, base + take);
      len -= take;
    }
    size_t at = 0;
    while (walked_.size() - at >= 13) {
      const size_t body = static_cast<size_t>(walked_[at + 3]) << 8 | walked_[at + 4];
      if (walked_.size() - at < 5 + body) break;
      last_nonce_before_ = LoadBe64(&walked_[at + 5]);  // meaningful for TLS 1.2 GCM only
      ++records_before_;
      at += 5 + body;
    }
    walked_.erase(walked_.begin(), walked_.begin() + static_cast<std::ptrdiff_t>(at));
  }

  bool SealAndSend(int fd, uint8_t type, const std::vector<uint8_t>& plain) {
    size_t at = 0;
    do {
      const size_t chunk = std::min(plain.size() - at, kRecordMax);
      ReferenceSealOptions options;
      options.explicit_nonce = nonce_++;
      const std::vector<uint8_t> record =
          ReferenceSeal(*params_, sequence_++, type, ConstBytes(plain.data() + at, chunk), options);
      if (!SendAll(fd, record)) return false;
      at += chunk;
    } while (at < plain.size());
    return true;
  }

  bool SendAll(int fd, const std::vector<uint8_t>& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        poll(&pfd, 1, 1000);
        continue;
      }
      return false;
    }
    return true;
  }

  socket::Os& base_ = socket::RealOs();
  mutable std::mutex mu_;
  bool ulp_attached_ = false;
  std::optional<ReferenceParams> params_;
  bool gcm12_ = false;
  uint64_t installed_sequence_ = 0;
  uint64_t installed_nonce_ = 0;
  uint64_t sequence_ = 0;
  uint64_t nonce_ = 0;
  std::vector<uint8_t> walked_;
  uint64_t records_before_ = 0;
  std::optional<uint64_t> last_nonce_before_;
};

std::shared_ptr<KtlsSocket> TxSocket(int fd, socket::Os& os, const TlsEnableBuilder& session) {
  auto socket = std::make_shared<KtlsSocket>(fd, os);
  if (socket->EnableTx(&session.get(), sizeof(struct tls_enable)) != 0) return nullptr;
  return socket;
}

ssize_t Send(KtlsSocket& socket, ConstBytes bytes, std::optional<uint8_t> type = std::nullopt) {
  return socket.Send(std::span<const ConstBytes>(&bytes, 1), type, MSG_NOSIGNAL);
}

uint64_t StatValue(const control::Counter& counter) {
  return counter.value();
}

// Opens everything on the raw peer until `bytes` payload bytes arrived; returns the
// payloads as (type, bytes) records.
std::vector<ReferenceOpened> ReadRecords(int fd, const TlsEnableBuilder& session, size_t bytes,
                                         std::string* error) {
  ReferenceStreamReader reader(fd, session);
  std::vector<ReferenceOpened> records;
  size_t got = 0;
  const auto deadline =
      DeadlineIn(std::chrono::duration_cast<std::chrono::milliseconds>(kDeadline));
  while (got < bytes) {
    ReferenceOpened record;
    if (reader.Next(&record, deadline) != ReferenceStreamReader::Status::kRecord) {
      *error = reader.error().empty() ? "stream ended" : reader.error();
      break;
    }
    got += record.payload.size();
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<uint8_t> Concat(const std::vector<ReferenceOpened>& records, uint8_t type) {
  std::vector<uint8_t> out;
  for (const ReferenceOpened& r : records) {
    if (r.type == type) out.insert(out.end(), r.payload.begin(), r.payload.end());
  }
  return out;
}

std::vector<FreeBsdSuite> KernelSuites() {
  std::vector<FreeBsdSuite> suites = AesGcmSuites();
  for (const FreeBsdSuite& suite : ChaChaSuites()) suites.push_back(suite);
  return suites;
}

class KernelOffloadTest : public ::testing::TestWithParam<FreeBsdSuite> {};

// SW records still queued when the switch comes (small buffers, peer not reading yet);
// all of them reach the peer before the kernel's first, whose numbers follow on.
TEST_P(KernelOffloadTest, SwitchFlushesQueueAndContinuesSequence) {
  TcpPair pair;
  SetSmallBuffers(pair.client, 32768);
  SetSmallBuffers(pair.server, 32768);
  UlpKernelOs os;
  TlsEnableBuilder session(GetParam());
  std::shared_ptr<KtlsSocket> client = TxSocket(pair.client, os, session);
  ASSERT_NE(client, nullptr);
  control::Stats& stats = control::GetStats();
  const uint64_t switches = StatValue(stats.switch_to_ifnet);
  const uint64_t failures = StatValue(stats.switch_failed);

  const std::vector<uint8_t> before = ByteStream(1).Take(200000);
  const std::vector<uint8_t> after = ByteStream(2).Take(70000);
  const std::vector<uint8_t> alert = {1, 0};
  ASSERT_EQ(Send(*client, before), static_cast<ssize_t>(before.size()));
  ASSERT_TRUE(client->has_pending_tx());  // the peer has not read: records are queued

  std::vector<ReferenceOpened> records;
  std::string read_error;
  std::thread reader([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    records =
        ReadRecords(pair.server, session, before.size() + after.size() + alert.size(), &read_error);
  });
  EXPECT_EQ(client->SetTxMode(TCP_TLS_MODE_IFNET), 0);
  EXPECT_EQ(client->tx_mode(), Mode::kIfnet);
  EXPECT_FALSE(client->has_pending_tx());
  ASSERT_TRUE(os.installed());
  // The kernel starts right after our last record.
  EXPECT_EQ(os.installed_sequence(), session.sequence() + os.records_before());
  EXPECT_EQ(os.records_before(), (before.size() + kRecordMax - 1) / kRecordMax);
  if (session.is_gcm12()) {
    ASSERT_TRUE(os.last_explicit_nonce_before().has_value());
    EXPECT_EQ(os.installed_explicit_nonce(), *os.last_explicit_nonce_before() + 1);
  }
  EXPECT_EQ(Send(*client, after), static_cast<ssize_t>(after.size()));
  EXPECT_EQ(Send(*client, alert, TLS_RLTYPE_ALERT), static_cast<ssize_t>(alert.size()));
  reader.join();

  ASSERT_EQ(read_error, "");
  std::vector<uint8_t> want = before;
  want.insert(want.end(), after.begin(), after.end());
  EXPECT_EQ(Concat(records, TLS_RLTYPE_APP), want);
  EXPECT_EQ(Concat(records, TLS_RLTYPE_ALERT), alert);
  EXPECT_EQ(records.back().type, TLS_RLTYPE_ALERT);
  EXPECT_EQ(StatValue(stats.switch_to_ifnet), switches + 1);
  EXPECT_EQ(StatValue(stats.switch_failed), failures);

  // The kernel cannot give the session back.
  EXPECT_EQ(client->SetTxMode(TCP_TLS_MODE_SW), -EOPNOTSUPP);
  EXPECT_EQ(client->tx_mode(), Mode::kIfnet);
  EXPECT_EQ(StatValue(stats.switch_failed), failures + 1);
  EXPECT_EQ(client->SetTxMode(TCP_TLS_MODE_IFNET), 0);  // already there
}

std::string SuiteName(const ::testing::TestParamInfo<FreeBsdSuite>& param) {
  return param.param.name;
}

INSTANTIATE_TEST_SUITE_P(Suites, KernelOffloadTest, ::testing::ValuesIn(KernelSuites()), SuiteName);

// A non-blocking socket whose queue the kernel cannot take now: EAGAIN, still SW, and
// nothing was handed over; once the peer reads, the switch goes through.
TEST(KernelOffload, NonBlockingSwitchWithQueuedRecordsIsEagain) {
  TcpPair pair;
  SetSmallBuffers(pair.client, 32768);
  SetSmallBuffers(pair.server, 32768);
  UlpKernelOs os;
  TlsEnableBuilder session(AesGcmSuites()[2]);
  std::shared_ptr<KtlsSocket> client = TxSocket(pair.client, os, session);
  ASSERT_NE(client, nullptr);
  const std::vector<uint8_t> data = ByteStream(3).Take(300000);
  ASSERT_EQ(Send(*client, data), static_cast<ssize_t>(data.size()));
  SetNonBlocking(pair.client, true);
  const uint64_t failures = StatValue(control::GetStats().switch_failed);
  EXPECT_EQ(client->SetTxMode(TCP_TLS_MODE_IFNET), -EAGAIN);
  EXPECT_EQ(client->tx_mode(), Mode::kSw);
  EXPECT_FALSE(os.installed());
  EXPECT_EQ(StatValue(control::GetStats().switch_failed), failures);

  std::vector<ReferenceOpened> records;
  std::string read_error;
  std::thread reader(
      [&] { records = ReadRecords(pair.server, session, data.size(), &read_error); });
  int result = -EAGAIN;
  for (int i = 0; i < 2000 && result == -EAGAIN; ++i) {
    result = client->SetTxMode(TCP_TLS_MODE_IFNET);
    if (result == -EAGAIN) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  reader.join();
  EXPECT_EQ(result, 0);
  EXPECT_EQ(client->tx_mode(), Mode::kIfnet);
  ASSERT_EQ(read_error, "");
  EXPECT_EQ(Concat(records, TLS_RLTYPE_APP), data);
}

// The suites Linux cannot run, a kernel without the ULP and a kernel that refuses the
// cipher: EOPNOTSUPP, switch_failed, and the session goes on in SW mode unchanged.
TEST(KernelOffload, RefusedSwitchesStaySw) {
  struct Case {
    const char* what;
    FreeBsdSuite suite;
    bool has_ulp;
    int tls_tx_error;
    int ulp_attempts;
  };
  const Case cases[] = {
      {"cbc", AesCbcNonZeroSuites()[2], true, 0, 0},
      {"no ulp", AesGcmSuites()[0], false, 0, 1},
      {"cipher refused", ChaChaSuites()[1], true, ENOENT, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    TcpPair pair;
    UlpKernelOs os;
    os.has_ulp = c.has_ulp;
    os.tls_tx_error = c.tls_tx_error;
    TlsEnableBuilder session(c.suite);
    std::shared_ptr<KtlsSocket> client = TxSocket(pair.client, os, session);
    ASSERT_NE(client, nullptr);
    const std::vector<uint8_t> first = ByteStream(4).Take(1000);
    const std::vector<uint8_t> second = ByteStream(5).Take(1000);
    ASSERT_EQ(Send(*client, first), 1000);
    const uint64_t failures = StatValue(control::GetStats().switch_failed);
    EXPECT_EQ(client->SetTxMode(TCP_TLS_MODE_IFNET), -EOPNOTSUPP);
    EXPECT_EQ(StatValue(control::GetStats().switch_failed), failures + 1);
    EXPECT_EQ(client->tx_mode(), Mode::kSw);
    EXPECT_EQ(os.ulp_attempts.load(), c.ulp_attempts);
    ASSERT_EQ(Send(*client, second), 1000);
    std::string read_error;
    const std::vector<ReferenceOpened> records =
        ReadRecords(pair.server, session, first.size() + second.size(), &read_error);
    ASSERT_EQ(read_error, "");
    std::vector<uint8_t> want = first;
    want.insert(want.end(), second.begin(), second.end());
    EXPECT_EQ(Concat(records, TLS_RLTYPE_APP), want);
  }
}

// kern.ipc.tls.ifnet.permitted: the session starts in the kernel; sendfile is the
// kernel's; the mode counters say ifnet.
TEST(KernelOffload, PermittedEnableStartsInIfnet) {
  TcpPair pair;
  UlpKernelOs os;
  TlsEnableBuilder session(ChaChaSuites()[0]);
  control::Knobs& knobs = control::GetKnobs();
  control::Stats& stats = control::GetStats();
  const uint64_t ifnet_chacha = StatValue(stats.ifnet.chacha20);
  const uint64_t sw_chacha = StatValue(stats.sw.chacha20);
  knobs.ifnet_permitted.store(1);
  std::shared_ptr<KtlsSocket> client = TxSocket(pair.client, os, session);
  knobs.ifnet_permitted.store(0);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->tx_mode(), Mode::kIfnet);
  EXPECT_EQ(os.installed_sequence(), session.sequence());
  EXPECT_EQ(StatValue(stats.ifnet.chacha20), ifnet_chacha + 1);
  EXPECT_EQ(StatValue(stats.sw.chacha20), sw_chacha);

  const std::vector<uint8_t> data = ByteStream(6).Take(40000);
  FILE* file = tmpfile();
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(fwrite(data.data(), 1, data.size(), file), data.size());
  fflush(file);
  off_t offset = 0;
  EXPECT_EQ(client->SendFile(fileno(file), &offset, data.size()),
            static_cast<ssize_t>(data.size()));
  EXPECT_EQ(offset, static_cast<off_t>(data.size()));
  EXPECT_EQ(os.kernel_sendfiles.load(), 1);
  fclose(file);
  std::string read_error;
  const std::vector<ReferenceOpened> records =
      ReadRecords(pair.server, session, data.size(), &read_error);
  ASSERT_EQ(read_error, "");
  EXPECT_EQ(Concat(records, TLS_RLTYPE_APP), data);
  client.reset();
  EXPECT_EQ(StatValue(stats.ifnet.chacha20), ifnet_chacha);
}

}  // namespace
}  // namespace ktls::testing
