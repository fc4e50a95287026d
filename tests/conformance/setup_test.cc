// ktls_test.c's socket cases (ktls_sendto_baddst, ktls_listening_socket) and what
// ktls(4) specifies beyond ktls_test.c: setsockopt argument handling, the knobs, modes,
// counters, and receive details (errors then data, plain reads, peeking, partial reads).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "conformance.h"
#include "platform/kernel_tls_probe.h"
#include "session/freebsd_session.h"

namespace ktls::conformance {
namespace {

using testing::AesCbcNonZeroSuites;
using testing::AesGcmSuites;
using testing::ChaChaSuites;
using testing::FreeBsdSuite;
using testing::WriteAll;

FreeBsdSuite Suite(const std::string& name) {
  for (const FreeBsdSuite& s : testing::AllValidSuites()) {
    if (s.name == name) return s;
  }
  ADD_FAILURE() << "no suite " << name;
  return testing::AllValidSuites().front();
}

const FreeBsdSuite kGcm13 = Suite("aes128_gcm_1_3");
const FreeBsdSuite kGcm12 = Suite("aes256_gcm_1_2");
const FreeBsdSuite kCbc12 = Suite("aes128_cbc_1_2_sha256");
const FreeBsdSuite kChaCha12 = Suite("chacha20_poly1305_1_2");

int GetMode(int fd, int optname) {
  int mode = -1;
  socklen_t len = sizeof(mode);
  if (ktls_getsockopt(fd, IPPROTO_TCP, optname, &mode, &len) != 0) return -errno - 1000;
  EXPECT_EQ(len, sizeof(int));
  return mode;
}

int SetTxMode(int fd, int mode) {
  return ktls_setsockopt(fd, IPPROTO_TCP, TCP_TXTLS_MODE, &mode, sizeof(mode));
}

// Writes `n` bytes with ktls_write and checks they arrive as one record at `verifier`'s
// next sequence number.
void WriteAndVerify(int tx, int peer, TxVerifier& verifier, size_t n) {
  const std::vector<uint8_t> data = RandomBytes(n);
  ASSERT_EQ(ktls_write(tx, data.data(), data.size()), static_cast<ssize_t>(n));
  const auto record = verifier.Next(peer, TLS_RLTYPE_APP);
  ASSERT_TRUE(record.has_value());
  EXPECT_TRUE(record->opened.payload == data);
}

// A descriptor closed with ktls_close however the test ends.
struct ScopedFd {
  explicit ScopedFd(int descriptor) : fd(descriptor) {}
  ~ScopedFd() {
    if (fd >= 0) ktls_close(fd);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int fd;
};

// A page that cannot be read: a key pointer into it must give EFAULT, not a crash.
struct UnreadablePage {
  UnreadablePage() { addr = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); }
  ~UnreadablePage() {
    if (addr != MAP_FAILED) munmap(addr, 4096);
  }
  const uint8_t* get() const { return static_cast<const uint8_t*>(addr); }
  void* addr;
};

// --- ktls_test.c: ktls_sendto_baddst, ktls_listening_socket --------------------------

TEST(Socket, sendto_baddst) {
  const ScopedFd s(NewTcpSocket());
  ASSERT_GE(s.fd, 0);
  TlsEnableBuilder builder(kGcm13);
  // An unconnected socket takes a TX session.
  ASSERT_TRUE(Succeeds(EnableTx(s.fd, builder.get())));

  struct sockaddr_in dst = {};
  dst.sin_family = AF_INET;
  dst.sin_addr.s_addr = htonl(INADDR_BROADCAST);
  dst.sin_port = htons(12345);
  char buf[32] = {};
  struct iovec iov = {buf, sizeof(buf)};
  struct msghdr msg = {};
  msg.msg_name = &dst;
  msg.msg_namelen = sizeof(dst);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  // Can't transmit to the broadcast address over TCP.
  EXPECT_TRUE(FailsWith(ktls_sendmsg(s.fd, &msg, 0), EACCES));
}

TEST(Socket, listening_socket) {
  TlsEnableBuilder builder(kGcm13);
  {
    const ScopedFd s(NewTcpSocket());
    ASSERT_GE(s.fd, 0);
    ASSERT_TRUE(Succeeds(EnableTx(s.fd, builder.get())));
    ASSERT_TRUE(Succeeds(EnableRx(s.fd, builder.get())));
    EXPECT_TRUE(FailsWith(ktls_listen(s.fd, 1), EINVAL));
  }

  const ScopedFd s(NewTcpSocket());
  ASSERT_GE(s.fd, 0);
  struct sockaddr_in sin = {};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(s.fd, reinterpret_cast<struct sockaddr*>(&sin), sizeof(sin)), 0);
  ASSERT_EQ(ktls_listen(s.fd, 1), 0);
  EXPECT_TRUE(FailsWith(EnableTx(s.fd, builder.get()), ENOTCONN));
  EXPECT_TRUE(FailsWith(EnableRx(s.fd, builder.get()), EINVAL));
  // Mode options on a listening socket (reference §3.1, §3.7).
  int mode = 0;
  socklen_t len = sizeof(mode);
  EXPECT_TRUE(FailsWith(ktls_getsockopt(s.fd, IPPROTO_TCP, TCP_TXTLS_MODE, &mode, &len), EINVAL));
  EXPECT_TRUE(FailsWith(ktls_getsockopt(s.fd, IPPROTO_TCP, TCP_RXTLS_MODE, &mode, &len), EINVAL));
  EXPECT_TRUE(FailsWith(SetTxMode(s.fd, TCP_TLS_MODE_SW), EINVAL));
}

// --- TCP_TXTLS_ENABLE / TCP_RXTLS_ENABLE arguments -----------------------------------

TEST(Setup, SecondTxEnableIsEalready) {
  Connection conn;
  TlsEnableBuilder first(kGcm13);
  TlsEnableBuilder second(kGcm12);
  ASSERT_TRUE(Succeeds(EnableTx(conn.server(), first.get())));
  EXPECT_TRUE(FailsWith(EnableTx(conn.server(), first.get()), EALREADY));
  EXPECT_TRUE(FailsWith(EnableTx(conn.server(), second.get()), EALREADY));
  // The first session is untouched.
  TxVerifier verifier(first, first.sequence());
  WriteAndVerify(conn.server(), conn.client(), verifier, 100);
}

TEST(Setup, SecondRxEnableIsEalready) {
  Connection conn;
  TlsEnableBuilder first(kGcm13);
  TlsEnableBuilder second(kGcm12);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), first.get())));
  EXPECT_TRUE(FailsWith(EnableRx(conn.client(), first.get()), EALREADY));
  EXPECT_TRUE(FailsWith(EnableRx(conn.client(), second.get()), EALREADY));
  RxSealer sealer(first);
  const std::vector<uint8_t> data = RandomBytes(100);
  const std::vector<uint8_t> record = sealer.Seal(TLS_RLTYPE_APP, data);
  ASSERT_TRUE(WriteAll(conn.server(), record.data(), record.size()));
  ExpectRecord(first, conn.client(), TLS_RLTYPE_APP, data);
}

