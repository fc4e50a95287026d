// The `tls` fixture of Linux's selftest (linux-ktls.md §4.2), control side: control
// records through TLS_SET_RECORD_TYPE / TLS_GET_RECORD_TYPE, getsockopt readback, TLS 1.3
// rekeying with EKEYEXPIRED, and what goes on the wire (checked with the reference
// implementation on a receiver without keys).
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "control/knobs.h"
#include "linux_abi/linux_abi_test_util.h"

namespace ktls::linux_abi_test {
namespace {

constexpr std::string_view kTestRead = std::string_view("test_read", 10);

class TlsControlTest : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    ASSERT_EQ(AttachUlp(fd()), 0);
    ASSERT_EQ(AttachUlp(cfd()), 0);
    ASSERT_EQ(SetTx(fd(), info_), 0);
    ASSERT_EQ(SetRx(cfd(), info_), 0);
  }

  int fd() const { return pair_.fd; }
  int cfd() const { return pair_.cfd; }
  bool tls13() const { return GetParam().tls13(); }

  SocketPair pair_;
  CryptoInfo info_{GetParam().version, GetParam().cipher, 0};
  CryptoInfo next_{GetParam().version, GetParam().cipher, 1};
};

TEST_P(TlsControlTest, ControlMsg) {
  ASSERT_EQ(SendRecord(fd(), kControlType, kTestRead.data(), 10), 10);
  char buf[16] = {};
  // A control record needs room for its type.
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), -EIO);
  int type = 0;
  ASSERT_EQ(RecvRecord(cfd(), &type, buf, sizeof(buf), MSG_PEEK), 10);
  EXPECT_EQ(type, kControlType);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
  std::memset(buf, 0, sizeof(buf));
  ASSERT_EQ(RecvRecord(cfd(), &type, buf, sizeof(buf)), 10);
  EXPECT_EQ(type, kControlType);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
}

TEST_P(TlsControlTest, ControlMsgNomerge) {
  const std::string first = "rec1_12345";
  const std::string second = "rec2_67890";
  ASSERT_EQ(SendRecord(fd(), kControlType, first.data(), first.size()), 10);
  ASSERT_EQ(SendRecord(fd(), kControlType, second.data(), second.size()), 10);
  char buf[20] = {};
  int type = 0;
  // Room for both, yet control records come one at a time.
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(RecvRecord(cfd(), &type, buf, sizeof(buf), MSG_PEEK), 10);
    EXPECT_EQ(std::string_view(buf, 10), first);
  }
  ASSERT_EQ(RecvRecord(cfd(), &type, buf, sizeof(buf)), 10);
  EXPECT_EQ(std::string_view(buf, 10), first);
  ASSERT_EQ(RecvRecord(cfd(), &type, buf, sizeof(buf)), 10);
  EXPECT_EQ(std::string_view(buf, 10), second);
  EXPECT_EQ(type, kControlType);
}

TEST_P(TlsControlTest, DataControlData) {
  ASSERT_EQ(SendText(fd(), "hello"), 5);
  ASSERT_EQ(SendRecord(fd(), kControlType, "ctrl!", 5), 5);
  ASSERT_EQ(SendText(fd(), "world"), 5);
  char buf[64] = {};
  // A peek stops at the control record, every time.
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_PEEK), 5);
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_PEEK), 5);
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 5);
  EXPECT_EQ(std::string_view(buf, 5), "hello");
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), -EIO);
  int type = 0;
  ASSERT_EQ(RecvRecord(cfd(), &type, buf, sizeof(buf)), 5);
  EXPECT_EQ(type, kControlType);
  EXPECT_EQ(std::string_view(buf, 5), "ctrl!");
  ASSERT_EQ(RecvRecord(cfd(), &type, buf, sizeof(buf)), 5);
  EXPECT_EQ(type, kAppData);  // data records report their type too
  EXPECT_EQ(std::string_view(buf, 5), "world");
}

