// The in-process OpenSSL bridge end to end: OpenSSL 3.0 clients and servers in this
// process over real loopback TCP, records sealed and opened by our engine (its counters
// and BIO_get_ktls_send/recv prove it), data compared by SHA-256, against bridged and
// plain OpenSSL peers: TLS 1.2 and 1.3 with AES-GCM and ChaCha20-Poly1305, large
// transfers, close_notify, session tickets and resumption, KeyUpdate, sendfile, fallback
// to OpenSSL's own record layer, and non-blocking sockets.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "api/linux_abi.h"
#include "control/knobs.h"
#include "ktls/openssl.h"
#include "openssl/bridge.h"
#include "openssl/bridge_bio.h"
#include "openssl_bridge/bridge_test_util.h"
#include "testlib/tcp_pair.h"

namespace ktls::testing {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// 64 MiB each way by default; KTLS_BRIDGE_MIB makes the large transfers smaller or larger.
size_t LargeTransferBytes() {
  const char* env = std::getenv("KTLS_BRIDGE_MIB");
  const long mib = env != nullptr ? std::strtol(env, nullptr, 10) : 64;
  return static_cast<size_t>(mib > 0 ? mib : 64) * kMiB;
}

struct SuiteCase {
  const char* name;
  int version;
  const char* cipher;
};

constexpr SuiteCase kSuites[] = {
    {"Tls12Aes128Gcm", TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"Tls12Aes256Gcm", TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"Tls12ChaCha20", TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"Tls13Aes128Gcm", TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256"},
    {"Tls13Aes256Gcm", TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384"},
    {"Tls13ChaCha20", TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256"},
};

std::string SuiteName(const ::testing::TestParamInfo<SuiteCase>& info) {
  return info.param.name;
}
std::string VersionName(const ::testing::TestParamInfo<int>& info) {
  return info.param == TLS1_2_VERSION ? "Tls12" : "Tls13";
}

TlsConfig ConfigFor(const SuiteCase& suite) {
  TlsConfig config;
  config.version = suite.version;
  config.cipher = suite.cipher;
  return config;
}

// Both directions of `ssl` go through our engine.
void ExpectOffloaded(SSL* ssl, bool tls13) {
  EXPECT_EQ(BIO_get_ktls_send(SSL_get_wbio(ssl)), 1);
  EXPECT_EQ(BIO_get_ktls_recv(SSL_get_rbio(ssl)), 1);
  Result<openssl::KernelBioState> state = openssl::InspectKernelBio(SSL_get_rbio(ssl));
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->tx);
  EXPECT_TRUE(state->rx);
  // OpenSSL 3.0 hands over TLS 1.3 sending only; the bridge installs receiving itself.
  EXPECT_EQ(state->rx_by_bridge, tls13);
}

// A temporary file of `size` pattern bytes, removed on destruction.
class TempFile {
 public:
  explicit TempFile(size_t size) {
    char name[] = "/tmp/ktls-bridge-XXXXXX";
    fd_ = mkstemp(name);
    unlink(name);
    contents_.resize(size);
    for (size_t i = 0; i < size; ++i) contents_[i] = static_cast<uint8_t>(i * 131 + (i >> 9));
    size_t done = 0;
    while (fd_ >= 0 && done < size) {
      const ssize_t n = write(fd_, contents_.data() + done, size - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
  }
  ~TempFile() {
    if (fd_ >= 0) close(fd_);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const { return fd_; }
  const std::vector<uint8_t>& contents() const { return contents_; }

 private:
  int fd_ = -1;
  std::vector<uint8_t> contents_;
};

// Reads exactly `len` bytes with SSL_read.
bool SslReadExactly(SSL* ssl, uint8_t* out, size_t len) {
  size_t done = 0;
  while (done < len) {
    const int n =
        SSL_read(ssl, out + done, static_cast<int>(std::min<size_t>(len - done, 1 << 20)));
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// --- Every suite: large transfers, engine counters, close_notify ----------------------

class BridgeSuiteTest : public ::testing::TestWithParam<SuiteCase> {};

TEST_P(BridgeSuiteTest, LargeTransfersBothWaysGoThroughTheEngine) {
  const SuiteCase& suite = GetParam();
  const bool tls13 = suite.version == TLS1_3_VERSION;
  control::LinuxTlsCounters& linux_stats = control::GetStats().linux_tls;
  const uint64_t tx_sw_before = linux_stats.tx_sw.value();
  const uint64_t rx_sw_before = linux_stats.rx_sw.value();

  std::unique_ptr<TlsPair> pair = ConnectTls(ConfigFor(suite));
  ASSERT_TRUE(pair->client && pair->server);
  EXPECT_STREQ(SSL_get_cipher_name(pair->client.get()), suite.cipher);

  // No BIO_get_ktls_recv() from here before the data: OpenSSL's own read path asks, and
  // for TLS 1.3 that first question is when the bridge installs the receive keys.
  const size_t bytes = LargeTransferBytes();
  const TransferResult up = Transfer(pair->client.get(), pair->server.get(), bytes);
  ASSERT_TRUE(up.ok);
  EXPECT_EQ(up.sent, up.received);
  const TransferResult down = Transfer(pair->server.get(), pair->client.get(), bytes);
  ASSERT_TRUE(down.ok);
  EXPECT_EQ(down.sent, down.received);

  // The engine sealed and opened every application record (at most 2^14 bytes each).
  ExpectOffloaded(pair->client.get(), tls13);
  ExpectOffloaded(pair->server.get(), tls13);
  EXPECT_EQ(linux_stats.tx_sw.value() - tx_sw_before, 2u);
  EXPECT_EQ(linux_stats.rx_sw.value() - rx_sw_before, 2u);
  const uint64_t min_records = bytes / 16384;
  for (int fd : {pair->tcp.client, pair->tcp.server}) {
    const EngineCounters counters = CountersOf(fd);
    EXPECT_GE(counters.tx_records, min_records) << "fd " << fd;
    EXPECT_GE(counters.rx_records, min_records) << "fd " << fd;
    EXPECT_GE(counters.tx_bytes, bytes);
    EXPECT_GE(counters.rx_bytes, bytes);
  }
  ExpectCloseNotify(pair->client.get(), pair->server.get());
}

TEST_P(BridgeSuiteTest, CloseNotifyFromTheServer) {
  std::unique_ptr<TlsPair> pair = ConnectTls(ConfigFor(GetParam()));
  ASSERT_TRUE(pair->client && pair->server);
  ASSERT_TRUE(Exchange(pair->server.get(), pair->client.get(), 4096));
  ExpectCloseNotify(pair->server.get(), pair->client.get());
}

TEST_P(BridgeSuiteTest, SendfileOfATempFile) {
  std::unique_ptr<TlsPair> pair = ConnectTls(ConfigFor(GetParam()));
  ASSERT_TRUE(pair->client && pair->server);
  const TempFile file(5 * kMiB + 123);
  ASSERT_GE(file.fd(), 0);
  const uint64_t tx_bytes_before = CountersOf(pair->tcp.server).tx_bytes;
  constexpr off_t kStart = 1000;
  const size_t total = file.contents().size() - kStart;
  std::vector<uint8_t> received(total);
  bool read_ok = false;
  std::thread reader(
      [&] { read_ok = SslReadExactly(pair->client.get(), received.data(), received.size()); });
  size_t sent = 0;
  while (sent < total) {
    const ossl_ssize_t n = ktls_openssl_sendfile(
        pair->server.get(), file.fd(), kStart + static_cast<off_t>(sent), total - sent, 0);
    ASSERT_GT(n, 0) << "errno " << errno;
    sent += static_cast<size_t>(n);
  }
  reader.join();
  ASSERT_TRUE(read_ok);
  EXPECT_EQ(Sha256(received.data(), received.size()),
            Sha256(file.contents().data() + kStart, total));
  EXPECT_GE(CountersOf(pair->tcp.server).tx_bytes - tx_bytes_before, total);
  // The connection goes on in both directions after it.
  EXPECT_TRUE(Exchange(pair->client.get(), pair->server.get(), 100000));
  EXPECT_TRUE(Exchange(pair->server.get(), pair->client.get(), 100000));
  ExpectCloseNotify(pair->client.get(), pair->server.get());
}

INSTANTIATE_TEST_SUITE_P(Suites, BridgeSuiteTest, ::testing::ValuesIn(kSuites), SuiteName);

// --- SSL_sendfile without an interposer fails closed ---------------------------------

TEST(BridgeSendfileTest, SslSendfileFailsClosedWithoutInterposer) {
  ASSERT_FALSE(openssl::SendfileReachesKtls());
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsConfig config;
    config.version = version;
    std::unique_ptr<TlsPair> pair = ConnectTls(config);
    ASSERT_TRUE(pair->client && pair->server);
    // SSL_get_fd() works; SSL_get_wfd() hides the descriptor from SSL_sendfile(), which
    // would otherwise call sendfile(2) on it and put the file's plaintext on the wire.
    EXPECT_EQ(SSL_get_fd(pair->server.get()), pair->tcp.server);
    EXPECT_EQ(SSL_get_rfd(pair->server.get()), pair->tcp.server);
    EXPECT_EQ(SSL_get_wfd(pair->server.get()), -1);
    EXPECT_EQ(BIO_get_ktls_send(SSL_get_wbio(pair->server.get())), 1);
    const TempFile file(100000);
    EXPECT_LT(SSL_sendfile(pair->server.get(), file.fd(), 0, file.contents().size(), 0), 0);
    ERR_clear_error();
    // Nothing reached the peer: the next records decrypt and carry only what follows.
    EXPECT_TRUE(Exchange(pair->server.get(), pair->client.get(), 50000));
    EXPECT_TRUE(Exchange(pair->client.get(), pair->server.get(), 50000));
    ExpectCloseNotify(pair->client.get(), pair->server.get());
  }
}

TEST(BridgeSendfileTest, KtlsSendfileErrors) {
  TlsConfig config;
  config.version = TLS1_3_VERSION;
  std::unique_ptr<TlsPair> pair = ConnectTls(config);
  ASSERT_TRUE(pair->client && pair->server);
  const TempFile file(1000);
  errno = 0;
  EXPECT_EQ(ktls_openssl_sendfile(nullptr, file.fd(), 0, 10, 0), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(ktls_openssl_sendfile(pair->server.get(), -1, 0, 10, 0), -1);
  EXPECT_EQ(errno, EBADF);
  ASSERT_TRUE(Exchange(pair->server.get(), pair->client.get(), 1000));
  ExpectCloseNotify(pair->client.get(), pair->server.get());
  EXPECT_EQ(ktls_openssl_sendfile(pair->client.get(), file.fd(), 0, 10, 0), -1);
  EXPECT_EQ(errno, EPIPE);
}

// --- Session tickets and resumption ---------------------------------------------------

class BridgeResumptionTest : public ::testing::TestWithParam<int> {};

TEST_P(BridgeResumptionTest, TicketsReachOpenSslAndTheSessionResumes) {
  TlsConfig config;
  config.version = GetParam();
  std::unique_ptr<TlsPair> first = ConnectTls(config);
  ASSERT_TRUE(first->client && first->server);
  // TLS 1.3 tickets arrive after the handshake, through our engine, and OpenSSL
  // processes them while reading.
  ASSERT_TRUE(Exchange(first->server.get(), first->client.get(), 20000));
  ASSERT_TRUE(Exchange(first->client.get(), first->server.get(), 20000));
  SessionPtr session(SSL_get1_session(first->client.get()));
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(SSL_SESSION_is_resumable(session.get()), 1);
  ExpectCloseNotify(first->client.get(), first->server.get());

  config.resume = session.get();
  config.server_ctx = first->server_ctx.get();
  std::unique_ptr<TlsPair> second = ConnectTls(config);
  ASSERT_TRUE(second->client && second->server);
  EXPECT_EQ(SSL_session_reused(second->client.get()), 1);
  ExpectOffloaded(second->client.get(), GetParam() == TLS1_3_VERSION);
  ExpectOffloaded(second->server.get(), GetParam() == TLS1_3_VERSION);
  EXPECT_TRUE(Exchange(second->client.get(), second->server.get(), kMiB));
  EXPECT_TRUE(Exchange(second->server.get(), second->client.get(), kMiB));
  ExpectCloseNotify(second->client.get(), second->server.get());
}

INSTANTIATE_TEST_SUITE_P(Versions, BridgeResumptionTest,
                         ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION), VersionName);

TEST(BridgeTicketsTest, NoTicketsStillWorks) {
  TlsConfig config;
  config.tickets = 0;
  std::unique_ptr<TlsPair> pair = ConnectTls(config);
  ASSERT_TRUE(pair->client && pair->server);
  ExpectOffloaded(pair->client.get(), true);
  EXPECT_TRUE(Exchange(pair->server.get(), pair->client.get(), kMiB));
  EXPECT_TRUE(Exchange(pair->client.get(), pair->server.get(), kMiB));
  ExpectCloseNotify(pair->client.get(), pair->server.get());
}

// --- KeyUpdate --------------------------------------------------------------------------

class BridgeKeyUpdateTest : public ::testing::TestWithParam<SuiteCase> {};

// One KeyUpdate from `from` (answered by `to` when requested), then data both ways.
void KeyUpdateRound(SSL* from, SSL* to, int type) {
  ASSERT_EQ(SSL_key_update(from, type), 1);
  ASSERT_EQ(SSL_do_handshake(from), 1);    // sends the KeyUpdate
  ASSERT_TRUE(Exchange(from, to, 50000));  // `to` reads it (and answers) before the data
  ASSERT_TRUE(Exchange(to, from, 50000));
}

TEST_P(BridgeKeyUpdateTest, BothSidesRekeyOurEngine) {
  control::LinuxTlsCounters& linux_stats = control::GetStats().linux_tls;
  std::unique_ptr<TlsPair> pair = ConnectTls(ConfigFor(GetParam()));
  ASSERT_TRUE(pair->client && pair->server);
  ExpectOffloaded(pair->client.get(), true);
  ExpectOffloaded(pair->server.get(), true);
  ASSERT_TRUE(Exchange(pair->client.get(), pair->server.get(), 10000));
  ASSERT_TRUE(Exchange(pair->server.get(), pair->client.get(), 10000));
  const uint64_t tx_before = linux_stats.tx_rekey_ok.value();
  const uint64_t rx_before = linux_stats.rx_rekey_ok.value();

  // Requested by the client: four new keys (each side's sending and receiving key).
  KeyUpdateRound(pair->client.get(), pair->server.get(), SSL_KEY_UPDATE_REQUESTED);
  EXPECT_EQ(linux_stats.tx_rekey_ok.value() - tx_before, 2u);
  EXPECT_EQ(linux_stats.rx_rekey_ok.value() - rx_before, 2u);
  // Not requested, from the server: one more key each way.
  KeyUpdateRound(pair->server.get(), pair->client.get(), SSL_KEY_UPDATE_NOT_REQUESTED);
  EXPECT_EQ(linux_stats.tx_rekey_ok.value() - tx_before, 3u);
  EXPECT_EQ(linux_stats.rx_rekey_ok.value() - rx_before, 3u);
  for (int i = 0; i < 5; ++i) {
    SSL* from = i % 2 == 0 ? pair->server.get() : pair->client.get();
    SSL* to = i % 2 == 0 ? pair->client.get() : pair->server.get();
    KeyUpdateRound(from, to, SSL_KEY_UPDATE_REQUESTED);
  }
  EXPECT_EQ(linux_stats.tx_rekey_ok.value() - tx_before, 13u);
  EXPECT_EQ(linux_stats.rx_rekey_ok.value() - rx_before, 13u);
  // Still our engine, still in step.
  const TransferResult after = Transfer(pair->client.get(), pair->server.get(), 8 * kMiB);
  ASSERT_TRUE(after.ok);
  EXPECT_EQ(after.sent, after.received);
  ExpectCloseNotify(pair->client.get(), pair->server.get());
}

INSTANTIATE_TEST_SUITE_P(Tls13Suites, BridgeKeyUpdateTest,
                         ::testing::Values(kSuites[3], kSuites[4], kSuites[5]), SuiteName);

// --- A plain OpenSSL peer (its own record layer) ---------------------------------------

struct PlainPeerCase {
  const char* name;
  int version;
  bool plain_client;  // else the server is the plain one
};

class BridgePlainPeerTest : public ::testing::TestWithParam<PlainPeerCase> {};

TEST_P(BridgePlainPeerTest, InteroperatesWithUnbridgedOpenSsl) {
  const PlainPeerCase& param = GetParam();
  TlsConfig config;
  config.version = param.version;
  config.client_bridge = !param.plain_client;
  config.server_bridge = param.plain_client;
  std::unique_ptr<TlsPair> pair = ConnectTls(config);
  ASSERT_TRUE(pair->client && pair->server);
  SSL* bridged = param.plain_client ? pair->server.get() : pair->client.get();
  SSL* plain = param.plain_client ? pair->client.get() : pair->server.get();
  const int bridged_fd = param.plain_client ? pair->tcp.server : pair->tcp.client;
  ExpectOffloaded(bridged, param.version == TLS1_3_VERSION);
  EXPECT_EQ(BIO_get_ktls_send(SSL_get_wbio(plain)), 0);

  const size_t bytes = 16 * kMiB;
  const TransferResult out = Transfer(bridged, plain, bytes);
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(out.sent, out.received);
  const TransferResult in = Transfer(plain, bridged, bytes);
  ASSERT_TRUE(in.ok);
  EXPECT_EQ(in.sent, in.received);
  const EngineCounters counters = CountersOf(bridged_fd);
  EXPECT_GE(counters.tx_records, bytes / 16384);
  EXPECT_GE(counters.rx_records, bytes / 16384);

  if (param.version == TLS1_3_VERSION) {
    KeyUpdateRound(plain, bridged, SSL_KEY_UPDATE_REQUESTED);
    KeyUpdateRound(bridged, plain, SSL_KEY_UPDATE_REQUESTED);
    KeyUpdateRound(bridged, plain, SSL_KEY_UPDATE_NOT_REQUESTED);
  }
  ExpectCloseNotify(plain, bridged);
}

std::string PeerName(const ::testing::TestParamInfo<PlainPeerCase>& info) {
  return info.param.name;
}

constexpr PlainPeerCase kPlainPeers[] = {
    {"Tls12PlainClient", TLS1_2_VERSION, true},
    {"Tls12PlainServer", TLS1_2_VERSION, false},
    {"Tls13PlainClient", TLS1_3_VERSION, true},
    {"Tls13PlainServer", TLS1_3_VERSION, false},
};

INSTANTIATE_TEST_SUITE_P(Peers, BridgePlainPeerTest, ::testing::ValuesIn(kPlainPeers), PeerName);

// --- What stays in OpenSSL -----------------------------------------------------------

TEST(BridgeFallbackTest, Tls13ReceiveStaysInOpenSslWithoutTheCapture) {
  TlsConfig config;
  config.prepare = false;  // attach alone: no key capture on the context
  std::unique_ptr<TlsPair> pair = ConnectTls(config);
  ASSERT_TRUE(pair->client && pair->server);
  for (SSL* ssl : {pair->client.get(), pair->server.get()}) {
    EXPECT_EQ(BIO_get_ktls_send(SSL_get_wbio(ssl)), 1);  // OpenSSL handed this one over
    EXPECT_EQ(BIO_get_ktls_recv(SSL_get_rbio(ssl)), 0);
    Result<openssl::KernelBioState> state = openssl::InspectKernelBio(SSL_get_rbio(ssl));
    ASSERT_TRUE(state.ok());
    EXPECT_EQ(state->rx_error, ENOKEY);
  }
  EXPECT_TRUE(Exchange(pair->client.get(), pair->server.get(), 4 * kMiB));
  EXPECT_TRUE(Exchange(pair->server.get(), pair->client.get(), 4 * kMiB));
  EXPECT_GE(CountersOf(pair->tcp.client).tx_records, 4 * kMiB / 16384);
  EXPECT_EQ(CountersOf(pair->tcp.client).rx_records, 0u);
  ExpectCloseNotify(pair->client.get(), pair->server.get());
}

TEST(BridgeFallbackTest, CcmStaysInOpenSsl) {
  TlsConfig config;
  config.version = TLS1_2_VERSION;
  config.cipher = "ECDHE-ECDSA-AES128-CCM";
  std::unique_ptr<TlsPair> pair = ConnectTls(config);
  ASSERT_TRUE(pair->client && pair->server);
  for (SSL* ssl : {pair->client.get(), pair->server.get()}) {
    EXPECT_EQ(BIO_get_ktls_send(SSL_get_wbio(ssl)), 0);
    EXPECT_EQ(BIO_get_ktls_recv(SSL_get_rbio(ssl)), 0);
  }
  EXPECT_TRUE(Exchange(pair->client.get(), pair->server.get(), kMiB));
  EXPECT_TRUE(Exchange(pair->server.get(), pair->client.get(), kMiB));
  ExpectCloseNotify(pair->client.get(), pair->server.get());
}

TEST(BridgeFallbackTest, OffloadSwitchedOffLeavesEverythingToOpenSsl) {
  std::atomic<bool>& enable = control::GetKnobs().enable;
  const bool was = enable.load();
  enable.store(false);
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsConfig config;
    config.version = version;
    std::unique_ptr<TlsPair> pair = ConnectTls(config);
    ASSERT_TRUE(pair->client && pair->server);
    for (SSL* ssl : {pair->client.get(), pair->server.get()}) {
      EXPECT_EQ(BIO_get_ktls_send(SSL_get_wbio(ssl)), 0);
      EXPECT_EQ(BIO_get_ktls_recv(SSL_get_rbio(ssl)), 0);
    }
    EXPECT_TRUE(Exchange(pair->client.get(), pair->server.get(), kMiB));
    EXPECT_TRUE(Exchange(pair->server.get(), pair->client.get(), kMiB));
    ExpectCloseNotify(pair->client.get(), pair->server.get());
  }
  enable.store(was);
}

// With read-ahead OpenSSL may hold bytes of records it has not processed: TLS 1.3
// receive moves to our engine only at a moment it holds none, or stays in OpenSSL.
TEST_P(BridgeSuiteTest, ReadAheadKeepsTheStreamIntact) {
  TlsConfig config = ConfigFor(GetParam());
  config.read_ahead = true;
  std::unique_ptr<TlsPair> pair = ConnectTls(config);
  ASSERT_TRUE(pair->client && pair->server);
  EXPECT_EQ(BIO_get_ktls_send(SSL_get_wbio(pair->client.get())), 1);
  for (int round = 0; round < 3; ++round) {
    EXPECT_TRUE(Exchange(pair->server.get(), pair->client.get(), 2 * kMiB + 17));
    EXPECT_TRUE(Exchange(pair->client.get(), pair->server.get(), 2 * kMiB + 17));
  }
  ExpectCloseNotify(pair->client.get(), pair->server.get());
}

// --- Attach preconditions ------------------------------------------------------------

TEST(BridgeAttachTest, Preconditions) {
  errno = 0;
  EXPECT_EQ(ktls_openssl_attach(nullptr), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(ktls_openssl_ctx_prepare(nullptr), -1);
  EXPECT_EQ(errno, EINVAL);

  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  ASSERT_EQ(ktls_openssl_ctx_prepare(ctx.get()), 0);
  EXPECT_NE(SSL_CTX_get_options(ctx.get()) & SSL_OP_ENABLE_KTLS, 0u);
  {
    SslPtr ssl(SSL_new(ctx.get()));  // a memory BIO: no socket to attach to
    BIO* mem = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl.get(), mem, mem);
    EXPECT_EQ(ktls_openssl_attach(ssl.get()), -1);
    EXPECT_EQ(errno, EINVAL);
  }
  {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    SslPtr ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fds[0]);
    EXPECT_EQ(ktls_openssl_attach(ssl.get()), -1);
    EXPECT_EQ(errno, EPROTONOSUPPORT);
    close(fds[0]);
    close(fds[1]);
  }
  {
    TcpPair tcp;
    SslPtr ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), tcp.client);
    EXPECT_EQ(ktls_openssl_attach(ssl.get()), 0);
    EXPECT_EQ(ktls_openssl_attach(ssl.get()), 0);  // again: nothing changes
    EXPECT_TRUE(openssl::IsKernelBio(SSL_get_rbio(ssl.get())));
    EXPECT_EQ(SSL_get_fd(ssl.get()), tcp.client);
    EXPECT_NE(SSL_get_options(ssl.get()) & SSL_OP_ENABLE_KTLS, 0u);
  }
}

TEST(BridgeAttachTest, AfterTheHandshakeIsRefused) {
  TlsConfig config;
  config.client_bridge = false;
  config.server_bridge = false;
  std::unique_ptr<TlsPair> pair = ConnectTls(config);
  ASSERT_TRUE(pair->client && pair->server);
  EXPECT_EQ(ktls_openssl_attach(pair->client.get()), -1);
  EXPECT_EQ(errno, EALREADY);
  EXPECT_TRUE(Exchange(pair->client.get(), pair->server.get(), 1000));
}

TEST(BridgeAttachTest, SslFreeDetachesTheDescriptor) {
  TlsConfig config;
  std::unique_ptr<TlsPair> pair = ConnectTls(config);
  ASSERT_TRUE(pair->client && pair->server);
  ASSERT_TRUE(Exchange(pair->client.get(), pair->server.get(), 1000));
  EXPECT_TRUE(api::linux_abi::IsEmulated(pair->tcp.client));
  pair->client.reset();
  pair->server.reset();
  EXPECT_FALSE(api::linux_abi::IsEmulated(pair->tcp.client));
  EXPECT_FALSE(api::linux_abi::IsEmulated(pair->tcp.server));
  // The descriptors stay open for their owner.
  EXPECT_EQ(fcntl(pair->tcp.client, F_GETFD), FD_CLOEXEC);
}

// --- Closing the descriptor past OpenSSL -------------------------------------------

// Applications often call SSL_shutdown() and then close(2) the socket themselves before
// (or without) SSL_free(): every record our engine accepted must be in the kernel by
// then. The reader starts late, so the writer fills TCP and our engine's queue first.
TEST(BridgeCloseTest, RawCloseAfterShutdownLosesNothing) {
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsConfig config;
    config.version = version;
    std::unique_ptr<TlsPair> pair = ConnectTls(config);
    ASSERT_TRUE(pair->client && pair->server);
    std::vector<uint8_t> data(12 * kMiB);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 13 + (i >> 10));
    std::vector<uint8_t> received;
    int last_error = 0;
    std::thread reader([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      std::vector<uint8_t> buffer(65536);
      for (;;) {
        const int n = SSL_read(pair->client.get(), buffer.data(), static_cast<int>(buffer.size()));
        if (n <= 0) {
          last_error = SSL_get_error(pair->client.get(), n);
          return;
        }
        received.insert(received.end(), buffer.begin(), buffer.begin() + n);
      }
    });
    size_t sent = 0;
    while (sent < data.size()) {
      const int n = SSL_write(pair->server.get(), data.data() + sent,
                              static_cast<int>(std::min<size_t>(data.size() - sent, 1 << 20)));
      ASSERT_GT(n, 0);
      sent += static_cast<size_t>(n);
    }
    EXPECT_EQ(SSL_shutdown(pair->server.get()), 0);
    close(pair->tcp.server);
    pair->tcp.Release(pair->tcp.server);
    reader.join();
    EXPECT_EQ(last_error, SSL_ERROR_ZERO_RETURN);
    EXPECT_EQ(received.size(), data.size());
    EXPECT_TRUE(received == data);
    EXPECT_EQ(BIO_wpending(SSL_get_wbio(pair->client.get())), 0);
  }
}

// --- Non-blocking sockets ------------------------------------------------------------

// One thread drives both ends: writes until SSL_ERROR_WANT_WRITE, reads until
// SSL_ERROR_WANT_READ, and polls only when neither side can move.
bool NonBlockingTransfer(SSL* writer, SSL* reader, size_t bytes) {
  SSL_set_mode(writer, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  std::vector<uint8_t> data(bytes);
  for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<uint8_t>(i * 7 + (i >> 11));
  std::vector<uint8_t> received;
  received.reserve(bytes);
  std::vector<uint8_t> buffer(40000);
  size_t sent = 0;
  int idle_rounds = 0;
  while (received.size() < bytes) {
    bool progress = false;
    while (sent < bytes) {
      const int n = SSL_write(writer, data.data() + sent,
                              static_cast<int>(std::min<size_t>(bytes - sent, 50000)));
      if (n <= 0) {
        if (SSL_get_error(writer, n) != SSL_ERROR_WANT_WRITE) return false;
        break;
      }
      sent += static_cast<size_t>(n);
      progress = true;
    }
    for (;;) {
      const int n = SSL_read(reader, buffer.data(), static_cast<int>(buffer.size()));
      if (n <= 0) {
        if (SSL_get_error(reader, n) != SSL_ERROR_WANT_READ) return false;
        // Nothing left inside ktls either, so poll(2) on the descriptor is safe.
        if (BIO_pending(SSL_get_rbio(reader)) != 0) return false;
        break;
      }
      received.insert(received.end(), buffer.begin(), buffer.begin() + n);
      progress = true;
    }
    if (progress) {
      idle_rounds = 0;
      continue;
    }
    if (++idle_rounds > 200) return false;
    struct pollfd pfds[2] = {{SSL_get_fd(writer), POLLOUT, 0}, {SSL_get_fd(reader), POLLIN, 0}};
    poll(pfds, 2, 50);
  }
  return received == data;
}

TEST_P(BridgeSuiteTest, NonBlockingSockets) {
  std::unique_ptr<TlsPair> pair = ConnectTls(ConfigFor(GetParam()));
  ASSERT_TRUE(pair->client && pair->server);
  ExpectOffloaded(pair->client.get(), GetParam().version == TLS1_3_VERSION);
  SetNonBlocking(pair->tcp.client, true);
  SetNonBlocking(pair->tcp.server, true);
  EXPECT_TRUE(NonBlockingTransfer(pair->client.get(), pair->server.get(), 6 * kMiB));
  EXPECT_TRUE(NonBlockingTransfer(pair->server.get(), pair->client.get(), 6 * kMiB));
  SetNonBlocking(pair->tcp.client, false);
  SetNonBlocking(pair->tcp.server, false);
  ExpectCloseNotify(pair->client.get(), pair->server.get());
}

}  // namespace
}  // namespace ktls::testing