// The session checks come after EALREADY: a second call fails the same way whatever it
// carries.
TEST(Setup, SecondEnableIsEalreadyBeforeValidation) {
  Connection conn;
  TlsEnableBuilder good(kGcm13);
  TlsEnableBuilder invalid(testing::InvalidSuites().front());
  ASSERT_TRUE(Succeeds(EnableTx(conn.server(), good.get())));
  ASSERT_TRUE(Succeeds(EnableRx(conn.server(), good.get())));
  EXPECT_TRUE(FailsWith(EnableTx(conn.server(), invalid.get()), EALREADY));
  EXPECT_TRUE(FailsWith(EnableRx(conn.server(), invalid.get()), EALREADY));
}

TEST(Setup, OnlyTcpSockets) {
  TlsEnableBuilder builder(kGcm13);
  const ScopedFd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(udp.fd, 0);
  EXPECT_TRUE(FailsWith(EnableTx(udp.fd, builder.get()), EINVAL));
  EXPECT_TRUE(FailsWith(EnableRx(udp.fd, builder.get()), EINVAL));
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const ScopedFd read_end(fds[0]);
  const ScopedFd write_end(fds[1]);
  EXPECT_TRUE(FailsWith(EnableTx(write_end.fd, builder.get()), ENOTSOCK));
  EXPECT_TRUE(FailsWith(EnableRx(read_end.fd, builder.get()), ENOTSOCK));
}

TEST(Setup, TlsEnableV0AcceptedForTransmitWithSequenceZero) {
  Connection conn;
  TlsEnableBuilder builder(kGcm12, 0x0123456789abcdefULL);
  ASSERT_TRUE(Succeeds(EnableTx(conn.server(), builder.get(), session::kTlsEnableV0Size)));
  // rec_seq lies beyond the v0 structure: the first record is number 0.
  TxVerifier verifier(builder, 0);
  WriteAndVerify(conn.server(), conn.client(), verifier, 64);
  WriteAndVerify(conn.server(), conn.client(), verifier, 64);
}

TEST(Setup, TlsEnableV0RefusedForReceive) {
  Connection conn;
  TlsEnableBuilder builder(kGcm12);
  EXPECT_TRUE(FailsWith(EnableRx(conn.client(), builder.get(), session::kTlsEnableV0Size), EINVAL));
  EXPECT_EQ(GetMode(conn.client(), TCP_RXTLS_MODE), TCP_TLS_MODE_NONE);
}

TEST(Setup, ShortOptlenIsEinval) {
  Connection conn;
  TlsEnableBuilder builder(kGcm13);
  for (socklen_t len : {socklen_t{0}, socklen_t{8}, socklen_t{55}, socklen_t{57}, socklen_t{63}}) {
    EXPECT_TRUE(FailsWith(EnableTx(conn.server(), builder.get(), len), EINVAL)) << "optlen " << len;
    EXPECT_TRUE(FailsWith(EnableRx(conn.client(), builder.get(), len), EINVAL)) << "optlen " << len;
  }
  EXPECT_EQ(GetMode(conn.server(), TCP_TXTLS_MODE), TCP_TLS_MODE_NONE);
  EXPECT_EQ(GetMode(conn.client(), TCP_RXTLS_MODE), TCP_TLS_MODE_NONE);
}

TEST(Setup, LongOptlenIsTruncated) {
  Connection conn;
  TlsEnableBuilder builder(kGcm13);
  std::vector<uint8_t> larger(sizeof(struct tls_enable) + 16, 0xff);
  std::memcpy(larger.data(), &builder.get(), sizeof(struct tls_enable));
  EXPECT_TRUE(Succeeds(ktls_setsockopt(conn.server(), IPPROTO_TCP, TCP_TXTLS_ENABLE, larger.data(),
                                       static_cast<socklen_t>(larger.size()))));
  EXPECT_TRUE(Succeeds(ktls_setsockopt(conn.client(), IPPROTO_TCP, TCP_RXTLS_ENABLE, larger.data(),
                                       static_cast<socklen_t>(larger.size()))));
  TxVerifier verifier(builder, builder.sequence());
  WriteAndVerify(conn.server(), conn.client(), verifier, 10);
}

