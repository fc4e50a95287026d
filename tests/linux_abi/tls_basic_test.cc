// Linux's `tls_basic` fixture and plain TESTs (linux-ktls.md §4.2): attaching the ULP,
// validating crypto_info (§3.2), sequence wrap, rekeying before traffic, the optional
// options, IPv6, and data queued before TLS_RX.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "api/linux_abi.h"
#include "ktls/freebsd.h"
#include "linux_abi/linux_abi_test_util.h"
#include "testlib/tcp_pair.h"

namespace ktls::linux_abi_test {
namespace {

namespace abi = api::linux_abi;

constexpr std::string_view kTestRead = std::string_view("test_read", 10);

// Closes a descriptor the emulation may know, whatever happens to the test.
struct Fd {
  explicit Fd(int value) : fd(value) {}
  ~Fd() {
    if (fd >= 0) ktls_close(fd);
  }
  int fd;
};

class TlsBasicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(AttachUlp(fd()), 0);
    ASSERT_EQ(AttachUlp(cfd()), 0);
  }
  int fd() const { return pair_.fd; }
  int cfd() const { return pair_.cfd; }
  SocketPair pair_;
};

TEST_F(TlsBasicTest, BaseBase) {
  // The ULP alone changes nothing: clear text both ways, through the real calls.
  EXPECT_TRUE(abi::IsEmulated(fd()));
  EXPECT_FALSE(abi::HasTx(fd()));
  EXPECT_FALSE(abi::HasRx(cfd()));
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  uint8_t raw[10] = {};
  ASSERT_TRUE(testing::ReadExactly(cfd(), raw, sizeof(raw)));
  EXPECT_EQ(std::string_view(reinterpret_cast<char*>(raw), 10), kTestRead);
  ASSERT_EQ(SendText(cfd(), kTestRead), 10);
  char buf[10] = {};
  ASSERT_EQ(Recv(fd(), buf, sizeof(buf), MSG_WAITALL), 10);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
  uint8_t out[64];
  socklen_t len = sizeof(out);
  EXPECT_EQ(GetOpt(fd(), SOL_TLS, TLS_TX, out, &len), -EBUSY);
}

TEST_F(TlsBasicTest, BadCipher) {
  CryptoInfo info(TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128);
  const uint16_t bad_version = 200;
  std::memcpy(info.data(), &bad_version, 2);
  EXPECT_EQ(SetTx(fd(), info), -EINVAL);
  for (const uint16_t cipher : {50, 59, 10, 70}) {
    EXPECT_EQ(SetTx(fd(), CryptoInfo(TLS_1_2_VERSION, cipher)), -EINVAL) << cipher;
    EXPECT_EQ(SetTx(fd(), CryptoInfo(TLS_1_3_VERSION, cipher)), -EINVAL) << cipher;
  }
  // Size checks: the header itself, then the cipher's exact struct size.
  const CryptoInfo good(TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128);
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX, good.data(), 3), -EINVAL);
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX, nullptr, good.size()), -EINVAL);
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX, good.data(), good.size() - 1), -EINVAL);
  std::vector<uint8_t> longer(good.data(), good.data() + good.size());
  longer.push_back(0);
  EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX, longer.data(), longer.size()), -EINVAL);
  // ARIA exists only for TLS 1.2; that check comes before the AEAD lookup.
  EXPECT_EQ(SetTx(fd(), CryptoInfo(TLS_1_3_VERSION, TLS_CIPHER_ARIA_GCM_128)), -EINVAL);
  EXPECT_EQ(SetTx(fd(), CryptoInfo(TLS_1_3_VERSION, TLS_CIPHER_ARIA_GCM_256)), -EINVAL);
  // Nothing was installed by any of that.
  EXPECT_FALSE(abi::HasTx(fd()));
}

