// ktls_test.c's transmit cases (ktls_transmit_*): TX is enabled on the accepted socket,
// data goes in through ktls_write/ktls_sendmsg, and the raw records read on the other
// socket are verified with the reference implementation.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include "conformance.h"

namespace ktls::conformance {
namespace {

using testing::AesCbcSuites;
using testing::AllValidSuites;
using testing::InvalidSuites;

// sendmsg(2) of `payload` with a TLS_SET_RECORD_TYPE control message.
ssize_t SendWithType(int fd, const std::vector<uint8_t>& payload, uint8_t type) {
  struct iovec iov = {const_cast<uint8_t*>(payload.data()), payload.size()};
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
  *CMSG_DATA(cmsg) = type;
  return ktls_sendmsg(fd, &msg, 0);
}

// ktls_transmit_<suite>_{short,long}: application data in records of at most 16384
// bytes, sequence numbers +1 per record.
class TransmitAppData : public ::testing::TestWithParam<Case> {};

TEST_P(TransmitAppData, Run) {
  const Case& c = GetParam();
  Connection conn;
  TlsEnableBuilder builder(c.suite);
  ASSERT_TRUE(Succeeds(EnableTx(conn.server(), builder.get())));

  const std::vector<uint8_t> plaintext = RandomBytes(c.len);
  ASSERT_EQ(ktls_write(conn.server(), plaintext.data(), plaintext.size()),
            static_cast<ssize_t>(plaintext.size()));

  TxVerifier verifier(builder, builder.sequence());
  std::vector<TxVerifier::Record> records;
  const auto payload = verifier.ReadPayload(conn.client(), c.len, TLS_RLTYPE_APP, &records);
  ASSERT_TRUE(payload.has_value());
  EXPECT_TRUE(*payload == plaintext) << "decrypted stream differs from what was written";
  EXPECT_GE(records.size(), (c.len + kMaxPayload - 1) / kMaxPayload);
  EXPECT_EQ(verifier.sequence(), builder.sequence() + records.size());
  // FreeBSD's GCM 1.2 explicit nonce is a per-session counter (random start) that
  // advances by one per record.
  if (builder.is_gcm12()) {
    for (size_t i = 1; i < records.size(); ++i) {
      EXPECT_EQ(LoadBe64(records[i].raw.data() + 5), LoadBe64(records[i - 1].raw.data() + 5) + 1)
          << "explicit nonce of record " << i;
    }
  }
  // CBC 1.1/1.2 explicit IVs are random per record.
  if (builder.is_cbc() && !builder.is_tls10()) {
    for (size_t i = 1; i < records.size(); ++i) {
      EXPECT_NE(0, std::memcmp(records[i].raw.data() + 5, records[i - 1].raw.data() + 5, 16))
          << "explicit IV of record " << i << " repeats";
    }
  }
  EXPECT_EQ(BytesReadable(conn.client()), 0u) << "bytes after the last record";
}

INSTANTIATE_TEST_SUITE_P(Transmit, TransmitAppData,
                         ::testing::ValuesIn(Concat({
                             CasesFor(AllValidSuites(), "short", 64),
                             CasesFor(AllValidSuites(), "long", 64 * 1024),
                         })),
                         CaseName);

// ktls_transmit_<suite>_control and ktls_transmit_<cbc>_padding_N: one sendmsg with a
// TLS_SET_RECORD_TYPE cmsg gives exactly one record of that type; CBC padding minimal.
class TransmitControl : public ::testing::TestWithParam<Case> {};

TEST_P(TransmitControl, Run) {
  const Case& c = GetParam();
  Connection conn;
  TlsEnableBuilder builder(c.suite);
  ASSERT_TRUE(Succeeds(EnableTx(conn.server(), builder.get())));

  const std::vector<uint8_t> payload = RandomBytes(c.len);
  ASSERT_EQ(SendWithType(conn.server(), payload, kControlType),
            static_cast<ssize_t>(payload.size()));

  TxVerifier verifier(builder, builder.sequence());
  const auto record = verifier.Next(conn.client(), kControlType);
  ASSERT_TRUE(record.has_value());
  EXPECT_TRUE(record->opened.payload == payload) << "decrypted payload differs";
  if (builder.is_cbc()) {
    // Checked against the minimum in Next(); the range is ktls_test.c's assertion.
    EXPECT_GE(record->opened.padding_len, 1u);
    EXPECT_LE(record->opened.padding_len, 16u);
  }
  EXPECT_EQ(BytesReadable(conn.client()), 0u) << "more than one record";
}

std::vector<Case> ControlCases() {
  std::vector<std::vector<Case>> groups = {CasesFor(AllValidSuites(), "control", 32)};
  for (size_t n = 1; n <= 16; ++n) {
    groups.push_back(CasesFor(AesCbcSuites(), "padding_" + std::to_string(n), n));
  }
  return Concat(std::move(groups));
}

INSTANTIATE_TEST_SUITE_P(Transmit, TransmitControl, ::testing::ValuesIn(ControlCases()), CaseName);

// ktls_transmit_<suite>_empty_fragment: write(fd, NULL, 0) sends an empty record for
// TLS 1.0 CBC (the BEAST countermeasure) and fails with EINVAL for everything else.
class TransmitEmptyFragment : public ::testing::TestWithParam<Case> {};

TEST_P(TransmitEmptyFragment, Run) {
  const Case& c = GetParam();
  Connection conn;
  TlsEnableBuilder builder(c.suite);
  ASSERT_TRUE(Succeeds(EnableTx(conn.server(), builder.get())));
  TxVerifier verifier(builder, builder.sequence());

  if (builder.is_tls10()) {
    ASSERT_EQ(ktls_write(conn.server(), nullptr, 0), 0);
    const auto record = verifier.Next(conn.client(), TLS_RLTYPE_APP);
    ASSERT_TRUE(record.has_value());
    EXPECT_TRUE(record->opened.payload.empty());
  } else {
    EXPECT_TRUE(FailsWith(ktls_write(conn.server(), nullptr, 0), EINVAL));
    // The same with a record type: still EINVAL (reference §4.1).
    EXPECT_TRUE(FailsWith(SendWithType(conn.server(), {}, kControlType), EINVAL));
    EXPECT_EQ(BytesReadable(conn.client()), 0u);
  }
  // No sequence number was consumed by a refused write; the next record follows.
  const std::vector<uint8_t> data = RandomBytes(16);
  ASSERT_EQ(ktls_write(conn.server(), data.data(), data.size()), 16);
  const auto next = verifier.Next(conn.client(), TLS_RLTYPE_APP);
  ASSERT_TRUE(next.has_value());
  EXPECT_TRUE(next->opened.payload == data);
}

INSTANTIATE_TEST_SUITE_P(Transmit, TransmitEmptyFragment,
                         ::testing::ValuesIn(CasesFor(AllValidSuites(), "empty_fragment")),
                         CaseName);

// ktls_transmit_invalid_<suite>: TCP_TXTLS_ENABLE refuses the suite with EINVAL.
class TransmitInvalid : public ::testing::TestWithParam<Case> {};

TEST_P(TransmitInvalid, Run) {
  Connection conn;
  TlsEnableBuilder builder(GetParam().suite);
  EXPECT_TRUE(FailsWith(EnableTx(conn.server(), builder.get()), EINVAL));
  int mode = -1;
  socklen_t len = sizeof(mode);
  ASSERT_EQ(ktls_getsockopt(conn.server(), IPPROTO_TCP, TCP_TXTLS_MODE, &mode, &len), 0);
  EXPECT_EQ(mode, TCP_TLS_MODE_NONE);
}

INSTANTIATE_TEST_SUITE_P(Transmit, TransmitInvalid,
                         ::testing::ValuesIn(CasesFor(InvalidSuites(), "", 0, 0, "invalid_")),
                         CaseName);

}  // namespace
}  // namespace ktls::conformance