TEST(Setup, BadPointersAreEfault) {
  Connection conn;
  UnreadablePage page;
  ASSERT_NE(page.addr, MAP_FAILED);
  EXPECT_TRUE(FailsWith(ktls_setsockopt(conn.server(), IPPROTO_TCP, TCP_TXTLS_ENABLE, page.get(),
                                        sizeof(struct tls_enable)),
                        EFAULT));
  EXPECT_TRUE(FailsWith(ktls_setsockopt(conn.client(), IPPROTO_TCP, TCP_RXTLS_ENABLE, nullptr,
                                        sizeof(struct tls_enable)),
                        EFAULT));

  TlsEnableBuilder gcm(kGcm13);
  gcm.mutable_get().cipher_key = page.get();
  EXPECT_TRUE(FailsWith(EnableTx(conn.server(), gcm.get()), EFAULT));
  EXPECT_TRUE(FailsWith(EnableRx(conn.client(), gcm.get()), EFAULT));
  TlsEnableBuilder gcm_iv(kGcm13);
  gcm_iv.mutable_get().iv = page.get();
  EXPECT_TRUE(FailsWith(EnableTx(conn.server(), gcm_iv.get()), EFAULT));
  TlsEnableBuilder cbc(kCbc12);
  cbc.mutable_get().auth_key = page.get();
  EXPECT_TRUE(FailsWith(EnableTx(conn.server(), cbc.get()), EFAULT));
  EXPECT_TRUE(FailsWith(EnableRx(conn.client(), cbc.get()), EFAULT));

  // Nothing was half-installed: good arguments still work on both sockets.
  TlsEnableBuilder good(kGcm13);
  ASSERT_TRUE(Succeeds(EnableTx(conn.server(), good.get())));
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), good.get())));
  TxVerifier verifier(good, good.sequence());
  WriteAndVerify(conn.server(), conn.client(), verifier, 10);
}

TEST(Setup, SessionParameterChecksAreEinval) {
  Connection conn;
  TlsEnableBuilder flags(kGcm13);
  flags.mutable_get().flags = 1;
  EXPECT_TRUE(FailsWith(EnableTx(conn.server(), flags.get()), EINVAL));
  EXPECT_TRUE(FailsWith(EnableRx(conn.client(), flags.get()), EINVAL));
  TlsEnableBuilder aes192(kGcm12);
  aes192.mutable_get().cipher_key_len = 24;  // the software backend takes 16 or 32
  EXPECT_TRUE(FailsWith(EnableTx(conn.server(), aes192.get()), EINVAL));
  TlsEnableBuilder major(kGcm12);
  major.mutable_get().tls_vmajor = 2;
  EXPECT_TRUE(FailsWith(EnableTx(conn.server(), major.get()), EINVAL));
  TlsEnableBuilder gcm_iv(kGcm12);
  gcm_iv.mutable_get().iv_len = 12;  // TLS 1.2 GCM wants the 4-byte salt
  EXPECT_TRUE(FailsWith(EnableRx(conn.client(), gcm_iv.get()), EINVAL));
  TlsEnableBuilder no_key(kGcm13);
  no_key.mutable_get().cipher_key_len = 0;
  EXPECT_TRUE(FailsWith(EnableTx(conn.server(), no_key.get()), EINVAL));
  EXPECT_EQ(GetMode(conn.server(), TCP_TXTLS_MODE), TCP_TLS_MODE_NONE);
  EXPECT_EQ(GetMode(conn.client(), TCP_RXTLS_MODE), TCP_TLS_MODE_NONE);
}

// --- kern.ipc.* knobs -------------------------------------------------------------

TEST(Knobs, TlsEnableOffRefusesEverything) {
  Connection conn;
  TlsEnableBuilder builder(kGcm13);
  {
    KnobGuard off("kern.ipc.tls.enable", 0);
    ASSERT_TRUE(off.ok());
    EXPECT_TRUE(FailsWith(EnableTx(conn.server(), builder.get()), ENOTSUP));
    EXPECT_TRUE(FailsWith(EnableRx(conn.client(), builder.get()), ENOTSUP));
  }
  EXPECT_TRUE(Succeeds(EnableTx(conn.server(), builder.get())));
  EXPECT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
}

TEST(Knobs, CbcEnableOffRefusesCbcOnly) {
  Connection conn;
  TlsEnableBuilder cbc(kCbc12);
  TlsEnableBuilder gcm(kGcm13);
  {
    KnobGuard off("kern.ipc.tls.cbc_enable", 0);
    ASSERT_TRUE(off.ok());
    EXPECT_TRUE(FailsWith(EnableTx(conn.server(), cbc.get()), ENOTSUP));
    EXPECT_TRUE(FailsWith(EnableRx(conn.client(), cbc.get()), ENOTSUP));
    EXPECT_TRUE(Succeeds(EnableTx(conn.server(), gcm.get())));
    EXPECT_TRUE(Succeeds(EnableRx(conn.client(), gcm.get())));
  }
  Connection again;
  EXPECT_TRUE(Succeeds(EnableTx(again.server(), cbc.get())));
  EXPECT_TRUE(Succeeds(EnableRx(again.client(), cbc.get())));
}

TEST(Knobs, MbUseExtPgsOffRefusesTransmitOnly) {
  Connection conn;
  TlsEnableBuilder builder(kGcm12);
  {
    KnobGuard off("kern.ipc.mb_use_ext_pgs", 0);
    ASSERT_TRUE(off.ok());
    EXPECT_TRUE(FailsWith(EnableTx(conn.server(), builder.get()), ENXIO));
    EXPECT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  }
  EXPECT_TRUE(Succeeds(EnableTx(conn.server(), builder.get())));
}

TEST(Knobs, RxEnableOffRefusesReceiveOnly) {
  Connection conn;
  TlsEnableBuilder builder(kGcm12);
  {
    KnobGuard off("kern.ipc.tls.rx_enable", 0);
    ASSERT_TRUE(off.ok());
    EXPECT_TRUE(FailsWith(EnableRx(conn.client(), builder.get()), ENOTSUP));
    EXPECT_TRUE(Succeeds(EnableTx(conn.server(), builder.get())));
  }
  EXPECT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
}

// --- TCP_TXTLS_MODE / TCP_RXTLS_MODE --------------------------------------------------

