// The C++ interface: ownership, typed results, records with their types.
#include "ktls/ktls.hpp"

#include <gtest/gtest.h>
#include <sys/time.h>

#include <array>
#include <vector>

#include "testlib/tcp_pair.h"
#include "testlib/tls_enable_builder.h"

namespace ktls {
namespace {

using testing::TcpPair;
using testing::TlsEnableBuilder;

void SetReceiveTimeout(int fd) {
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

TEST(CppApi, RecordsRoundTripWithTypesAndErrorsAreTyped) {
  TcpPair pair;
  const TlsEnableBuilder keys(testing::Tls13Suites()[0], 7);
  Socket sender(pair.server);
  Socket receiver(pair.client);
  pair.Release(pair.server);
  pair.Release(pair.client);
  SetReceiveTimeout(receiver.fd());

  EXPECT_EQ(*sender.TransmitMode(), Mode::kNone);
  ASSERT_TRUE(sender.EnableTransmit(keys.get()));
  ASSERT_TRUE(receiver.EnableReceive(keys.get()));
  EXPECT_EQ(*sender.TransmitMode(), Mode::kSw);
  EXPECT_EQ(*receiver.ReceiveMode(), Mode::kSw);

  const Result<void> again = sender.EnableTransmit(keys.get());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), std::errc::connection_already_in_progress);  // EALREADY

  const std::vector<std::byte> hello(100, std::byte{'h'});
  ASSERT_EQ(*sender.Write(hello), hello.size());
  const std::array<std::byte, 3> alert = {std::byte{1}, std::byte{0}, std::byte{2}};
  ASSERT_EQ(*sender.SendRecord(TLS_RLTYPE_ALERT, alert), alert.size());

  std::array<std::byte, 256> buffer;
  Result<Record> first = receiver.ReceiveRecord(buffer);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->type, TLS_RLTYPE_APP);
  EXPECT_EQ(first->size, hello.size());
  EXPECT_TRUE(first->complete);
  Result<Record> second = receiver.ReceiveRecord(buffer);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->type, TLS_RLTYPE_ALERT);
  EXPECT_EQ(second->version_major, 3);
  EXPECT_EQ(second->size, alert.size());
  EXPECT_EQ(buffer[2], std::byte{2});

  ASSERT_TRUE(sender.Close());
  EXPECT_EQ(sender.fd(), -1);
  Result<Record> end = receiver.ReceiveRecord(buffer);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->size, 0u);
  EXPECT_EQ(end->type, 0);
}

TEST(CppApi, MovedFromSocketOwnsNothing) {
  TcpPair pair;
  Socket a(pair.client);
  pair.Release(pair.client);
  Socket b(std::move(a));
  EXPECT_EQ(a.fd(), -1);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_GE(b.fd(), 0);
  const int fd = b.release();
  EXPECT_EQ(b.fd(), -1);
  Socket c(fd);
}

}  // namespace
}  // namespace ktls