// Ciphers Linux knows but this engine does not run fail like a kernel without the AEAD
// (ENOENT), and only after every other check passed.
TEST_F(TlsBasicTest, UnsupportedCiphersAreENOENT) {
  for (const uint16_t cipher : {TLS_CIPHER_AES_CCM_128, TLS_CIPHER_SM4_GCM, TLS_CIPHER_SM4_CCM}) {
    for (const uint16_t version : {TLS_1_2_VERSION, TLS_1_3_VERSION}) {
      const CryptoInfo info(version, cipher);
      EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX, info.data(), info.size() - 1), -EINVAL) << cipher;
      EXPECT_EQ(SetTx(fd(), info), -ENOENT) << cipher;
      EXPECT_EQ(SetRx(cfd(), info), -ENOENT) << cipher;
    }
  }
  for (const uint16_t cipher : {TLS_CIPHER_ARIA_GCM_128, TLS_CIPHER_ARIA_GCM_256}) {
    const CryptoInfo info(TLS_1_2_VERSION, cipher);
    EXPECT_EQ(SetOpt(fd(), SOL_TLS, TLS_TX, info.data(), info.size() + 1), -EINVAL) << cipher;
    EXPECT_EQ(SetTx(fd(), info), -ENOENT) << cipher;
  }
  // A mismatch with the installed direction is EINVAL, never ENOENT.
  ASSERT_EQ(SetTx(fd(), CryptoInfo(TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128)), 0);
  EXPECT_EQ(SetRx(fd(), CryptoInfo(TLS_1_2_VERSION, TLS_CIPHER_AES_CCM_128)), -EINVAL);
  EXPECT_FALSE(abi::HasRx(fd()));
}

TEST_F(TlsBasicTest, DirectionsMustMatch) {
  ASSERT_EQ(SetTx(fd(), CryptoInfo(TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128)), 0);
  EXPECT_EQ(SetRx(fd(), CryptoInfo(TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128)), -EINVAL);
  EXPECT_EQ(SetRx(fd(), CryptoInfo(TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_256)), -EINVAL);
  EXPECT_EQ(SetRx(fd(), CryptoInfo(TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128)), 0);
}

class TlsBasicVariantTest : public TlsBasicTest, public ::testing::WithParamInterface<Variant> {};

TEST_P(TlsBasicVariantTest, RecseqWrap) {
  CryptoInfo info(GetParam().version, GetParam().cipher);
  info.SetRecSeq(~uint64_t{0});
  ASSERT_EQ(SetTx(fd(), info), 0);
  // The last sequence number cannot be used: the stream would wrap.
  EXPECT_EQ(SendText(fd(), kTestRead), -EBADMSG);
  EXPECT_LT(SendText(fd(), kTestRead), 0);
}

TEST_P(TlsBasicVariantTest, RecseqLastUsable) {
  CryptoInfo info(GetParam().version, GetParam().cipher);
  info.SetRecSeq(~uint64_t{0} - 1);
  ASSERT_EQ(SetTx(fd(), info), 0);
  ASSERT_EQ(SetRx(cfd(), info), 0);
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  char buf[10];
  EXPECT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
  EXPECT_EQ(SendText(fd(), kTestRead), -EBADMSG);
}

TEST_P(TlsBasicVariantTest, RekeyRx) {
  const CryptoInfo gen0(GetParam().version, GetParam().cipher, 0);
  const CryptoInfo gen1(GetParam().version, GetParam().cipher, 1);
  ASSERT_EQ(SetRx(cfd(), gen0), 0);
  if (!GetParam().tls13()) {
    EXPECT_EQ(SetRx(cfd(), gen1), -EBUSY);
    return;
  }
  ASSERT_EQ(SetRx(cfd(), gen1), 0);
  ASSERT_EQ(SetTx(fd(), gen1), 0);
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  char buf[10] = {};
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
}

TEST_P(TlsBasicVariantTest, RekeyTx) {
  const CryptoInfo gen0(GetParam().version, GetParam().cipher, 0);
  const CryptoInfo gen1(GetParam().version, GetParam().cipher, 1);
  ASSERT_EQ(SetTx(fd(), gen0), 0);
  if (!GetParam().tls13()) {
    EXPECT_EQ(SetTx(fd(), gen1), -EBUSY);
    return;
  }
  ASSERT_EQ(SetTx(fd(), gen1), 0);
  ASSERT_EQ(SetRx(cfd(), gen1), 0);
  ASSERT_EQ(SendText(fd(), kTestRead), 10);
  char buf[10] = {};
  ASSERT_EQ(Recv(cfd(), buf, sizeof(buf)), 10);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
}