TEST(Modes, NoneBeforeAndSwAfterEnable) {
  Connection conn;
  TlsEnableBuilder builder(kGcm13);
  EXPECT_EQ(GetMode(conn.server(), TCP_TXTLS_MODE), TCP_TLS_MODE_NONE);
  EXPECT_EQ(GetMode(conn.server(), TCP_RXTLS_MODE), TCP_TLS_MODE_NONE);
  ASSERT_TRUE(Succeeds(EnableTx(conn.server(), builder.get())));
  EXPECT_EQ(GetMode(conn.server(), TCP_TXTLS_MODE), TCP_TLS_MODE_SW);
  EXPECT_EQ(GetMode(conn.server(), TCP_RXTLS_MODE), TCP_TLS_MODE_NONE);
  ASSERT_TRUE(Succeeds(EnableRx(conn.server(), builder.get())));
  EXPECT_EQ(GetMode(conn.server(), TCP_RXTLS_MODE), TCP_TLS_MODE_SW);
  // A short option buffer gets the value truncated, as sooptcopyout(9) does.
  uint8_t bytes[4] = {0xee, 0xee, 0xee, 0xee};
  socklen_t len = 1;
  ASSERT_TRUE(Succeeds(ktls_getsockopt(conn.server(), IPPROTO_TCP, TCP_TXTLS_MODE, bytes, &len)));
  EXPECT_EQ(len, 1u);
  const int sw = TCP_TLS_MODE_SW;
  EXPECT_EQ(bytes[0], reinterpret_cast<const uint8_t*>(&sw)[0]);
  EXPECT_EQ(bytes[1], 0xee);
}

TEST(Modes, SwitchToIfnetFailsAndSwKeepsGoing) {
  if (ktls::platform::ProbeKernelTls().ulp_attached) {
    GTEST_SKIP() << "this kernel has the TLS ULP, so IFNET works (tests/vm checks it)";
  }
  Connection conn;
  TlsEnableBuilder builder(kGcm12);
  ASSERT_TRUE(Succeeds(EnableTx(conn.server(), builder.get())));
  TxVerifier verifier(builder, builder.sequence());
  WriteAndVerify(conn.server(), conn.client(), verifier, 100);

  const uint64_t failed = ReadCounter("kern.ipc.tls.stats.switch_failed");
  // No interface on this host offloads TLS, and the kernel has no TLS ULP.
  EXPECT_TRUE(FailsWith(SetTxMode(conn.server(), TCP_TLS_MODE_IFNET), EOPNOTSUPP));
  EXPECT_EQ(ReadCounter("kern.ipc.tls.stats.switch_failed"), failed + 1);
  EXPECT_EQ(GetMode(conn.server(), TCP_TXTLS_MODE), TCP_TLS_MODE_SW);
  // Same session, sequence numbers continue.
  WriteAndVerify(conn.server(), conn.client(), verifier, 100);
  EXPECT_EQ(verifier.sequence(), builder.sequence() + 2);
}

TEST(Modes, SwitchToSwIsNoOp) {
  Connection conn;
  TlsEnableBuilder builder(kGcm13);
  // Without a session FreeBSD has nothing to switch and returns 0.
  EXPECT_TRUE(Succeeds(SetTxMode(conn.server(), TCP_TLS_MODE_SW)));
  EXPECT_EQ(GetMode(conn.server(), TCP_TXTLS_MODE), TCP_TLS_MODE_NONE);
  ASSERT_TRUE(Succeeds(EnableTx(conn.server(), builder.get())));
  EXPECT_TRUE(Succeeds(SetTxMode(conn.server(), TCP_TLS_MODE_SW)));
  EXPECT_EQ(GetMode(conn.server(), TCP_TXTLS_MODE), TCP_TLS_MODE_SW);
  TxVerifier verifier(builder, builder.sequence());
  WriteAndVerify(conn.server(), conn.client(), verifier, 10);
}

TEST(Modes, InvalidTxModeIsEinval) {
  Connection conn;
  TlsEnableBuilder builder(kGcm13);
  ASSERT_TRUE(Succeeds(EnableTx(conn.server(), builder.get())));
  for (int mode : {TCP_TLS_MODE_NONE, TCP_TLS_MODE_TOE, 4, 99, -1}) {
    EXPECT_TRUE(FailsWith(SetTxMode(conn.server(), mode), EINVAL)) << "mode " << mode;
  }
  EXPECT_EQ(GetMode(conn.server(), TCP_TXTLS_MODE), TCP_TLS_MODE_SW);
}

TEST(Modes, RxModeCannotBeSet) {
  Connection conn;
  TlsEnableBuilder builder(kGcm13);
  const int mode = TCP_TLS_MODE_SW;
  EXPECT_TRUE(
      FailsWith(ktls_setsockopt(conn.client(), IPPROTO_TCP, TCP_RXTLS_MODE, &mode, sizeof(mode)),
                ENOPROTOOPT));
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  EXPECT_TRUE(
      FailsWith(ktls_setsockopt(conn.client(), IPPROTO_TCP, TCP_RXTLS_MODE, &mode, sizeof(mode)),
                ENOPROTOOPT));
  EXPECT_EQ(GetMode(conn.client(), TCP_RXTLS_MODE), TCP_TLS_MODE_SW);
}

// --- kern.ipc.tls.stats.* ------------------------------------------------------------

struct CounterSnapshot {
  CounterSnapshot()
      : offload_total(ReadCounter("kern.ipc.tls.stats.offload_total")),
        enable_calls(ReadCounter("kern.ipc.tls.stats.enable_calls")),
        active(ReadCounter("kern.ipc.tls.stats.active")),
        sw_gcm(ReadCounter("kern.ipc.tls.sw.gcm")),
        sw_cbc(ReadCounter("kern.ipc.tls.sw.cbc")) {}
  uint64_t offload_total;
  uint64_t enable_calls;
  uint64_t active;
  uint64_t sw_gcm;
  uint64_t sw_cbc;
};

