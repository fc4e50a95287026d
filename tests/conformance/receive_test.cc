// ktls_test.c's receive cases (ktls_receive_*): RX is enabled on the connecting socket,
// records built with the reference implementation are written raw from the accepted
// socket, and ktls_recvmsg must return each record's payload with a TLS_GET_RECORD
// control message, or the errno ktls(4) documents for a bad record.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "conformance.h"

namespace ktls::conformance {
namespace {

using testing::AesCbcNonZeroSuites;
using testing::AesGcm12Suites;
using testing::AesGcmSuites;
using testing::ChaChaSuites;
using testing::InvalidSuites;
using testing::Tls10Suites;
using testing::Tls13Suites;
using testing::WriteAll;

// AES_CBC_NONZERO + AES_GCM + CHACHA20: every suite FreeBSD can receive.
std::vector<FreeBsdSuite> ReceiveSuites() {
  std::vector<FreeBsdSuite> all = AesCbcNonZeroSuites();
  for (const FreeBsdSuite& s : AesGcmSuites()) all.push_back(s);
  for (const FreeBsdSuite& s : ChaChaSuites()) all.push_back(s);
  return all;
}

// AES_CBC_NONZERO + AES_GCM_12: the suites with an explicit IV or nonce.
std::vector<FreeBsdSuite> ExplicitIvSuites() {
  std::vector<FreeBsdSuite> all = AesCbcNonZeroSuites();
  for (const FreeBsdSuite& s : AesGcm12Suites()) all.push_back(s);
  return all;
}

// Half-closes the writer as ktls_test.c does: the receiver may already have dropped
// the connection, so ENOTCONN is fine.
void ShutdownWriter(int fd) {
  if (shutdown(fd, SHUT_WR) != 0) {
    EXPECT_EQ(errno, ENOTCONN);
  }
}

// ktls_receive_unsupported_<tls10>: no TLS 1.0 receive in FreeBSD's software backend.
class ReceiveUnsupported : public ::testing::TestWithParam<Case> {};

TEST_P(ReceiveUnsupported, Run) {
  Connection conn;
  TlsEnableBuilder builder(GetParam().suite);
  EXPECT_TRUE(FailsWith(EnableRx(conn.client(), builder.get()), EPROTONOSUPPORT));
}

INSTANTIATE_TEST_SUITE_P(Receive, ReceiveUnsupported,
                         ::testing::ValuesIn(CasesFor(Tls10Suites(), "", 0, 0, "unsupported_")),
                         CaseName);

// ktls_receive_invalid_<suite>: TCP_RXTLS_ENABLE refuses the suite with EINVAL.
class ReceiveInvalid : public ::testing::TestWithParam<Case> {};

TEST_P(ReceiveInvalid, Run) {
  Connection conn;
  TlsEnableBuilder builder(GetParam().suite);
  EXPECT_TRUE(FailsWith(EnableRx(conn.client(), builder.get()), EINVAL));
}

INSTANTIATE_TEST_SUITE_P(Receive, ReceiveInvalid,
                         ::testing::ValuesIn(CasesFor(InvalidSuites(), "", 0, 0, "invalid_")),
                         CaseName);

// ktls_receive_<suite>_{short,long}, _padding_N, _padding_{16,32}_extra and the TLS 1.3
// _{short,long}_padded cases: every record comes back whole, in order, one per recvmsg.
class ReceiveAppData : public ::testing::TestWithParam<Case> {};

TEST_P(ReceiveAppData, Run) {
  const Case& c = GetParam();
  Connection conn;
  TlsEnableBuilder builder(c.suite);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));