// Data queued in TCP before TLS_RX is records from then on (the strparser parses the
// queue at once).
TEST_P(TlsBasicVariantTest, Prequeue) {
  const CryptoInfo info(GetParam().version, GetParam().cipher);
  ASSERT_EQ(SetTx(fd(), info), 0);
  const std::vector<uint8_t> data = Pattern(20000, 77);
  ASSERT_EQ(Send(fd(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ASSERT_TRUE(WaitForQueued(cfd(), data.size()));
  ASSERT_EQ(SetRx(cfd(), info), 0);
  std::vector<uint8_t> got(data.size());
  ASSERT_EQ(Recv(cfd(), got.data(), got.size(), MSG_WAITALL), static_cast<ssize_t>(data.size()));
  EXPECT_EQ(got, data);
}

TEST_P(TlsBasicVariantTest, V6Ops) {
  SocketPair pair6(AF_INET6);
  struct sockaddr_in6 before = {};
  struct sockaddr_in6 after = {};
  socklen_t len = sizeof(before);
  ASSERT_EQ(getsockname(pair6.fd, reinterpret_cast<struct sockaddr*>(&before), &len), 0);
  const CryptoInfo info(GetParam().version, GetParam().cipher);
  ASSERT_EQ(AttachUlp(pair6.fd), 0);
  ASSERT_EQ(AttachUlp(pair6.cfd), 0);
  ASSERT_EQ(SetTx(pair6.fd, info), 0);
  ASSERT_EQ(SetRx(pair6.fd, info), 0);
  ASSERT_EQ(SetTx(pair6.cfd, info), 0);
  ASSERT_EQ(SetRx(pair6.cfd, info), 0);
  len = sizeof(after);
  ASSERT_EQ(getsockname(pair6.fd, reinterpret_cast<struct sockaddr*>(&after), &len), 0);
  EXPECT_EQ(len, sizeof(after));
  EXPECT_EQ(std::memcmp(&before, &after, sizeof(after)), 0);
  char buf[10] = {};
  ASSERT_EQ(SendText(pair6.fd, kTestRead), 10);
  ASSERT_EQ(Recv(pair6.cfd, buf, sizeof(buf)), 10);
  ASSERT_EQ(SendText(pair6.cfd, kTestRead), 10);
  ASSERT_EQ(Recv(pair6.fd, buf, sizeof(buf)), 10);
  EXPECT_EQ(std::string_view(buf, 10), kTestRead);
}

INSTANTIATE_TEST_SUITE_P(Linux, TlsBasicVariantTest, ::testing::ValuesIn(AllVariants()),
                         VariantName);

TEST(TlsUlpTest, NonEstablished) {
  Fd unconnected(socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_GE(unconnected.fd, 0);
  EXPECT_EQ(AttachUlp(unconnected.fd), -ENOTCONN);
  EXPECT_FALSE(abi::IsEmulated(unconnected.fd));

  Fd listener(socket(AF_INET, SOCK_STREAM, 0));
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(listener.fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener.fd, 1), 0);
  ASSERT_EQ(getsockname(listener.fd, reinterpret_cast<struct sockaddr*>(&addr), &len), 0);
  EXPECT_EQ(AttachUlp(listener.fd), -ENOTCONN);

  // The same socket once connected takes the ULP, once.
  ASSERT_EQ(connect(unconnected.fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)), 0);
  Fd accepted(accept(listener.fd, nullptr, nullptr));
  ASSERT_GE(accepted.fd, 0);
  EXPECT_EQ(AttachUlp(unconnected.fd), 0);
  EXPECT_EQ(AttachUlp(unconnected.fd), -EEXIST);
  EXPECT_TRUE(abi::IsEmulated(unconnected.fd));
}

TEST(TlsUlpTest, NotTcp) {
  Fd udp(socket(AF_INET, SOCK_DGRAM, 0));
  EXPECT_EQ(AttachUlp(udp.fd), -ENOPROTOOPT);
  EXPECT_FALSE(abi::IsEmulated(udp.fd));
}

TEST(TlsUlpTest, OtherUlpNamesAreNotOurs) {
  SocketPair pair;
  EXPECT_EQ(abi::Setsockopt(pair.fd, SOL_TCP, TCP_ULP, "mptcp", sizeof("mptcp")), abi::kNotHandled);
  EXPECT_FALSE(abi::IsEmulated(pair.fd));
}

// linux-ktls.md §3.1 (UNVERIFIED): SOL_TLS before the ULP is not ours; the kernel
// answers it (TCP passes the level to IP, which knows no such option: ENOPROTOOPT).
TEST(TlsUlpTest, SolTlsBeforeUlp) {
  SocketPair pair;
  const CryptoInfo info(TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128);
  EXPECT_EQ(abi::Setsockopt(pair.fd, SOL_TLS, TLS_TX, info.data(), info.size()), abi::kNotHandled);
  uint8_t out[64];
  socklen_t len = sizeof(out);
  EXPECT_EQ(abi::Getsockopt(pair.fd, SOL_TLS, TLS_TX, out, &len), abi::kNotHandled);
  EXPECT_EQ(SetOpt(pair.fd, SOL_TLS, TLS_TX, info.data(), info.size()), -ENOPROTOOPT);
  EXPECT_FALSE(abi::IsEmulated(pair.fd));
  // Sends and receives on such a socket are not ours either.
  const char byte = 'x';
  struct iovec iov = {const_cast<char*>(&byte), 1};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  EXPECT_EQ(abi::Sendmsg(pair.fd, &msg, 0), abi::kNotHandled);
}

TEST(TlsOptionsTest, NoPad) {
  SocketPair pair;
  ASSERT_EQ(AttachUlp(pair.cfd), 0);
  int value = 1;
  // RX must exist first.
  EXPECT_EQ(SetOpt(pair.cfd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &value, sizeof(value)), -EINVAL);
  const CryptoInfo info(TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128);
  ASSERT_EQ(SetRx(pair.cfd, info), 0);
  ASSERT_EQ(SetOpt(pair.cfd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &value, sizeof(value)), 0);
  value = -1;
  socklen_t len = sizeof(value);
  ASSERT_EQ(GetOpt(pair.cfd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &value, &len), 0);
  EXPECT_EQ(value, 1);
  EXPECT_EQ(len, 4u);
  value = 0;
  ASSERT_EQ(SetOpt(pair.cfd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &value, sizeof(value)), 0);
  value = -1;
  len = 8;  // a larger buffer is fine; the length comes back as 4
  ASSERT_EQ(GetOpt(pair.cfd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &value, &len), 0);
  EXPECT_EQ(value, 0);
  EXPECT_EQ(len, 4u);
  len = 3;
  EXPECT_EQ(GetOpt(pair.cfd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &value, &len), -EINVAL);

  value = 2;
  EXPECT_EQ(SetOpt(pair.cfd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &value, sizeof(value)), -EINVAL);
  const int64_t trailing_zero = 1;
  EXPECT_EQ(SetOpt(pair.cfd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &trailing_zero, 8), 0);
  const uint8_t trailing_junk[8] = {1, 0, 0, 0, 0, 0, 1, 0};
  EXPECT_EQ(SetOpt(pair.cfd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, trailing_junk, 8), -EINVAL);
  EXPECT_EQ(SetOpt(pair.cfd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &value, 2), -EINVAL);

  // With the hint set, a padded record (the peer broke the promise) still opens.
  const std::vector<uint8_t> payload = Pattern(40);
  testing::ReferenceSealOptions options;
  options.tls13_padding = 17;
  const std::vector<uint8_t> record =
      testing::ReferenceSeal(info.Reference(), 0, kAppData, payload, options);
  ASSERT_TRUE(WriteRaw(pair.fd, record));
  std::vector<uint8_t> got(64);
  ASSERT_EQ(Recv(pair.cfd, got.data(), got.size()), 40);
  got.resize(40);
  EXPECT_EQ(got, payload);
}

// recvmsg_nopad_retry_iov: with the no-padding hint a control record (which Linux
// decrypts a second time) still lands in the first iovec only; later ones stay untouched.
TEST(TlsOptionsTest, NoPadControlRecordIovecs) {
  SocketPair pair;
  const CryptoInfo info(TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128);
  ASSERT_EQ(AttachUlp(pair.fd), 0);
  ASSERT_EQ(AttachUlp(pair.cfd), 0);
  ASSERT_EQ(SetTx(pair.fd, info), 0);
  ASSERT_EQ(SetRx(pair.cfd, info), 0);
  const int one = 1;
  ASSERT_EQ(SetOpt(pair.cfd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one, sizeof(one)), 0);
  const std::vector<uint8_t> payload = Pattern(20, 5);
  ASSERT_EQ(SendRecord(pair.fd, kControlType, payload.data(), payload.size()), 20);
  std::vector<uint8_t> bufs[3] = {std::vector<uint8_t>(32, 0xaa), std::vector<uint8_t>(32, 0xaa),
                                  std::vector<uint8_t>(32, 0xaa)};
  struct iovec iov[3];
  for (int i = 0; i < 3; ++i) iov[i] = {bufs[i].data(), bufs[i].size()};
  alignas(struct cmsghdr) char control[CMSG_SPACE(1)] = {};
  struct msghdr msg = {};
  msg.msg_iov = iov;
  msg.msg_iovlen = 3;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ASSERT_EQ(RecvMsg(pair.cfd, &msg, 0), 20);
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), bufs[0].begin()));
  EXPECT_EQ(bufs[0][20], 0xaa);
  EXPECT_EQ(bufs[1], std::vector<uint8_t>(32, 0xaa));
  EXPECT_EQ(bufs[2], std::vector<uint8_t>(32, 0xaa));
  const struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  ASSERT_NE(cmsg, nullptr);
  EXPECT_EQ(cmsg->cmsg_level, SOL_TLS);
  EXPECT_EQ(cmsg->cmsg_type, TLS_GET_RECORD_TYPE);
  EXPECT_EQ(*CMSG_DATA(cmsg), kControlType);
}