// Sessions go away with their socket; the background flusher may hold it briefly.
bool WaitForCounter(const char* name, uint64_t expected) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (ReadCounter(name) != expected) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(Counters, EnableCallsAndSessions) {
  const CounterSnapshot before;
  {
    Connection conn;
    TlsEnableBuilder gcm(kGcm12);
    ASSERT_TRUE(Succeeds(EnableTx(conn.server(), gcm.get())));
    CounterSnapshot now;
    EXPECT_EQ(now.offload_total, before.offload_total + 1);
    EXPECT_EQ(now.enable_calls, before.enable_calls + 1);
    EXPECT_EQ(now.active, before.active + 1);
    EXPECT_EQ(now.sw_gcm, before.sw_gcm + 1);

    TlsEnableBuilder cbc(kCbc12);
    ASSERT_TRUE(Succeeds(EnableRx(conn.client(), cbc.get())));
    now = CounterSnapshot();
    EXPECT_EQ(now.offload_total, before.offload_total + 2);
    EXPECT_EQ(now.enable_calls, before.enable_calls + 2);
    EXPECT_EQ(now.active, before.active + 2);
    EXPECT_EQ(now.sw_cbc, before.sw_cbc + 1);

    // Failed calls count as calls, not as offloads.
    EXPECT_TRUE(FailsWith(EnableTx(conn.server(), gcm.get()), EALREADY));
    TlsEnableBuilder invalid(testing::InvalidSuites().front());
    EXPECT_TRUE(FailsWith(EnableTx(conn.client(), invalid.get()), EINVAL));
    now = CounterSnapshot();
    EXPECT_EQ(now.offload_total, before.offload_total + 2);
    EXPECT_EQ(now.enable_calls, before.enable_calls + 4);
    EXPECT_EQ(now.active, before.active + 2);

    // With kern.ipc.tls.enable off the call stops before it is counted.
    {
      KnobGuard off("kern.ipc.tls.enable", 0);
      EXPECT_TRUE(FailsWith(EnableTx(conn.client(), gcm.get()), ENOTSUP));
    }
    EXPECT_EQ(ReadCounter("kern.ipc.tls.stats.enable_calls"), before.enable_calls + 4);
  }
  EXPECT_TRUE(WaitForCounter("kern.ipc.tls.stats.active", before.active));
  EXPECT_EQ(ReadCounter("kern.ipc.tls.sw.gcm"), before.sw_gcm);
  EXPECT_EQ(ReadCounter("kern.ipc.tls.sw.cbc"), before.sw_cbc);
}

TEST(Counters, RecordCounters) {
  Connection conn;
  TlsEnableBuilder builder(kGcm13);
  ASSERT_TRUE(Succeeds(EnableTx(conn.server(), builder.get())));
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  const uint64_t encrypts = ReadCounter("kern.ipc.tls.stats.ocf.tls13_gcm_encrypts");
  const uint64_t decrypts = ReadCounter("kern.ipc.tls.stats.ocf.tls13_gcm_decrypts");
  const uint64_t failed = ReadCounter("kern.ipc.tls.stats.failed_crypto");
  const uint64_t corrupted = ReadCounter("kern.ipc.tls.stats.corrupted_records");

  // Three records through our own TX into our own RX.
  const std::vector<uint8_t> data = RandomBytes(3 * kMaxPayload);
  ASSERT_EQ(ktls_write(conn.server(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  for (int i = 0; i < 3; ++i) {
    ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP,
                 ConstBytes(data.data() + i * kMaxPayload, kMaxPayload));
  }
  EXPECT_EQ(ReadCounter("kern.ipc.tls.stats.ocf.tls13_gcm_encrypts"), encrypts + 3);
  EXPECT_EQ(ReadCounter("kern.ipc.tls.stats.ocf.tls13_gcm_decrypts"), decrypts + 3);

  // A bad tag is a crypto failure; a bad header a corrupted record.
  ASSERT_TRUE(Succeeds(ktls_shutdown(conn.server(), SHUT_RDWR)));
  Connection raw;
  ASSERT_TRUE(Succeeds(EnableRx(raw.client(), builder.get())));
  RxSealer sealer(builder);
  std::vector<uint8_t> bad_tag = sealer.Seal(TLS_RLTYPE_APP, RandomBytes(10));
  bad_tag.back() ^= 1;
  std::vector<uint8_t> bad_header = sealer.Seal(TLS_RLTYPE_APP, RandomBytes(10));
  bad_header[1] = 4;
  ASSERT_TRUE(WriteAll(raw.server(), bad_tag.data(), bad_tag.size()));
  ExpectReceiveError(raw.client(), EBADMSG);
  EXPECT_EQ(ReadCounter("kern.ipc.tls.stats.failed_crypto"), failed + 1);
  ASSERT_TRUE(WriteAll(raw.server(), bad_header.data(), bad_header.size()));
  ExpectReceiveError(raw.client(), EINVAL);
  EXPECT_EQ(ReadCounter("kern.ipc.tls.stats.corrupted_records"), corrupted + 1);
}

// --- Receive details -----------------------------------------------------------------

std::vector<FreeBsdSuite> ReceiveSuites() {
  std::vector<FreeBsdSuite> all = AesCbcNonZeroSuites();
  for (const FreeBsdSuite& s : AesGcmSuites()) all.push_back(s);
  for (const FreeBsdSuite& s : ChaChaSuites()) all.push_back(s);
  return all;
}

// The peer closes its side: after the queued records, recvmsg reports the end (0).
void ShutdownWriterAndExpectEof(const Connection& conn) {
  ASSERT_EQ(shutdown(conn.server(), SHUT_WR), 0);
  const Received r = ReceiveRecord(conn.client());
  EXPECT_EQ(r.rv, 0) << "expected EOF";
}

// Writes `records` raw from the server side.
void WriteRecords(const Connection& conn, const std::vector<std::vector<uint8_t>>& records) {
  std::vector<uint8_t> wire;
  for (const std::vector<uint8_t>& r : records) wire.insert(wire.end(), r.begin(), r.end());
  ASSERT_TRUE(WriteAll(conn.server(), wire.data(), wire.size()));
}

// A bad record is dropped and reported; records after it are still delivered.
class ReceiveAfterError : public ::testing::TestWithParam<Case> {};

TEST_P(ReceiveAfterError, Run) {
  Connection conn;
  TlsEnableBuilder builder(GetParam().suite);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  RxSealer sealer(builder);
  const std::vector<uint8_t> first = RandomBytes(64);
  const std::vector<uint8_t> last = RandomBytes(64);
  std::vector<uint8_t> a = sealer.Seal(TLS_RLTYPE_APP, first);
  std::vector<uint8_t> bad = sealer.Seal(TLS_RLTYPE_APP, RandomBytes(64));
  bad[bad.size() - builder.mac_len()] ^= 0x01;  // the tag, or CBC's last blocks
  std::vector<uint8_t> b = sealer.Seal(TLS_RLTYPE_APP, last);
  WriteRecords(conn, {a, bad, b});

  ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, first);
  ExpectReceiveError(conn.client(), EBADMSG);
  ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, last);
  ShutdownWriterAndExpectEof(conn);
}

