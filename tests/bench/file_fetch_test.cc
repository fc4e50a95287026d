// The download client against a real in-process `ktls serve`: TLS with records opened by
// OpenSSL and by ktls, every byte checked against the pattern, and the failures it must
// report (wrong bytes, 404, nothing listening) instead of a number.
#include "bench/file_fetch.h"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>

#include "bench/body_pattern.h"
#include "bench/server_process.h"
#include "server/listen_address.h"
#include "server/server.h"
#include "test_site.h"

namespace ktls::bench {
namespace {

constexpr uint64_t kSeed = 99;
constexpr uint64_t kSize = (8u << 20) + 123;  // many records and an odd tail

class FileFetchTest : public ::testing::TestWithParam<FetchTransport> {
 protected:
  static void SetUpTestSuite() {
    site_ = new TestSite("fetch");
    const std::string big = site_->root() + "/big.bin";
    const std::string bad = site_->root() + "/bad.bin";
    ASSERT_TRUE(WritePatternFile(big, kSize, kSeed).ok());
    // The same file with one byte changed in the middle.
    ASSERT_TRUE(WritePatternFile(bad, kSize, kSeed).ok());
    std::fstream file(bad, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(5'000'000);
    file.put('\x5a');
  }
  static void TearDownTestSuite() {
    delete site_;
    site_ = nullptr;
  }
  void SetUp() override {
    server_ = site_->StartServer(/*threads=*/1);
    ASSERT_NE(server_, nullptr);
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

  static TestSite* site_;
  std::unique_ptr<server::Server> server_;
};
TestSite* FileFetchTest::site_ = nullptr;

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
