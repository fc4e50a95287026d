// The benchmark's own bookkeeping, at toy sizes with only `ktls serve` (the real binary):
// a report with samples and medians, and no server left running afterwards, also when
// a server fails to start after others did.
#include "bench/serve_benchmark.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "bench/process_usage.h"
#include "test_site.h"

namespace ktls::bench {
namespace {

ServeBenchOptions ToyOptions(const TestSite& site) {
  ServeBenchOptions options;
  options.ktls_binary = KTLS_CLI_PATH;
  options.work_dir = site.dir();
  options.file_size = uint64_t{1} << 20;
  options.runs = 2;
  options.servers = {ServerKind::kKtlsServe};
  options.connections = 10;
  options.load_seconds = 0.5;
  return options;
}

TEST(ServeBenchmark, KtlsServeAtToySize) {
  TestSite site("serve-bench");
  std::string error;
  Result<ServeBenchReport> report = RunServeBenchmark(ToyOptions(site), &error);
  ASSERT_TRUE(report.ok()) << error;
  ASSERT_EQ(report->servers.size(), 1u);
  const ServerResult& server = report->servers[0];
  EXPECT_TRUE(server.ran);
  EXPECT_EQ(server.name, "ktls-serve");
  EXPECT_EQ(server.samples.size(), 2u);
  EXPECT_GT(server.gigabytes_per_second, 0);
  EXPECT_EQ(server.protocol, "TLSv1.3 TLS_AES_128_GCM_SHA256");
  ASSERT_EQ(report->load.size(), 1u);
  EXPECT_TRUE(report->load[0].ran);
  EXPECT_GT(report->load[0].requests, 0u);
  EXPECT_EQ(report->load[0].errors, 0u) << report->load[0].first_error;
  EXPECT_TRUE(DescendantsOf(getpid()).empty());
}

TEST(ServeBenchmark, AServerThatFailsToStartStopsTheOthers) {
  TestSite site("serve-bench-fail");
  ServeBenchOptions options = ToyOptions(site);
  // ktls serve starts first; then "nginx" exits at once, three times.
  options.servers = {ServerKind::kKtlsServe, ServerKind::kNginxPlain};
  options.nginx = "/bin/false";
  std::string error;
  Result<ServeBenchReport> report = RunServeBenchmark(options, &error);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(error.find("plaintext did not start"), std::string::npos) << error;
  EXPECT_TRUE(DescendantsOf(getpid()).empty());
}

}  // namespace
}  // namespace ktls::bench