INSTANTIATE_TEST_SUITE_P(ReceiveExtra, ReceiveAfterError,
                         ::testing::ValuesIn(CasesFor(ReceiveSuites(), "data_after_bad_mac")),
                         CaseName);

// read(2), recv(2) and readv(2) without a control buffer get the payload (the record
// information is dropped), still one record per call.
class ReceivePlainReads : public ::testing::TestWithParam<Case> {};

TEST_P(ReceivePlainReads, Run) {
  Connection conn;
  TlsEnableBuilder builder(GetParam().suite);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  RxSealer sealer(builder);
  const std::vector<uint8_t> a = RandomBytes(100);
  const std::vector<uint8_t> b = RandomBytes(200);
  const std::vector<uint8_t> c = RandomBytes(300);
  WriteRecords(conn, {sealer.Seal(TLS_RLTYPE_APP, a), sealer.Seal(TLS_RLTYPE_APP, b),
                      sealer.Seal(TLS_RLTYPE_APP, c)});

  std::vector<uint8_t> buf(4096);
  ASSERT_EQ(ktls_read(conn.client(), buf.data(), buf.size()), 100);
  EXPECT_EQ(0, std::memcmp(buf.data(), a.data(), a.size()));
  ASSERT_EQ(ktls_recv(conn.client(), buf.data(), buf.size(), 0), 200);
  EXPECT_EQ(0, std::memcmp(buf.data(), b.data(), b.size()));
  std::vector<uint8_t> head(120);
  struct iovec iov[2] = {{head.data(), head.size()}, {buf.data(), buf.size()}};
  ASSERT_EQ(ktls_readv(conn.client(), iov, 2), 300);
  EXPECT_EQ(0, std::memcmp(head.data(), c.data(), head.size()));
  EXPECT_EQ(0, std::memcmp(buf.data(), c.data() + head.size(), c.size() - head.size()));
}

INSTANTIATE_TEST_SUITE_P(ReceiveExtra, ReceivePlainReads,
                         ::testing::ValuesIn(CasesFor({kGcm12, kGcm13, kCbc12,
                                                       Suite("chacha20_poly1305_1_3")},
                                                      "plain_reads")),
                         CaseName);

// Non-application records are delivered like any other, with their type.
TEST(ReceiveExtra, ControlRecordsKeepTheirType) {
  for (const FreeBsdSuite& suite : {kGcm12, kGcm13, kCbc12}) {
    SCOPED_TRACE(suite.name);
    Connection conn;
    TlsEnableBuilder builder(suite);
    ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
    RxSealer sealer(builder);
    const std::vector<uint8_t> alert = {2, 40};
    const std::vector<uint8_t> handshake = RandomBytes(40);
    const std::vector<uint8_t> data = RandomBytes(40);
    const std::vector<uint8_t> control = RandomBytes(32);
    WriteRecords(
        conn, {sealer.Seal(TLS_RLTYPE_ALERT, alert), sealer.Seal(TLS_RLTYPE_HANDSHAKE, handshake),
               sealer.Seal(kControlType, control), sealer.Seal(TLS_RLTYPE_APP, data)});
    ExpectRecord(builder, conn.client(), TLS_RLTYPE_ALERT, alert);
    ExpectRecord(builder, conn.client(), TLS_RLTYPE_HANDSHAKE, handshake);
    ExpectRecord(builder, conn.client(), kControlType, control);
    ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, data);
  }
}

TEST(ReceiveExtra, PeekLeavesTheRecord) {
  Connection conn;
  TlsEnableBuilder builder(kGcm13);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  RxSealer sealer(builder);
  const std::vector<uint8_t> data = RandomBytes(64);
  const std::vector<uint8_t> next = RandomBytes(16);
  WriteRecords(conn, {sealer.Seal(TLS_RLTYPE_APP, data), sealer.Seal(TLS_RLTYPE_APP, next)});

  for (int i = 0; i < 2; ++i) {
    const Received peeked = ReceiveRecord(conn.client(), kMaxPayload, MSG_PEEK);
    ASSERT_EQ(peeked.rv, 64);
    EXPECT_TRUE(peeked.data == data);
    EXPECT_TRUE(peeked.has_record_info);
    EXPECT_EQ(int{peeked.info.tls_type}, TLS_RLTYPE_APP);
    EXPECT_EQ(peeked.info.tls_length, htons(64));
  }
  ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, data);
  ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, next);
}