// A control record read in pieces: each piece comes with the type, and still needs
// a control buffer (§3.7).
TEST_P(TlsControlTest, ControlMsgPartialRead) {
  ASSERT_EQ(SendRecord(fd(), kControlType, kTestRead.data(), 10), 10);
  char buf[16] = {};
  int type = 0;
  ASSERT_EQ(RecvRecord(cfd(), &type, buf, 4), 4);
  EXPECT_EQ(type, kControlType);
  EXPECT_EQ(Recv(cfd(), buf + 4, 6), -EIO);
  ASSERT_EQ(RecvRecord(cfd(), &type, buf + 4, sizeof(buf) - 4), 6);
  EXPECT_EQ(type, kControlType);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
}

// A control payload above 16 KiB becomes several records of that type (§3.6), and a
// read returns one record at most.
TEST_P(TlsControlTest, LargeControlIsSplit) {
  const std::vector<uint8_t> data = Pattern(kMaxPayload + 1000, 21);
  ASSERT_EQ(SendRecord(fd(), kControlType, data.data(), data.size()),
            static_cast<ssize_t>(data.size()));
  std::vector<uint8_t> got(2 * kMaxPayload);
  int type = 0;
  ASSERT_EQ(RecvRecord(cfd(), &type, got.data(), got.size()), static_cast<ssize_t>(kMaxPayload));
  EXPECT_EQ(type, kControlType);
  ASSERT_EQ(RecvRecord(cfd(), &type, got.data() + kMaxPayload, got.size()), 1000);
  EXPECT_EQ(type, kControlType);
  got.resize(data.size());
  EXPECT_EQ(got, data);
}

// tls_sw_sendmsg seals only bytes it copies: an empty send sends no record, and a
// record-type cmsg first pushes the open record even when the send is empty.
TEST_P(TlsControlTest, EmptySendsSendNoRecord) {
  ASSERT_EQ(SendRecord(fd(), kControlType, nullptr, 0), 0);
  ASSERT_EQ(SendText(fd(), ""), 0);
  char buf[16];
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
  ASSERT_EQ(SendText(fd(), "open", MSG_MORE), 4);
  ASSERT_EQ(SendText(fd(), ""), 0);  // no bytes: the record stays open
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
  ASSERT_EQ(SendRecord(fd(), kControlType, nullptr, 0), 0);
  int type = 0;
  ASSERT_EQ(RecvRecord(cfd(), &type, buf, sizeof(buf)), 4);
  EXPECT_EQ(type, kAppData);
  EXPECT_EQ(std::string_view(buf, 4), "open");
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
}

// tls_process_cmsg: a control buffer must hold a well-formed SOL_TLS record type.
TEST_P(TlsControlTest, BadSendCmsg) {
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  char payload[] = "x";
  struct iovec iov = {payload, 1};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);

  cmsg->cmsg_level = SOL_SOCKET;  // no SOL_TLS cmsg at all
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  EXPECT_EQ(SendMsg(fd(), &msg, 0), -EINVAL);

  cmsg->cmsg_level = SOL_TLS;  // the receive-side type
  cmsg->cmsg_type = TLS_GET_RECORD_TYPE;
  cmsg->cmsg_len = CMSG_LEN(1);
  EXPECT_EQ(SendMsg(fd(), &msg, 0), -EINVAL);

  cmsg->cmsg_type = TLS_SET_RECORD_TYPE;  // no room for the type byte
  cmsg->cmsg_len = CMSG_LEN(0);
  EXPECT_EQ(SendMsg(fd(), &msg, 0), -EINVAL);

  char buf[4];
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
}