  RxSealer sealer(builder);
  const std::vector<uint8_t> plaintext = RandomBytes(c.len);
  std::vector<uint8_t> wire;
  std::vector<ConstBytes> chunks;
  for (size_t offset = 0; offset < c.len;) {
    // ktls_test.c keeps records within the limit once padding is counted.
    const size_t chunk = std::min(c.len - offset, kMaxPayload - c.padding);
    chunks.emplace_back(plaintext.data() + offset, chunk);
    const std::vector<uint8_t> record = sealer.Seal(TLS_RLTYPE_APP, chunks.back(), c.padding);
    wire.insert(wire.end(), record.begin(), record.end());
    offset += chunk;
  }
  BackgroundWriter writer(conn.server(), std::move(wire));
  for (ConstBytes chunk : chunks) {
    ExpectRecord(builder, conn.client(), TLS_RLTYPE_APP, chunk);
    if (HasFatalFailure()) break;
  }
  EXPECT_TRUE(writer.Join());
}

std::vector<Case> AppDataCases() {
  std::vector<std::vector<Case>> groups = {
      CasesFor(ReceiveSuites(), "short", 64),
      CasesFor(ReceiveSuites(), "long", 64 * 1024),
  };
  for (size_t n = 1; n <= 16; ++n) {
    groups.push_back(CasesFor(AesCbcNonZeroSuites(), "padding_" + std::to_string(n), n));
  }
  groups.push_back(CasesFor(AesCbcNonZeroSuites(), "padding_16_extra", 16, 16));
  groups.push_back(CasesFor(AesCbcNonZeroSuites(), "padding_32_extra", 16, 32));
  groups.push_back(CasesFor(Tls13Suites(), "short_padded", 64, 16));
  groups.push_back(CasesFor(Tls13Suites(), "long_padded", 64 * 1024, 15));
  return Concat(std::move(groups));
}

INSTANTIATE_TEST_SUITE_P(Receive, ReceiveAppData, ::testing::ValuesIn(AppDataCases()), CaseName);

// ktls_receive_<suite>_{bad_data,bad_mac}, <cbc>_bad_padding, <explicit iv>_bad_iv: one
// bit flipped in a 64-byte record -> EBADMSG.
class ReceiveCorrupted : public ::testing::TestWithParam<Case> {};

TEST_P(ReceiveCorrupted, Run) {
  const Case& c = GetParam();
  Connection conn;
  TlsEnableBuilder builder(c.suite);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));

  RxSealer sealer(builder);
  const std::vector<uint8_t> plaintext = RandomBytes(c.len);
  std::vector<uint8_t> record = sealer.Seal(TLS_RLTYPE_APP, plaintext);
  size_t offset = 0;
  if (c.variant == "bad_data") {
    offset = builder.header_len();  // the first ciphertext byte
  } else if (c.variant == "bad_mac") {
    // The first byte of the MAC (CBC: its ciphertext position) or of the tag.
    offset = builder.is_cbc() ? builder.header_len() + c.len : record.size() - builder.mac_len();
  } else if (c.variant == "bad_padding") {
    offset = record.size() - 1;  // the padding length byte
  } else {
    ASSERT_EQ(c.variant, "bad_iv");
    offset = 5;  // the first byte of the explicit IV / nonce
  }
  record[offset] ^= 0x01;
  ASSERT_TRUE(WriteAll(conn.server(), record.data(), record.size()));
  ExpectReceiveError(conn.client(), EBADMSG);
}

INSTANTIATE_TEST_SUITE_P(Receive, ReceiveCorrupted,
                         ::testing::ValuesIn(Concat({
                             CasesFor(ReceiveSuites(), "bad_data", 64),
                             CasesFor(ReceiveSuites(), "bad_mac", 64),
                             CasesFor(AesCbcNonZeroSuites(), "bad_padding", 64),
                             CasesFor(ExplicitIvSuites(), "bad_iv", 64),
                         })),
                         CaseName);

// ktls_receive_<suite>_truncated_record: half a record, then the peer closes -> EMSGSIZE.
class ReceiveTruncated : public ::testing::TestWithParam<Case> {};

TEST_P(ReceiveTruncated, Run) {
  const Case& c = GetParam();
  Connection conn;
  TlsEnableBuilder builder(c.suite);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));

  RxSealer sealer(builder);
  const std::vector<uint8_t> record = sealer.Seal(TLS_RLTYPE_APP, RandomBytes(c.len));
  ASSERT_TRUE(WriteAll(conn.server(), record.data(), record.size() / 2));
  ShutdownWriter(conn.server());
  ExpectReceiveError(conn.client(), EMSGSIZE);
}

