#include "server/listen_address.h"

#include <gtest/gtest.h>

namespace ktls::server {
namespace {

TEST(ListenAddressTest, ParsesIpv4AndIpv6) {
  Result<ListenAddress> v4 = ParseListenAddress("127.0.0.1:8443");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->addr.ss_family, AF_INET);
  EXPECT_EQ(PortOf(*v4), 8443);
  EXPECT_EQ(DialableAddress(*v4), "127.0.0.1:8443");
  Result<ListenAddress> v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->addr.ss_family, AF_INET6);
  EXPECT_EQ(PortOf(*v6), 0);
  SetPort(&*v6, 1234);
  EXPECT_EQ(DialableAddress(*v6), "[::1]:1234");
}

TEST(ListenAddressTest, WildcardsDialTheLoopback) {
  Result<ListenAddress> any4 = ParseListenAddress("0.0.0.0:80");
  ASSERT_TRUE(any4.ok());
  EXPECT_EQ(DialableAddress(*any4), "127.0.0.1:80");
  Result<ListenAddress> any6 = ParseListenAddress("[::]:80");
  ASSERT_TRUE(any6.ok());
  EXPECT_EQ(DialableAddress(*any6), "[::1]:80");
}

TEST(ListenAddressTest, RefusesBadSyntax) {
  for (const char* text : {"", "8443", "127.0.0.1", "127.0.0.1:", ":8443", "127.0.0.1:65536",
                           "127.0.0.1:-1", "127.0.0.1:84x", "[::1]8443", "[::1:8443"}) {
    EXPECT_EQ(ParseListenAddress(text).error(), EINVAL) << text;
  }
}

}  // namespace
}  // namespace ktls::server