TEST_P(TlsControlTest, Getsockopt) {
  uint8_t out[64] = {};
  socklen_t len = 4;
  ASSERT_EQ(GetOpt(fd(), SOL_TLS, TLS_TX, out, &len), 0);
  EXPECT_EQ(len, 4u);
  EXPECT_EQ(std::memcmp(out, info_.data(), 4), 0);

  len = info_.size();
  ASSERT_EQ(GetOpt(fd(), SOL_TLS, TLS_TX, out, &len), 0);
  EXPECT_EQ(len, info_.size());
  EXPECT_EQ(std::memcmp(out, info_.data(), info_.size()), 0);

  // Short, long and odd lengths.
  for (const socklen_t bad :
       {socklen_t{0}, socklen_t{3}, socklen_t{5}, info_.size() - 1, info_.size() + 1}) {
    len = bad;
    EXPECT_EQ(GetOpt(fd(), SOL_TLS, TLS_TX, out, &len), -EINVAL) << bad;
  }
  // No keys in that direction yet.
  len = info_.size();
  EXPECT_EQ(GetOpt(fd(), SOL_TLS, TLS_RX, out, &len), -EBUSY);
  EXPECT_EQ(GetOpt(cfd(), SOL_TLS, TLS_TX, out, &len), -EBUSY);
  len = 4;
  EXPECT_EQ(GetOpt(fd(), SOL_TLS, 99, out, &len), -ENOPROTOOPT);
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, 99, out, 4), -ENOPROTOOPT);

  char name[16] = {};
  len = sizeof(name);
  ASSERT_EQ(GetOpt(fd(), SOL_TCP, TCP_ULP, name, &len), 0);
  EXPECT_STREQ(name, "tls");
}

// The full readback carries the live rec_seq, and for TLS 1.2 AES-GCM the live explicit
// nonce counter, in both directions (tls_advance_record_sn runs for TX and RX).
TEST_P(TlsControlTest, GetsockoptFollowsTraffic) {
  constexpr int kRecords = 3;
  for (int i = 0; i < kRecords; ++i) ASSERT_EQ(SendText(fd(), kTestRead), 10);
  char buf[10 * kRecords];
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_WAITALL), 10 * kRecords);

  CryptoInfo expected = info_;
  expected.SetRecSeq(info_.RecSeq() + kRecords);
  if (info_.has_explicit_nonce()) expected.SetIvNumber(info_.IvNumber() + kRecords);
  std::vector<uint8_t> out(info_.size());
  socklen_t len = info_.size();
  ASSERT_EQ(GetOpt(fd(), SOL_TLS, TLS_TX, out.data(), &len), 0);
  EXPECT_EQ(std::memcmp(out.data(), expected.data(), out.size()), 0);
  len = info_.size();
  ASSERT_EQ(GetOpt(cfd(), SOL_TLS, TLS_RX, out.data(), &len), 0);
  EXPECT_EQ(std::memcmp(out.data(), expected.data(), out.size()), 0);
}

TEST_P(TlsControlTest, ZerocopyRo) {
  int value = -1;
  socklen_t len = sizeof(value);
  ASSERT_EQ(GetOpt(fd(), SOL_TLS, TLS_TX_ZEROCOPY_RO, &value, &len), 0);
  EXPECT_EQ(value, 0);
  value = 1;
  ASSERT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX_ZEROCOPY_RO, &value, sizeof(value)), 0);
  value = -1;
  ASSERT_EQ(GetOpt(fd(), SOL_TLS, TLS_TX_ZEROCOPY_RO, &value, &len), 0);
  EXPECT_EQ(value, 1);
  value = 2;
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX_ZEROCOPY_RO, &value, sizeof(value)), -EINVAL);
  const int64_t wide = 1;
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX_ZEROCOPY_RO, &wide, sizeof(wide)), -EINVAL);
  len = 8;
  int64_t wide_out = 0;
  EXPECT_EQ(GetOpt(fd(), SOL_TLS, TLS_TX_ZEROCOPY_RO, &wide_out, &len), -EINVAL);
  // Without NIC offload it changes nothing: sendfile still works.
  const std::vector<uint8_t> content = Pattern(5000);
  const int file = TempFileWith(content);
  EXPECT_EQ(SendFile(fd(), file, nullptr, content.size()), 5000);
  std::vector<uint8_t> got(content.size());
  EXPECT_EQ(Recv(cfd(), got.data(), got.size(), MSG_WAITALL), 5000);
  EXPECT_EQ(got, content);
  close(file);
}