// A buffer smaller than the record: the rest comes with the next call, which ends the
// record (MSG_EOR); records are never merged.
TEST(ReceiveExtra, PartialReadsOfOneRecord) {
  Connection conn;
  TlsEnableBuilder builder(kCbc12);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  RxSealer sealer(builder);
  const std::vector<uint8_t> data = RandomBytes(64);
  const std::vector<uint8_t> next = RandomBytes(64);
  WriteRecords(conn, {sealer.Seal(TLS_RLTYPE_APP, data), sealer.Seal(TLS_RLTYPE_APP, next)});

  const Received head = ReceiveRecord(conn.client(), 10);
  ASSERT_EQ(head.rv, 10);
  EXPECT_EQ(head.flags & MSG_EOR, 0);
  EXPECT_TRUE(head.has_record_info);
  EXPECT_TRUE(std::equal(head.data.begin(), head.data.end(), data.begin()));
  const Received tail = ReceiveRecord(conn.client(), 1000);
  ASSERT_EQ(tail.rv, 54);
  EXPECT_NE(tail.flags & MSG_EOR, 0);
  EXPECT_FALSE(tail.has_record_info) << "the record's control message came with its head";
  EXPECT_TRUE(std::equal(tail.data.begin(), tail.data.end(), data.begin() + 10));
  ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, next);
}

// An empty record: recvmsg returns 0 bytes with its control message (reference §6.3);
// a plain read, for which 0 would mean EOF, skips it.
TEST(ReceiveExtra, EmptyRecords) {
  Connection conn;
  TlsEnableBuilder builder(kGcm12);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  RxSealer sealer(builder);
  const std::vector<uint8_t> data = RandomBytes(20);
  WriteRecords(conn, {sealer.Seal(TLS_RLTYPE_APP, {}), sealer.Seal(TLS_RLTYPE_APP, {}),
                      sealer.Seal(TLS_RLTYPE_APP, data)});
  ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, {});
  std::vector<uint8_t> buf(100);
  ASSERT_EQ(ktls_read(conn.client(), buf.data(), buf.size()), 20);
  EXPECT_EQ(0, std::memcmp(buf.data(), data.data(), data.size()));
}

// Bytes that arrived before TCP_RXTLS_ENABLE are ciphertext too (reference §6.4).
TEST(ReceiveExtra, BytesQueuedBeforeEnableAreRecords) {
  Connection conn;
  TlsEnableBuilder builder(kChaCha12);
  RxSealer sealer(builder);
  const std::vector<uint8_t> data = RandomBytes(64);
  WriteRecords(conn, {sealer.Seal(TLS_RLTYPE_APP, data)});
  struct pollfd pfd = {conn.client(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, kTimeoutMs), 1);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, data);
}

TEST(ReceiveExtra, SmallControlBufferIsCtrunc) {
  Connection conn;
  TlsEnableBuilder builder(kGcm13);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  RxSealer sealer(builder);
  const std::vector<uint8_t> data = RandomBytes(30);
  WriteRecords(conn, {sealer.Seal(TLS_RLTYPE_APP, data)});
  std::vector<uint8_t> buf(100);
  alignas(struct cmsghdr) uint8_t control[CMSG_LEN(0)] = {};
  struct iovec iov = {buf.data(), buf.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ASSERT_EQ(ktls_recvmsg(conn.client(), &msg, 0), 30);
  EXPECT_NE(msg.msg_flags & MSG_CTRUNC, 0);
  EXPECT_NE(msg.msg_flags & MSG_EOR, 0);
}

// Record size limits (reference §6.2): a record longer than header + 16384 + the
// session's maximum trailer is a fatal EMSGSIZE, even when the excess is TLS 1.3 or
// CBC padding.
TEST(ReceiveLimits, Tls13PaddingCountsAgainstTheLimit) {
  Connection conn;
  TlsEnableBuilder builder(kGcm13);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  RxSealer sealer(builder);
  const std::vector<uint8_t> fits = RandomBytes(kMaxPayload - 1);
  const std::vector<uint8_t> full = RandomBytes(kMaxPayload);
  WriteRecords(conn, {sealer.Seal(TLS_RLTYPE_APP, fits, 1), sealer.Seal(TLS_RLTYPE_APP, full, 1)});
  ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, fits);
  ExpectReceiveError(conn.client(), EMSGSIZE);
}

TEST(ReceiveLimits, CbcExtraPaddingCountsAgainstTheLimit) {
  Connection conn;
  TlsEnableBuilder builder(kCbc12);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  RxSealer sealer(builder);
  const std::vector<uint8_t> full = RandomBytes(kMaxPayload);
  WriteRecords(conn, {sealer.Seal(TLS_RLTYPE_APP, full), sealer.Seal(TLS_RLTYPE_APP, full, 16)});
  ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, full);
  ExpectReceiveError(conn.client(), EMSGSIZE);
}

TEST(ReceiveLimits, AeadPayloadAboveTheLimit) {
  for (const FreeBsdSuite& suite : {kGcm12, kChaCha12}) {
    SCOPED_TRACE(suite.name);
    Connection conn;
    TlsEnableBuilder builder(suite);
    ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
    RxSealer sealer(builder);
    const std::vector<uint8_t> full = RandomBytes(kMaxPayload);
    const std::vector<uint8_t> over = RandomBytes(kMaxPayload + 1);
    WriteRecords(conn, {sealer.Seal(TLS_RLTYPE_APP, full), sealer.Seal(TLS_RLTYPE_APP, over)});
    ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, full);
    ExpectReceiveError(conn.client(), EMSGSIZE);
  }
}

// TLS 1.3 inner plaintext without a non-zero type byte is EBADMSG (reference §5.3, §11);
// the stream continues.
TEST(ReceiveLimits, Tls13WithoutContentTypeIsEbadmsg) {
  Connection conn;
  TlsEnableBuilder builder(kGcm13);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  RxSealer sealer(builder);
  const std::vector<uint8_t> data = RandomBytes(10);
  WriteRecords(conn,
               {sealer.Seal(0, {}, 8), sealer.Seal(0, {}, 0), sealer.Seal(TLS_RLTYPE_APP, data)});
  ExpectReceiveError(conn.client(), EBADMSG);
  ExpectReceiveError(conn.client(), EBADMSG);
  ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, data);
}

