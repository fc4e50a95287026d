// The hand-over `ktls serve` uses: a real OpenSSL handshake on loopback TCP, then
// OffloadAfterHandshake() on the server's socket. The client keeps using OpenSSL, so
// every record crossing afterwards checks keys, IVs and sequence numbers (the TLS 1.3
// session tickets OpenSSL sent before the hand-over included).
#include "openssl/freebsd_offload.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "openssl/handshake_keys.h"
#include "server/self_signed_cert.h"
#include "server/tls_context.h"
#include "session/freebsd_session.h"
#include "testlib/tcp_pair.h"

namespace ktls {
namespace {

using server::SslCtxPtr;

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

class FreeBsdOffloadTest : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/ktls-offload-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = new std::string(pattern);
    Result<server::CertificateFiles> files =
        server::EnsureSelfSignedCertificate(*dir_ + "/cert.pem", *dir_ + "/key.pem");
    ASSERT_TRUE(files.ok());
    EXPECT_TRUE(files->created);
  }
  static void TearDownTestSuite() {
    ASSERT_EQ(std::system(("rm -rf '" + *dir_ + "'").c_str()), 0);
    delete dir_;
  }

  void SetUp() override {
    std::string error;
    Result<SslCtxPtr> ctx = server::MakeServerContext(
        {*dir_ + "/cert.pem", *dir_ + "/key.pem", /*session_tickets=*/2}, &error);
    ASSERT_TRUE(ctx.ok()) << error;
    server_ctx_ = std::move(ctx).value();
    client_ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_min_proto_version(client_ctx_.get(), GetParam());
    SSL_CTX_set_max_proto_version(client_ctx_.get(), GetParam());
  }

  // Runs both sides of the handshake; the client is left blocking, the server SSL
  // finished but unused.
  void Handshake() {
    server_.reset(SSL_new(server_ctx_.get()));
    client_.reset(SSL_new(client_ctx_.get()));
    SSL_set_fd(server_.get(), pair_.server);
    SSL_set_fd(client_.get(), pair_.client);
    std::thread client([this] { client_result_ = SSL_connect(client_.get()); });
    const int accepted = SSL_accept(server_.get());
    client.join();
    ASSERT_EQ(accepted, 1);
    ASSERT_EQ(client_result_, 1);
  }

  // One record from the offloaded server socket.
  std::string ServerReceive(uint8_t* type) {
    char buffer[16384];
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(struct tls_get_record))] = {};
    struct iovec iov = {buffer, sizeof(buffer)};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ktls_recvmsg(pair_.server, &msg, 0);
    if (n < 0) return "<errno " + std::to_string(errno) + ">";
    const struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg == nullptr) return "<no record type>";
    struct tls_get_record info = {};
    std::memcpy(&info, CMSG_DATA(cmsg), sizeof(info));
    *type = info.tls_type;
    return std::string(buffer, static_cast<size_t>(n));
  }

  static std::string* dir_;
  testing::TcpPair pair_;
  SslCtxPtr server_ctx_;
  SslCtxPtr client_ctx_;
  SslPtr server_;
  SslPtr client_;
  int client_result_ = 0;
};

std::string* FreeBsdOffloadTest::dir_ = nullptr;