// --- TLS 1.3 rekeying (§2.5). ---

void SendKeyUpdate(int fd) {
  ASSERT_EQ(SendRecord(fd, kHandshake, kKeyUpdate, sizeof(kKeyUpdate)),
            static_cast<ssize_t>(sizeof(kKeyUpdate)));
}

void ReceiveKeyUpdate(int fd, int flags = 0) {
  uint8_t buf[16] = {};
  int type = 0;
  ASSERT_EQ(RecvRecord(fd, &type, buf, sizeof(buf), flags),
            static_cast<ssize_t>(sizeof(kKeyUpdate)));
  EXPECT_EQ(type, kHandshake);
  EXPECT_EQ(std::memcmp(buf, kKeyUpdate, sizeof(kKeyUpdate)), 0);
}

TEST_P(TlsControlTest, Rekey) {
  if (!tls13()) GTEST_SKIP() << "TLS 1.3 only";
  const control::LinuxTlsCounters& stat = control::GetStats().linux_tls;
  const uint64_t received = stat.rx_rekey_received.value();
  const uint64_t rx_ok = stat.rx_rekey_ok.value();
  const uint64_t tx_ok = stat.tx_rekey_ok.value();
  char buf[32] = {};
  for (uint8_t generation = 1; generation <= 2; ++generation) {
    SCOPED_TRACE(::testing::Message() << "generation " << int{generation});
    const CryptoInfo next(GetParam().version, GetParam().cipher, generation);
    const std::string before = "before_" + std::to_string(generation);
    const std::string after = "after_" + std::to_string(generation);
    ASSERT_EQ(SendText(fd(), before), static_cast<ssize_t>(before.size()));
    SendKeyUpdate(fd());
    ASSERT_EQ(SetTx(fd(), next), 0);
    ASSERT_EQ(SendText(fd(), after), static_cast<ssize_t>(after.size()));

    // Data before the KeyUpdate is readable; the read stops there.
    ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), static_cast<ssize_t>(before.size()));
    EXPECT_EQ(std::string_view(buf, before.size()), before);
    EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), -EIO);
    ReceiveKeyUpdate(cfd());
    // Records after it wait for the new key, blocking or not.
    EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), -EKEYEXPIRED);
    EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_DONTWAIT), -EKEYEXPIRED);
    EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_PEEK), -EKEYEXPIRED);
    ASSERT_EQ(SetRx(cfd(), next), 0);
    ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), static_cast<ssize_t>(after.size()));
    EXPECT_EQ(std::string_view(buf, after.size()), after);
    if (HasFailure()) return;
  }
  // /proc/net/tls_stat: TlsRxRekeyReceived, TlsRxRekeyOk, TlsTxRekeyOk.
  EXPECT_EQ(stat.rx_rekey_received.value() - received, 2u);
  EXPECT_EQ(stat.rx_rekey_ok.value() - rx_ok, 2u);
  EXPECT_EQ(stat.tx_rekey_ok.value() - tx_ok, 2u);
}