INSTANTIATE_TEST_SUITE_P(Receive, ReceiveTruncated,
                         ::testing::ValuesIn(CasesFor(ReceiveSuites(), "truncated_record", 64)),
                         CaseName);

// ktls_receive_<suite>_{bad_major,bad_minor} and <tls13>_bad_type: a header that does
// not match the session -> EINVAL.
class ReceiveBadHeader : public ::testing::TestWithParam<Case> {};

TEST_P(ReceiveBadHeader, Run) {
  const Case& c = GetParam();
  Connection conn;
  TlsEnableBuilder builder(c.suite);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));

  RxSealer sealer(builder);
  std::vector<uint8_t> record;
  if (c.variant == "bad_type") {
    record = sealer.Seal(kControlType, RandomBytes(c.len));
    record[0] = TLS_RLTYPE_APP + 1;  // TLS 1.3 outer type must be 23
  } else {
    record = sealer.Seal(TLS_RLTYPE_APP, RandomBytes(c.len));
    ++record[c.variant == "bad_major" ? 1 : 2];
  }
  ASSERT_TRUE(WriteAll(conn.server(), record.data(), record.size()));
  ExpectReceiveError(conn.client(), EINVAL);
}

INSTANTIATE_TEST_SUITE_P(Receive, ReceiveBadHeader,
                         ::testing::ValuesIn(Concat({
                             CasesFor(ReceiveSuites(), "bad_major", 64),
                             CasesFor(ReceiveSuites(), "bad_minor", 64),
                             CasesFor(Tls13Suites(), "bad_type", 64),
                         })),
                         CaseName);

// ktls_test.c's test_ktls_receive_bad_size: a header announcing `len` bytes followed by
// that many zero bytes, then the peer closes -> EMSGSIZE. The sizes: small_record (one
// below the smallest valid record), oversized_record (32768), non_block_size (CBC: one
// above the minimum, not whole blocks), short_header (6: shorter than the explicit IV).
class ReceiveBadSize : public ::testing::TestWithParam<Case> {};

TEST_P(ReceiveBadSize, Run) {
  const Case& c = GetParam();
  Connection conn;
  TlsEnableBuilder builder(c.suite);
  ASSERT_TRUE(Succeeds(EnableRx(conn.client(), builder.get())));

  size_t len = 0;
  if (c.variant == "small_record") {
    len = builder.min_payload() - 1;
  } else if (c.variant == "oversized_record") {
    len = 2 * TLS_MAX_MSG_SIZE_V10_2;
  } else if (c.variant == "non_block_size") {
    len = builder.min_payload() + 1;
  } else {
    ASSERT_EQ(c.variant, "short_header");
    len = 5 + 1;
  }
  const uint8_t minor = builder.is_tls13() ? TLS_MINOR_VER_TWO : builder.get().tls_vminor;
  std::vector<uint8_t> wire =
      RecordHeader(TLS_RLTYPE_APP, TLS_MAJOR_VER_ONE, minor, static_cast<uint16_t>(len));
  wire.resize(wire.size() + len, 0);
  ASSERT_TRUE(WriteAll(conn.server(), wire.data(), wire.size()));
  ShutdownWriter(conn.server());
  ExpectReceiveError(conn.client(), EMSGSIZE);
}

INSTANTIATE_TEST_SUITE_P(Receive, ReceiveBadSize,
                         ::testing::ValuesIn(Concat({
                             CasesFor(ReceiveSuites(), "small_record"),
                             CasesFor(ReceiveSuites(), "oversized_record"),
                             CasesFor(AesCbcNonZeroSuites(), "non_block_size"),
                             CasesFor(ExplicitIvSuites(), "short_header"),
                         })),
                         CaseName);

}  // namespace
}  // namespace ktls::conformance