TEST_P(FreeBsdOffloadTest, RecordsCrossBothWaysAfterTheHandOver) {
  ASSERT_NO_FATAL_FAILURE(Handshake());
  ASSERT_TRUE(openssl::OffloadAfterHandshake(server_.get(), pair_.server).ok());
  int mode = 0;
  socklen_t len = sizeof(mode);
  ASSERT_EQ(ktls_getsockopt(pair_.server, IPPROTO_TCP, TCP_TXTLS_MODE, &mode, &len), 0);
  EXPECT_EQ(mode, TCP_TLS_MODE_SW);
  ASSERT_EQ(ktls_getsockopt(pair_.server, IPPROTO_TCP, TCP_RXTLS_MODE, &mode, &len), 0);
  EXPECT_EQ(mode, TCP_TLS_MODE_SW);
  server_.reset();  // the socket no longer needs OpenSSL

  for (int round = 0; round < 3; ++round) {
    const std::string request = "request " + std::to_string(round);
    ASSERT_EQ(SSL_write(client_.get(), request.data(), static_cast<int>(request.size())),
              static_cast<int>(request.size()));
    uint8_t type = 0;
    EXPECT_EQ(ServerReceive(&type), request);
    EXPECT_EQ(type, TLS_RLTYPE_APP);

    const std::string response(20000 + round, static_cast<char>('a' + round));
    ASSERT_EQ(ktls_write(pair_.server, response.data(), response.size()),
              static_cast<ssize_t>(response.size()));
    std::string received(response.size(), '\0');
    size_t got = 0;
    while (got < received.size()) {
      const int n =
          SSL_read(client_.get(), received.data() + got, static_cast<int>(received.size() - got));
      ASSERT_GT(n, 0) << SSL_get_error(client_.get(), n);
      got += static_cast<size_t>(n);
    }
    EXPECT_EQ(received, response);
  }
  // The client's close_notify arrives as an alert record.
  ASSERT_EQ(SSL_shutdown(client_.get()), 0);
  uint8_t type = 0;
  const std::string alert = ServerReceive(&type);
  EXPECT_EQ(type, TLS_RLTYPE_ALERT);
  EXPECT_EQ(alert, std::string("\x01\x00", 2));
  pair_.Release(pair_.server);
}

TEST_P(FreeBsdOffloadTest, RefusesAnUnfinishedHandshake) {
  server_.reset(SSL_new(server_ctx_.get()));
  SSL_set_fd(server_.get(), pair_.server);
  EXPECT_EQ(openssl::OffloadAfterHandshake(server_.get(), pair_.server).error(), EINVAL);
  EXPECT_EQ(openssl::OffloadAfterHandshake(nullptr, pair_.server).error(), EINVAL);
}

TEST_P(FreeBsdOffloadTest, RefusesReadAhead) {
  ASSERT_NO_FATAL_FAILURE(Handshake());
  SSL_set_read_ahead(server_.get(), 1);
  EXPECT_EQ(openssl::OffloadAfterHandshake(server_.get(), pair_.server).error(), EINVAL);
}

// MakeTlsEnable's argument passes FreeBSD's checks and yields the exported keys.
TEST_P(FreeBsdOffloadTest, TlsEnableRoundTrips) {
  ASSERT_NO_FATAL_FAILURE(Handshake());
  for (openssl::Direction dir : {openssl::Direction::kWrite, openssl::Direction::kRead}) {
    Result<record::RecordKeys> keys = openssl::ExportKeys(server_.get(), dir);
    ASSERT_TRUE(keys.ok());
    const struct tls_enable en = openssl::MakeTlsEnable(*keys);
    EXPECT_EQ(en.tls_vmajor, TLS_MAJOR_VER_ONE);
    EXPECT_EQ(en.tls_vminor,
              GetParam() == TLS1_3_VERSION ? TLS_MINOR_VER_THREE : TLS_MINOR_VER_TWO);
    const auto session_dir = dir == openssl::Direction::kWrite ? session::Direction::kTransmit
                                                               : session::Direction::kReceive;
    Result<record::RecordKeys> back = session::SessionFromTlsEnable(en, session_dir);
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(back->suite, keys->suite);
    EXPECT_EQ(back->version, keys->version);
    EXPECT_EQ(back->sequence, keys->sequence);
    EXPECT_TRUE(std::equal(back->cipher_key.view().begin(), back->cipher_key.view().end(),
                           keys->cipher_key.view().begin(), keys->cipher_key.view().end()));
    EXPECT_TRUE(std::equal(back->iv.view().begin(), back->iv.view().end(), keys->iv.view().begin(),
                           keys->iv.view().end()));
  }
  // TLS 1.3: two session tickets went out under the server's application keys, so its
  // transmit sequence starts at 2; TLS 1.2: the Finished was record 0.
  Result<record::RecordKeys> tx = openssl::ExportKeys(server_.get(), openssl::Direction::kWrite);
  ASSERT_TRUE(tx.ok());
  EXPECT_EQ(tx->sequence, GetParam() == TLS1_3_VERSION ? 2u : 1u);
}

INSTANTIATE_TEST_SUITE_P(Versions, FreeBsdOffloadTest,
                         ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return param_info.param == TLS1_3_VERSION ? "Tls13" : "Tls12";
                         });

}  // namespace
}  // namespace ktls