TEST_P(TlsControlTest, RekeyFail) {
  const control::LinuxTlsCounters& stat = control::GetStats().linux_tls;
  const uint64_t tx_errors = stat.tx_rekey_error.value();
  const uint64_t rx_errors = stat.rx_rekey_error.value();
  char buf[16] = {};
  if (!tls13()) {
    // TLS 1.2 has no KeyUpdate: a second install is refused in both directions.
    EXPECT_EQ(SetTx(fd(), next_), -EBUSY);
    EXPECT_EQ(SetRx(cfd(), next_), -EBUSY);
    EXPECT_EQ(SetTx(fd(), info_), -EBUSY);
  } else {
    CryptoInfo other_version(TLS_1_2_VERSION, GetParam().cipher, 1);
    EXPECT_EQ(SetTx(fd(), other_version), -EINVAL);
    EXPECT_EQ(SetRx(cfd(), other_version), -EINVAL);
    const uint16_t other = GetParam().cipher == TLS_CIPHER_AES_GCM_128 ? TLS_CIPHER_AES_GCM_256
                                                                       : TLS_CIPHER_AES_GCM_128;
    CryptoInfo other_cipher(TLS_1_3_VERSION, other, 1);
    EXPECT_EQ(SetTx(fd(), other_cipher), -EINVAL);
    EXPECT_EQ(SetRx(cfd(), other_cipher), -EINVAL);
    // A bad length leaves the key in place too.
    EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX, next_.data(), next_.size() - 1), -EINVAL);
  }
  // Every refused replacement counts as a rekey error (TLS 1.2's EBUSY too).
  EXPECT_EQ(stat.tx_rekey_error.value() - tx_errors, tls13() ? 3u : 2u);
  EXPECT_EQ(stat.rx_rekey_error.value() - rx_errors, tls13() ? 2u : 1u);
  // The old keys still work.
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
  if (!tls13()) return;
  // And a good rekey still goes through.
  SendKeyUpdate(fd());
  ASSERT_EQ(SetTx(fd(), next_), 0);
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  ReceiveKeyUpdate(cfd());
  ASSERT_EQ(SetRx(cfd(), next_), 0);
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
}

TEST_P(TlsControlTest, RekeyPeek) {
  if (!tls13()) GTEST_SKIP() << "TLS 1.3 only";
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  SendKeyUpdate(fd());
  ASSERT_EQ(SetTx(fd(), next_), 0);
  ASSERT_EQ(SendText(fd(), "after"), 5);
  char buf[64] = {};
  // A large peek stops at the KeyUpdate, even one that wants all of its buffer.
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_PEEK), 10);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_PEEK | MSG_WAITALL), 10);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(kTimeoutMs / 2));
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
  ReceiveKeyUpdate(cfd(), MSG_PEEK);
  ReceiveKeyUpdate(cfd());
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT), -EKEYEXPIRED);
  ASSERT_EQ(SetRx(cfd(), next_), 0);
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_PEEK), 5);
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 5);
  EXPECT_EQ(std::string_view(buf, 5), "after");
}

TEST_P(TlsControlTest, RekeyGetsockopt) {
  std::vector<uint8_t> out(info_.size());
  socklen_t len = info_.size();
  ASSERT_EQ(GetOpt(fd(), SOL_TLS, TLS_TX, out.data(), &len), 0);
  EXPECT_EQ(std::memcmp(out.data(), info_.data(), out.size()), 0);
  len = info_.size();
  ASSERT_EQ(GetOpt(cfd(), SOL_TLS, TLS_RX, out.data(), &len), 0);
  EXPECT_EQ(std::memcmp(out.data(), info_.data(), out.size()), 0);
  if (!tls13()) return;

  ASSERT_EQ(SetTx(fd(), next_), 0);
  ASSERT_EQ(SetRx(cfd(), next_), 0);
  len = next_.size();
  ASSERT_EQ(GetOpt(fd(), SOL_TLS, TLS_TX, out.data(), &len), 0);
  EXPECT_EQ(std::memcmp(out.data(), next_.data(), out.size()), 0);
  len = next_.size();
  ASSERT_EQ(GetOpt(cfd(), SOL_TLS, TLS_RX, out.data(), &len), 0);
  EXPECT_EQ(std::memcmp(out.data(), next_.data(), out.size()), 0);
  // The new keys carry traffic.
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  char buf[10];
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
}