TEST(TlsOptionsTest, NoPadIsTls13Only) {
  SocketPair pair;
  ASSERT_EQ(AttachUlp(pair.cfd), 0);
  ASSERT_EQ(SetRx(pair.cfd, CryptoInfo(TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128)), 0);
  int value = 1;
  EXPECT_EQ(SetOpt(pair.cfd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &value, sizeof(value)), -EINVAL);
  socklen_t len = sizeof(value);
  EXPECT_EQ(GetOpt(pair.cfd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &value, &len), -EINVAL);
}

// Before TLS_TX the version is unknown, so the minimum is TLS 1.2's 64; the limit then
// applies to the keys installed later.
TEST(TlsOptionsTest, TxMaxPayloadLenBeforeKeys) {
  SocketPair pair;
  ASSERT_EQ(AttachUlp(pair.fd), 0);
  uint16_t limit = 63;
  EXPECT_EQ(SetOpt(pair.fd, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &limit, sizeof(limit)), -EINVAL);
  uint16_t out = 0;
  socklen_t len = sizeof(out);
  ASSERT_EQ(GetOpt(pair.fd, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &out, &len), 0);
  EXPECT_EQ(out, 16384);
  limit = 64;
  ASSERT_EQ(SetOpt(pair.fd, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &limit, sizeof(limit)), 0);
  const CryptoInfo info(TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128);
  ASSERT_EQ(SetTx(pair.fd, info), 0);
  ASSERT_EQ(GetOpt(pair.fd, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &out, &len), 0);
  EXPECT_EQ(out, 64);
  const std::vector<uint8_t> data = Pattern(200);
  ASSERT_EQ(Send(pair.fd, data.data(), data.size()), 200);
  size_t total = 0;
  for (uint64_t seq = 0; total < data.size(); ++seq) {
    const std::vector<uint8_t> record = ReadRawRecord(pair.cfd);
    ASSERT_FALSE(record.empty());
    const testing::ReferenceOpened opened = info.Open(seq, record);
    ASSERT_TRUE(opened.ok());
    EXPECT_LE(opened.payload.size(), 64u);
    total += opened.payload.size();
  }
  EXPECT_EQ(total, data.size());
}

}  // namespace
}  // namespace ktls::linux_abi_test
