#include "crypto/suite.h"

#include <gtest/gtest.h>

#include <set>

namespace ktls::crypto {
namespace {

TEST(SuiteTable, EveryIdHasItsOwnRowAndName) {
  std::set<std::string_view> names;
  for (const SuiteInfo& suite : AllSuites()) {
    EXPECT_EQ(&GetSuite(suite.id), &suite);
    EXPECT_TRUE(names.insert(suite.name).second) << suite.name;
  }
  EXPECT_EQ(AllSuites().size(), 9u);
}

TEST(SuiteTable, FreeBsdIdsResolveToTheRightSuite) {
  EXPECT_EQ(SuiteFromFreeBsd(kFreeBsdAesGcm16, 16, 0), SuiteId::kAes128Gcm);
  EXPECT_EQ(SuiteFromFreeBsd(kFreeBsdAesGcm16, 32, 0), SuiteId::kAes256Gcm);
  EXPECT_EQ(SuiteFromFreeBsd(kFreeBsdChaCha20Poly1305, 32, 0), SuiteId::kChaCha20Poly1305);
  EXPECT_EQ(SuiteFromFreeBsd(kFreeBsdAesCbc, 16, kFreeBsdSha1Hmac), SuiteId::kAes128CbcSha1);
  EXPECT_EQ(SuiteFromFreeBsd(kFreeBsdAesCbc, 32, kFreeBsdSha384Hmac), SuiteId::kAes256CbcSha384);
  EXPECT_EQ(SuiteFromFreeBsd(kFreeBsdAesGcm16, 24, 0), std::nullopt);  // AES-192
  EXPECT_EQ(SuiteFromFreeBsd(kFreeBsdChaCha20Poly1305, 16, 0), std::nullopt);
  EXPECT_EQ(SuiteFromFreeBsd(kFreeBsdAesCbc, 16, 0), std::nullopt);
  EXPECT_EQ(SuiteFromFreeBsd(99, 16, 0), std::nullopt);
}

TEST(SuiteTable, LinuxIdsResolveToTheRightSuite) {
  EXPECT_EQ(SuiteFromLinux(51), SuiteId::kAes128Gcm);
  EXPECT_EQ(SuiteFromLinux(52), SuiteId::kAes256Gcm);
  EXPECT_EQ(SuiteFromLinux(54), SuiteId::kChaCha20Poly1305);
  EXPECT_EQ(SuiteFromLinux(0), std::nullopt);
  EXPECT_EQ(SuiteFromLinux(55), std::nullopt);
}

TEST(SuiteTable, VersionMatrixMatchesFreeBsd) {
  // ktls(4) acceptance matrix: CBC+SHA1 1.0-1.2, CBC+SHA2 1.2 only, AEADs 1.2-1.3.
  const auto& sha1 = GetSuite(SuiteId::kAes128CbcSha1);
  EXPECT_TRUE(SuiteSupportsVersion(sha1, TlsVersion::kTls10));
  EXPECT_TRUE(SuiteSupportsVersion(sha1, TlsVersion::kTls12));
  EXPECT_FALSE(SuiteSupportsVersion(sha1, TlsVersion::kTls13));
  const auto& sha256 = GetSuite(SuiteId::kAes256CbcSha256);
  EXPECT_FALSE(SuiteSupportsVersion(sha256, TlsVersion::kTls11));
  EXPECT_TRUE(SuiteSupportsVersion(sha256, TlsVersion::kTls12));
  const auto& gcm = GetSuite(SuiteId::kAes128Gcm);
  EXPECT_FALSE(SuiteSupportsVersion(gcm, TlsVersion::kTls11));
  EXPECT_TRUE(SuiteSupportsVersion(gcm, TlsVersion::kTls13));
}

}  // namespace
}  // namespace ktls::crypto