// Not readable while the key is pending; installing it wakes a poller that sleeps.
TEST_P(TlsControlTest, RekeyPollPending) {
  if (!tls13()) GTEST_SKIP() << "TLS 1.3 only";
  SendKeyUpdate(fd());
  ASSERT_EQ(SetTx(fd(), next_), 0);
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  ReceiveKeyUpdate(cfd());
  EXPECT_EQ(Poll(cfd(), POLLIN, 0), 0);
  EXPECT_EQ(Poll(cfd(), POLLIN, 20), 0);

  std::atomic<int> polled{-1};
  std::atomic<long> waited_ms{0};
  std::thread poller([&] {
    const auto start = std::chrono::steady_clock::now();
    short revents = 0;
    polled = Poll(cfd(), POLLIN, kTimeoutMs, &revents);
    waited_ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - start)
                                      .count());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(polled.load(), -1) << "readable before the key was installed";
  ASSERT_EQ(SetRx(cfd(), next_), 0);
  poller.join();
  EXPECT_EQ(polled.load(), 1);
  EXPECT_LT(waited_ms.load(), kTimeoutMs / 2);
  char buf[10];
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf), MSG_DONTWAIT), 10);
}

// The key is installed first and the data comes later: the poller wakes for the data.
TEST_P(TlsControlTest, RekeyPollDelay) {
  if (!tls13()) GTEST_SKIP() << "TLS 1.3 only";
  SendKeyUpdate(fd());
  ASSERT_EQ(SetTx(fd(), next_), 0);
  ReceiveKeyUpdate(cfd());
  std::atomic<int> polled{-1};
  std::thread poller([&] { polled = Poll(cfd(), POLLIN, kTimeoutMs); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(SetRx(cfd(), next_), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(polled.load(), -1);
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  poller.join();
  EXPECT_EQ(polled.load(), 1);
  char buf[10];
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
}

// Only a handshake record starting with KeyUpdate (24) pauses the receiver.
TEST_P(TlsControlTest, OtherHandshakeDoesNotPause) {
  const uint8_t ticket[] = {0x04, 0x00, 0x00, 0x01, 0x00};  // NewSessionTicket
  ASSERT_EQ(SendRecord(fd(), kHandshake, ticket, sizeof(ticket)), 5);
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  char buf[16];
  int type = 0;
  ASSERT_EQ(RecvRecord(cfd(), &type, buf, sizeof(buf)), 5);
  EXPECT_EQ(type, kHandshake);
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
}

INSTANTIATE_TEST_SUITE_P(Linux, TlsControlTest, ::testing::ValuesIn(AllVariants()), VariantName);

// --- The wire: `fd` has TX keys, `cfd` reads raw records. ---

class TlsWireTest : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    // A non-trivial starting point, with a carry soon in the explicit nonce.
    info_.SetIvNumber(0x01020304050607fdull);
    info_.SetRecSeq(5);
    for (size_t i = 0; i < info_.key().size(); ++i) info_.key()[i] = static_cast<uint8_t>(i * 7);
    for (size_t i = 0; i < info_.salt().size(); ++i)
      info_.salt()[i] = static_cast<uint8_t>(0xa0 + i);
    ASSERT_EQ(AttachUlp(fd()), 0);
    ASSERT_EQ(SetTx(fd(), info_), 0);
  }

  int fd() const { return pair_.fd; }
  int cfd() const { return pair_.cfd; }

  size_t Overhead() const {
    if (info_.tls13()) return 5 + 1 + 16;
    return info_.has_explicit_nonce() ? 5 + 8 + 16 : 5 + 16;
  }

  // Reads the next record and opens it with the reference, as record number `index`.
  testing::ReferenceOpened Next(std::vector<uint8_t>* raw = nullptr) {
    std::vector<uint8_t> record = ReadRawRecord(cfd());
    testing::ReferenceOpened opened;
    if (record.empty()) {
      ADD_FAILURE() << "no record";
      opened.error = testing::ReferenceError::kBadSize;
      return opened;
    }
    EXPECT_EQ(record[1], 3);
    EXPECT_EQ(record[2], 3);
    if (info_.has_explicit_nonce()) {
      EXPECT_EQ(LoadBe64(record.data() + 5), info_.IvNumber() + index_) << "record " << index_;
    }
    opened = info_.Open(info_.RecSeq() + index_, record);
    EXPECT_TRUE(opened.ok()) << testing::ReferenceErrorName(opened.error) << " record " << index_;
    EXPECT_EQ(record.size(), opened.payload.size() + Overhead());
    ++index_;
    if (raw != nullptr) *raw = std::move(record);
    return opened;
  }

  SocketPair pair_;
  CryptoInfo info_{GetParam().version, GetParam().cipher};
  uint64_t index_ = 0;
};

TEST_P(TlsWireTest, RecordsAndExplicitNonce) {
  for (int i = 0; i < 5; ++i) {
    const std::string text = "record " + std::to_string(i);
    ASSERT_EQ(SendText(fd(), text), static_cast<ssize_t>(text.size()));
    std::vector<uint8_t> raw;
    const testing::ReferenceOpened opened = Next(&raw);
    EXPECT_EQ(raw[0], kAppData);
    EXPECT_EQ(opened.type, kAppData);
    EXPECT_EQ(ToString(opened.payload), text);
  }
}

TEST_P(TlsWireTest, ControlRecordType) {
  ASSERT_EQ(SendRecord(fd(), 21, "\x01\x00", 2), 2);
  std::vector<uint8_t> raw;
  const testing::ReferenceOpened opened = Next(&raw);
  // TLS 1.3 hides the type inside; the outer type is always application data.
  EXPECT_EQ(raw[0], info_.tls13() ? kAppData : 21);
  EXPECT_EQ(opened.type, 21);
  EXPECT_EQ(opened.payload.size(), 2u);
}

TEST_P(TlsWireTest, MsgMoreFraming) {
  ASSERT_EQ(SendText(fd(), "0123456789", MSG_MORE), 10);
  ASSERT_EQ(SendText(fd(), "abcdefghij"), 10);
  EXPECT_EQ(ToString(Next().payload), "0123456789abcdefghij");

  // A long MSG_MORE send closes full records and keeps the tail open.
  const std::vector<uint8_t> big = Pattern(kMaxPayload + 3000, 31);
  ASSERT_EQ(Send(fd(), big.data(), big.size(), MSG_MORE), static_cast<ssize_t>(big.size()));
  EXPECT_EQ(Next().payload.size(), kMaxPayload);
  ASSERT_EQ(SendText(fd(), "end"), 3);
  EXPECT_EQ(Next().payload.size(), 3003u);

  // A control record first closes the open data record.
  ASSERT_EQ(SendText(fd(), "data", MSG_MORE), 4);
  ASSERT_EQ(SendRecord(fd(), kControlType, "ctrl", 4), 4);
  testing::ReferenceOpened data = Next();
  EXPECT_EQ(data.type, kAppData);
  EXPECT_EQ(ToString(data.payload), "data");
  testing::ReferenceOpened control = Next();
  EXPECT_EQ(control.type, kControlType);
  EXPECT_EQ(ToString(control.payload), "ctrl");

  // MSG_EOR ends the open record like a send without MSG_MORE.
  ASSERT_EQ(SendText(fd(), "a", MSG_MORE), 1);
  ASSERT_EQ(SendText(fd(), "b", MSG_EOR), 1);
  EXPECT_EQ(ToString(Next().payload), "ab");
}

// A record-type cmsg pushes the open record whatever the type, data included; an
// empty send pushes nothing.
TEST_P(TlsWireTest, CmsgPushesOpenRecord) {
  ASSERT_EQ(SendText(fd(), "abc", MSG_MORE), 3);
  ASSERT_EQ(SendText(fd(), ""), 0);
  ASSERT_EQ(SendRecord(fd(), kAppData, "def", 3), 3);
  EXPECT_EQ(ToString(Next().payload), "abc");
  EXPECT_EQ(ToString(Next().payload), "def");
  ASSERT_EQ(SendText(fd(), "ghi", MSG_MORE), 3);
  ASSERT_EQ(SendRecord(fd(), kControlType, nullptr, 0), 0);
  ASSERT_EQ(SendText(fd(), "z"), 1);
  EXPECT_EQ(ToString(Next().payload), "ghi");
  const testing::ReferenceOpened last = Next();
  EXPECT_EQ(last.type, kAppData);  // no empty control record in between
  EXPECT_EQ(ToString(last.payload), "z");
}

TEST_P(TlsWireTest, SendfileRecordsAtMost16k) {
  const std::vector<uint8_t> content = Pattern(2 * kMaxPayload + 500, 41);
  const int file = TempFileWith(content);
  ASSERT_EQ(SendFile(fd(), file, nullptr, content.size()), static_cast<ssize_t>(content.size()));
  std::vector<uint8_t> got;
  while (got.size() < content.size()) {
    const testing::ReferenceOpened opened = Next();
    ASSERT_TRUE(opened.ok());
    EXPECT_LE(opened.payload.size(), kMaxPayload);
    got.insert(got.end(), opened.payload.begin(), opened.payload.end());
  }
  EXPECT_EQ(got, content);
  close(file);
}

TEST_P(TlsWireTest, TxMaxPayloadLen) {
  uint16_t limit = 128;
  ASSERT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &limit, sizeof(limit)), 0);
  uint16_t out = 0;
  socklen_t len = sizeof(uint32_t);
  ASSERT_EQ(GetOpt(fd(), SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &out, &len), 0);
  EXPECT_EQ(out, 128);
  EXPECT_EQ(len, 2u);
  len = 1;
  EXPECT_EQ(GetOpt(fd(), SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &out, &len), -EINVAL);

  const std::vector<uint8_t> data = Pattern(1024, 51);
  ASSERT_EQ(Send(fd(), data.data(), data.size()), 1024);
  std::vector<uint8_t> got;
  while (got.size() < data.size()) {
    const testing::ReferenceOpened opened = Next();
    ASSERT_TRUE(opened.ok());
    EXPECT_LE(opened.payload.size(), 128u);
    got.insert(got.end(), opened.payload.begin(), opened.payload.end());
  }
  EXPECT_EQ(got, data);
  EXPECT_EQ(index_, 8u);

  // Range: 64 (63 for TLS 1.3, whose limit excludes the inner type byte) to 16384.
  const uint16_t minimum = info_.tls13() ? 63 : 64;
  limit = minimum - 1;
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &limit, sizeof(limit)), -EINVAL);
  limit = minimum;
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &limit, sizeof(limit)), 0);
  limit = 16385;
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &limit, sizeof(limit)), -EINVAL);
  const uint32_t wide = 1000;
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &wide, sizeof(wide)), -EINVAL);
  limit = 16384;
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &limit, sizeof(limit)), 0);
}

TEST_P(TlsWireTest, TxMaxPayloadLenOpenRec) {
  uint16_t limit = 512;
  ASSERT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &limit, sizeof(limit)), 0);
  const std::vector<uint8_t> data = Pattern(1100, 61);
  ASSERT_EQ(Send(fd(), data.data(), 100, MSG_MORE), 100);
  // A record is open: the limit cannot change under it (checked before the length).
  limit = 256;
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &limit, sizeof(limit)), -EBUSY);
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &limit, 1), -EBUSY);
  ASSERT_EQ(Send(fd(), data.data() + 100, 1000, MSG_EOR), 1000);
  std::vector<uint8_t> got;
  while (got.size() < data.size()) {
    const testing::ReferenceOpened opened = Next();
    ASSERT_TRUE(opened.ok());
    EXPECT_LE(opened.payload.size(), 512u);
    got.insert(got.end(), opened.payload.begin(), opened.payload.end());
  }
  EXPECT_EQ(got, data);
  // Nothing open any more: the change goes through.
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &limit, sizeof(limit)), 0);
}

INSTANTIATE_TEST_SUITE_P(Linux, TlsWireTest, ::testing::ValuesIn(AllVariants()), VariantName);

}  // namespace
}  // namespace ktls::linux_abi_test