// TLS 1.2 GCM takes the explicit nonce from each record, whatever the sender chose.
TEST(ReceiveExtra, Gcm12ExplicitNonceIsTheSenders) {
  Connection conn;
  TlsEnableBuilder builder(kGcm12);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  const ReferenceParams params = builder.reference();
  std::vector<std::vector<uint8_t>> records;
  std::vector<std::vector<uint8_t>> payloads;
  for (uint64_t i = 0; i < 3; ++i) {
    testing::ReferenceSealOptions options;
    options.explicit_nonce = LoadBe64(RandomBytes(8).data());
    payloads.push_back(RandomBytes(50));
    records.push_back(testing::ReferenceSeal(params, builder.sequence() + i, TLS_RLTYPE_APP,
                                             payloads.back(), options));
  }
  WriteRecords(conn, records);
  for (const std::vector<uint8_t>& payload : payloads) {
    ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, payload);
  }
}

// A header error is fatal: the connection is dropped (the peer sees a reset) and, once
// the error was reported, the stream has ended.
TEST(ReceiveExtra, FatalHeaderErrorDropsTheConnection) {
  Connection conn;
  TlsEnableBuilder builder(kGcm13);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  RxSealer sealer(builder);
  std::vector<uint8_t> bad = sealer.Seal(TLS_RLTYPE_APP, RandomBytes(10));
  bad[1] = 2;
  WriteRecords(conn, {bad, sealer.Seal(TLS_RLTYPE_APP, RandomBytes(10))});
  ExpectReceiveError(conn.client(), EINVAL);
  EXPECT_EQ(ReceiveRecord(conn.client()).rv, 0) << "expected the end of the stream";

  struct pollfd pfd = {conn.server(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, kTimeoutMs), 1);
  uint8_t byte = 0;
  EXPECT_TRUE(FailsWith(recv(conn.server(), &byte, 1, 0), ECONNRESET));
}

// The receive half of MidnightBSD's ktls_receive_loopback_sendfile (FreeBSD-SA-26:26):
// a record sent from a file with sendfile(2) over loopback is decrypted, and the file's
// bytes stay as they were.
TEST(ReceiveExtra, LoopbackSendfileLeavesTheFileIntact) {
  Connection conn;
  TlsEnableBuilder builder(kGcm12);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));
  RxSealer sealer(builder);
  const std::vector<uint8_t> data = RandomBytes(4000);
  const std::vector<uint8_t> record = sealer.Seal(TLS_RLTYPE_APP, data);
  char path[] = "/tmp/ktls-conformance-XXXXXX";
  const ScopedFd file(mkstemp(path));
  ASSERT_GE(file.fd, 0);
  unlink(path);
  ASSERT_EQ(write(file.fd, record.data(), record.size()), static_cast<ssize_t>(record.size()));
  off_t offset = 0;
  ASSERT_EQ(ktls_sendfile(conn.server(), file.fd, &offset, record.size()),
            static_cast<ssize_t>(record.size()));
  ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, data);
  std::vector<uint8_t> after(record.size());
  ASSERT_EQ(pread(file.fd, after.data(), after.size(), 0), static_cast<ssize_t>(after.size()));
  EXPECT_TRUE(after == record) << "the file changed";
}

// --- Transmit details ----------------------------------------------------------------

TEST(TransmitExtra, WritevSendAndSendmsgFrameRecords) {
  Connection conn;
  TlsEnableBuilder builder(kCbc12);
  ASSERT_TRUE(Succeeds(EnableTx(conn.server(), builder.get())));
  TxVerifier verifier(builder, builder.sequence());

  const std::vector<uint8_t> data = RandomBytes(20000);
  struct iovec iov[3] = {{const_cast<uint8_t*>(data.data()), 5},
                         {const_cast<uint8_t*>(data.data()) + 5, 10000},
                         {const_cast<uint8_t*>(data.data()) + 10005, 9995}};
  ASSERT_EQ(ktls_writev(conn.server(), iov, 3), 20000);
  const auto payload = verifier.ReadPayload(conn.client(), data.size(), TLS_RLTYPE_APP);
  ASSERT_TRUE(payload.has_value());
  EXPECT_TRUE(*payload == data);

  ASSERT_EQ(ktls_send(conn.server(), data.data(), 77, 0), 77);
  const auto sent = verifier.Next(conn.client(), TLS_RLTYPE_APP);
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(sent->opened.payload.size(), 77u);

  struct iovec one = {const_cast<uint8_t*>(data.data()), 33};
  struct msghdr msg = {};
  msg.msg_iov = &one;
  msg.msg_iovlen = 1;
  ASSERT_EQ(ktls_sendmsg(conn.server(), &msg, 0), 33);
  const auto plain = verifier.Next(conn.client(), TLS_RLTYPE_APP);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->opened.payload.size(), 33u);
}

// A typed send larger than a record is cut into records that all carry the type; the
// type applies to that send only.
TEST(TransmitExtra, RecordTypeAppliesToOneSend) {
  Connection conn;
  TlsEnableBuilder builder(kGcm13);
  ASSERT_TRUE(Succeeds(EnableTx(conn.server(), builder.get())));
  TxVerifier verifier(builder, builder.sequence());

  const std::vector<uint8_t> data = RandomBytes(kMaxPayload + 100);
  struct iovec iov = {const_cast<uint8_t*>(data.data()), data.size()};
  alignas(struct cmsghdr) uint8_t control[CMSG_SPACE(1)] = {};
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
  ASSERT_EQ(ktls_sendmsg(conn.server(), &msg, 0), static_cast<ssize_t>(data.size()));
  const auto payload = verifier.ReadPayload(conn.client(), data.size(), TLS_RLTYPE_HANDSHAKE);
  ASSERT_TRUE(payload.has_value());
  EXPECT_TRUE(*payload == data);
  WriteAndVerify(conn.server(), conn.client(), verifier, 50);
}

}  // namespace
}  // namespace ktls::conformance
