// The download client against a real in-process `ktls serve`: TLS with records opened by
// OpenSSL and by ktls, every byte checked against the pattern, and the failures it must
// report (wrong bytes, 404, nothing listening) instead of a number.
#include "bench/file_fetch.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "bench/body_pattern.h"
#include "bench/server_process.h"
#include "server/self_signed_cert.h"
#include "server/server.h"

namespace ktls::bench {
namespace {

constexpr uint64_t kSeed = 99;
constexpr uint64_t kSize = (8u << 20) + 123;  // many records and an odd tail

class FileFetchTest : public ::testing::TestWithParam<FetchTransport> {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/ktls-fetch-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = new std::string(pattern);
    ASSERT_EQ(mkdir((*dir_ + "/site").c_str(), 0755), 0);
    ASSERT_TRUE(WritePatternFile(*dir_ + "/site/big.bin", kSize, kSeed).ok());
    // The same file with one byte changed in the middle.
    ASSERT_TRUE(WritePatternFile(*dir_ + "/site/bad.bin", kSize, kSeed).ok());
    std::fstream bad(*dir_ + "/site/bad.bin", std::ios::in | std::ios::out | std::ios::binary);
    bad.seekp(5'000'000);
    bad.put('\x5a');
    ASSERT_TRUE(server::EnsureSelfSignedCertificate(*dir_ + "/cert.pem", *dir_ + "/key.pem").ok());
  }
  static void TearDownTestSuite() {
    ASSERT_EQ(std::system(("rm -rf '" + *dir_ + "'").c_str()), 0);
    delete dir_;
  }
  void SetUp() override {
    server::ServerOptions options;
    options.root = *dir_ + "/site";
    options.listen = server::ParseListenAddress("127.0.0.1:0").value();
    options.threads = 1;
    options.tls = {*dir_ + "/cert.pem", *dir_ + "/key.pem"};
    server_ = std::make_unique<server::Server>(options);
    std::string error;
    ASSERT_TRUE(server_->Start(&error).ok()) << error;
  }
  void TearDown() override {
    server_->Stop();
    server_->Wait();
  }
  FetchOptions Options(const std::string& path) const {
    FetchOptions options;
    options.port = server::PortOf(server_->address());
    options.path = path;
    options.transport = GetParam();
    options.pattern_seed = kSeed;
    options.io_timeout = std::chrono::seconds(20);
    return options;
  }

  static std::string* dir_;
  std::unique_ptr<server::Server> server_;
};
std::string* FileFetchTest::dir_ = nullptr;

TEST_P(FileFetchTest, DownloadsAndChecksEveryByte) {
  std::string error;
  Result<FetchResult> result = FetchOnce(Options("/big.bin"), &error);
  ASSERT_TRUE(result.ok()) << error;
  EXPECT_EQ(result->body_bytes, kSize);
  EXPECT_GT(result->seconds, 0);
  EXPECT_EQ(result->protocol, "TLSv1.3 TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(result->rx_offloaded, GetParam() == FetchTransport::kTlsKtls);
}

TEST_P(FileFetchTest, WrongBytesAreReported) {
  std::string error;
  Result<FetchResult> result = FetchOnce(Options("/bad.bin"), &error);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), EBADMSG);
  EXPECT_NE(error.find("offset 5000000"), std::string::npos) << error;
}

TEST_P(FileFetchTest, NotFoundIsAnError) {
  std::string error;
  Result<FetchResult> result = FetchOnce(Options("/missing.bin"), &error);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), EPROTO);
  EXPECT_NE(error.find("404"), std::string::npos) << error;
}

TEST_P(FileFetchTest, NothingListeningIsAnError) {
  FetchOptions options = Options("/big.bin");
  Result<uint16_t> port = FreePort("127.0.0.1");
  ASSERT_TRUE(port.ok());
  options.port = *port;
  std::string error;
  Result<FetchResult> result = FetchOnce(options, &error);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), ECONNREFUSED);
}

INSTANTIATE_TEST_SUITE_P(Clients, FileFetchTest,
                         ::testing::Values(FetchTransport::kTlsOpenSsl, FetchTransport::kTlsKtls),
                         [](const ::testing::TestParamInfo<FetchTransport>& param) {
                           return param.param == FetchTransport::kTlsKtls ? "KtlsOpens"
                                                                          : "OpenSslOpens";
                         });

}  // namespace
}  // namespace ktls::bench
