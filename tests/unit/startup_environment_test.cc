// The library's variables (KTLS_SYSCTL, KTLS_CONFIG, KTLS_CRYPTO, KTLS_EXPORT) count as
// the process started with them, even when the program clears its environment before its
// first use of ktls, as nginx's worker processes do. ctest starts this binary with all
// four set (tests/unit/CMakeLists.txt); nothing touches ktls before the test runs.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "control/export/exporter.h"
#include "crypto/backend_choice.h"
#include "ktls/sysctl.h"

namespace ktls {
namespace {

TEST(StartupEnvironment, ValuesFromTheStartSurviveClearenv) {
  if (std::getenv("KTLS_SYSCTL") == nullptr) {
    GTEST_SKIP() << "run through ctest, which sets KTLS_SYSCTL, KTLS_CONFIG, KTLS_CRYPTO and "
                    "KTLS_EXPORT";
  }
  ASSERT_EQ(clearenv(), 0);

  // KTLS_SYSCTL=kern.ipc.tls.maxlen=8192
  uint32_t maxlen = 0;
  size_t len = sizeof(maxlen);
  ASSERT_EQ(ktls_sysctlbyname("kern.ipc.tls.maxlen", &maxlen, &len, nullptr, 0), 0);
  EXPECT_EQ(maxlen, 8192u);
  // KTLS_CONFIG names a file with kern.ipc.tls.cbc_enable=0.
  uint8_t cbc_enable = 1;
  len = sizeof(cbc_enable);
  ASSERT_EQ(ktls_sysctlbyname("kern.ipc.tls.cbc_enable", &cbc_enable, &len, nullptr, 0), 0);
  EXPECT_EQ(cbc_enable, 0);
  // KTLS_CRYPTO=openssl
  EXPECT_EQ(crypto::BackendOverride(), crypto::Backend::kOpenSsl);
  // KTLS_EXPORT=0: the knob access above would otherwise have started exporting.
  EXPECT_EQ(control::shm::ExportedSnapshotPath(), "");

  // A variable the program sets itself before its first use still counts.
  ASSERT_EQ(setenv("KTLS_CRYPTO", "ipsec_mb", 1), 0);
  EXPECT_EQ(crypto::BackendOverride(), crypto::Backend::kIpsecMb);
}

}  // namespace
}  // namespace ktls
