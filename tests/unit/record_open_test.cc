// RecordOpener: the RFC 8448 records, reference-sealed records of every session format,
// and every way a peer's bytes can be short, malformed, oversized or forged.
#include "record/record_opener.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crypto/backend_choice.h"
#include "record/header.h"
#include "record/record_sealer.h"
#include "testlib/assert_result.h"
#include "testlib/hex.h"
#include "testlib/record_reference.h"
#include "testlib/record_sessions.h"

namespace ktls::record {
namespace {

using crypto::Backend;
using crypto::SuiteId;
using crypto::TlsVersion;
using ::ktls::testing::AllSessionCases;
using ::ktls::testing::BackendAvailable;
using ::ktls::testing::ExpectedLayout;
using ::ktls::testing::ExpectedLayoutFor;
using ::ktls::testing::FromHex;
using ::ktls::testing::MakeSessionKeys;
using ::ktls::testing::NextTls10Iv;
using ::ktls::testing::OpenOptionsFor;
using ::ktls::testing::RefCbcIv;
using ::ktls::testing::ReferenceOpen;
using ::ktls::testing::ReferenceOpened;
using ::ktls::testing::ReferenceSeal;
using ::ktls::testing::ReferenceSealOptions;
using ::ktls::testing::SealOptionsFor;
using ::ktls::testing::SessionCase;
using ::ktls::testing::SessionCaseName;
using ::ktls::testing::SessionCasesWhere;
using ::ktls::testing::SessionKeys;

constexpr size_t kSizes[] = {0, 1, 15, 16, 17, 1000, 16383, 16384};
constexpr uint64_t kLastSequence = ~uint64_t{0};

std::vector<uint8_t> RandomBytes(std::mt19937_64& rng, size_t len) {
  std::vector<uint8_t> out(len);
  for (uint8_t& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

RefCbcIv RandomIv(std::mt19937_64& rng) {
  RefCbcIv iv;
  for (uint8_t& b : iv) b = static_cast<uint8_t>(rng());
  return iv;
}

std::vector<uint8_t> PayloadOf(ConstBytes in, const OpenResult& result) {
  if (result.payload_offset + result.payload_len > in.size()) return {};
  const ConstBytes payload = in.subspan(result.payload_offset, result.payload_len);
  return {payload.begin(), payload.end()};
}

std::string StatusName(OpenStatus status) {
  switch (status) {
    case OpenStatus::kOk:
      return "kOk";
    case OpenStatus::kNeedMore:
      return "kNeedMore";
    case OpenStatus::kBadHeader:
      return "kBadHeader";
    case OpenStatus::kBadLength:
      return "kBadLength";
    case OpenStatus::kBadRecordSize:
      return "kBadRecordSize";
    case OpenStatus::kBadRecord:
      return "kBadRecord";
    case OpenStatus::kSequenceExhausted:
      return "kSequenceExhausted";
  }
  return "unknown";
}

// Whether a record that got this far used up a sequence number.
bool ConsumesSequence(OpenStatus status) {
  return status == OpenStatus::kOk || status == OpenStatus::kBadRecordSize ||
         status == OpenStatus::kBadRecord;
}

TEST(OpenStatus, ErrnosAndFatality) {
  EXPECT_EQ(OpenStatusErrno(OpenStatus::kOk), 0);
  EXPECT_EQ(OpenStatusErrno(OpenStatus::kNeedMore), 0);
  EXPECT_EQ(OpenStatusErrno(OpenStatus::kBadHeader), EINVAL);
  EXPECT_EQ(OpenStatusErrno(OpenStatus::kBadLength), EMSGSIZE);
  EXPECT_EQ(OpenStatusErrno(OpenStatus::kBadRecordSize), EMSGSIZE);
  EXPECT_EQ(OpenStatusErrno(OpenStatus::kBadRecord), EBADMSG);
  EXPECT_EQ(OpenStatusErrno(OpenStatus::kSequenceExhausted), EOVERFLOW);
  // ktls(4): header errors drop the connection; crypto errors discard one record.
  EXPECT_TRUE(IsFatal(OpenStatus::kBadHeader));
  EXPECT_TRUE(IsFatal(OpenStatus::kBadLength));
  EXPECT_TRUE(IsFatal(OpenStatus::kSequenceExhausted));
  EXPECT_FALSE(IsFatal(OpenStatus::kBadRecordSize));
  EXPECT_FALSE(IsFatal(OpenStatus::kBadRecord));
  EXPECT_FALSE(IsFatal(OpenStatus::kOk));
  EXPECT_FALSE(IsFatal(OpenStatus::kNeedMore));
}

// --- RFC 8448 §3 -----------------------------------------------------------------------

constexpr char kClientKey[] = "17422dda596ed5d9acd890e3c63f5051";
constexpr char kClientIv[] = "5b78923dee08579033e523d9";
constexpr char kServerKey[] = "9f02283b6c9c07efc26bb9f2ac92e356";
constexpr char kServerIv[] = "cf782b88dd83549aadf1e984";
constexpr char kClientAppRecord[] =
    "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a"
    "20441e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4";
constexpr char kServerAppRecord[] =
    "17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36e30efaf97d90e6dffc602dcb"
    "501a59a8fcc49c4bf2e5f0a21c0047c2abf332540dd032e167c2955d";
constexpr char kClientAlertRecord[] = "1703030013c9872760655666b74d7ff1153efd6db6d0b0e3";
constexpr char kServerAlertRecord[] = "1703030013b58fd67166ebf599d24720cfbe7efa7a8864a9";

std::vector<uint8_t> Rfc8448AppData() {
  std::vector<uint8_t> data(50);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
  return data;
}

RecordKeys Rfc8448Keys(const char* key, const char* iv, uint64_t sequence) {
  RecordKeys keys;
  keys.suite = SuiteId::kAes128Gcm;
  keys.version = TlsVersion::kTls13;
  keys.cipher_key = SecretBytes(FromHex(key));
  keys.iv = SecretBytes(FromHex(iv));
  keys.sequence = sequence;
  return keys;
}

class Rfc8448OpenTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!BackendAvailable(GetParam())) GTEST_SKIP() << "backend unavailable on this CPU";
  }
  OpenOptions Options() const {
    OpenOptions options;
    options.backend = GetParam();
    return options;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, Rfc8448OpenTest,
                         ::testing::Values(Backend::kOpenSsl, Backend::kIpsecMb),
                         [](const auto& param_info) {
                           return std::string(crypto::BackendName(param_info.param));
                         });

TEST_P(Rfc8448OpenTest, ClientRecordsInOneStream) {
  KTLS_ASSERT_OK_AND_ASSIGN(opener,
                            RecordOpener::Create(Rfc8448Keys(kClientKey, kClientIv, 0), Options()));
  EXPECT_EQ(opener.backend(), GetParam());
  std::vector<uint8_t> stream = FromHex(kClientAppRecord);
  const std::vector<uint8_t> alert = FromHex(kClientAlertRecord);
  stream.insert(stream.end(), alert.begin(), alert.end());

  const OpenResult app = opener.Open(stream);
  ASSERT_EQ(app.status, OpenStatus::kOk);
  EXPECT_EQ(app.type, 23);
  EXPECT_EQ(app.major, 3);
  EXPECT_EQ(app.minor, 3);
  EXPECT_EQ(app.record_len, 72u);
  EXPECT_EQ(app.payload_offset, 5u);
  EXPECT_EQ(app.sequence, 0u);
  EXPECT_EQ(PayloadOf(stream, app), Rfc8448AppData());

  const MutableBytes rest = MutableBytes(stream).subspan(app.record_len);
  const OpenResult close = opener.Open(rest);
  ASSERT_EQ(close.status, OpenStatus::kOk);
  EXPECT_EQ(close.type, 21);
  EXPECT_EQ(close.sequence, 1u);
  EXPECT_EQ(PayloadOf(rest, close), FromHex("0100"));
  EXPECT_EQ(opener.next_sequence(), 2u);
}

TEST_P(Rfc8448OpenTest, ServerRecordsAtTheirSequenceNumbersOnly) {
  KTLS_ASSERT_OK_AND_ASSIGN(opener,
                            RecordOpener::Create(Rfc8448Keys(kServerKey, kServerIv, 1), Options()));
  std::vector<uint8_t> app = FromHex(kServerAppRecord);
  const OpenResult opened = opener.Open(app);
  ASSERT_EQ(opened.status, OpenStatus::kOk);
  EXPECT_EQ(PayloadOf(app, opened), Rfc8448AppData());
  std::vector<uint8_t> alert = FromHex(kServerAlertRecord);
  const OpenResult close = opener.Open(alert);
  ASSERT_EQ(close.status, OpenStatus::kOk);
  EXPECT_EQ(close.type, 21);

  // At sequence 0 (where the NewSessionTicket was) the same record fails to verify,
  // and still uses up the number.
  KTLS_ASSERT_OK_AND_ASSIGN(early,
                            RecordOpener::Create(Rfc8448Keys(kServerKey, kServerIv, 0), Options()));
  app = FromHex(kServerAppRecord);
  EXPECT_EQ(early.Open(app).status, OpenStatus::kBadRecord);
  EXPECT_EQ(early.next_sequence(), 1u);
}

// --- Every session format --------------------------------------------------------------

class RecordOpenTest : public ::testing::TestWithParam<SessionCase> {
 protected:
  void SetUp() override {
    if (!BackendAvailable(GetParam().backend)) GTEST_SKIP() << "backend unavailable on this CPU";
    layout_ = ExpectedLayoutFor(GetParam());
  }

  bool tls10() const { return GetParam().version == TlsVersion::kTls10; }

  Result<RecordOpener> MakeOpener(const SessionKeys& keys,
                                  LengthLimits limits = LengthLimits::kFreeBsd) const {
    return RecordOpener::Create(keys.keys, OpenOptionsFor(GetParam(), limits));
  }

  // What the opener must say about `in`, a record whose body is not authentic (or
  // whose header was altered), derived from the ktls(4) rules rather than our code.
  OpenStatus Classify(ConstBytes in, size_t* need) const {
    *need = 0;
    if (in.size() < kHeaderLen) {
      *need = kHeaderLen;
      return OpenStatus::kNeedMore;
    }
    if (in[1] != layout_.wire_major || in[2] != layout_.wire_minor ||
        (layout_.tls13 && in[0] != kApplicationData)) {
      return OpenStatus::kBadHeader;
    }
    const size_t body = LoadBe16(in.data() + 3);
    const size_t total = kHeaderLen + body;
    if (total < layout_.header_len || total > layout_.max_record_len) {
      return OpenStatus::kBadLength;
    }
    if (total > in.size()) {
      *need = total;
      return OpenStatus::kNeedMore;
    }
    if (body < layout_.min_body || (layout_.cbc && body % 16 != 0)) {
      return OpenStatus::kBadRecordSize;
    }
    return OpenStatus::kBadRecord;
  }

  ExpectedLayout layout_;
};

std::string CaseName(const ::testing::TestParamInfo<SessionCase>& param_info) {
  return SessionCaseName(param_info.param);
}

INSTANTIATE_TEST_SUITE_P(AllSessions, RecordOpenTest, ::testing::ValuesIn(AllSessionCases()),
                         CaseName);

// Reference-sealed records of every size, back to back in one buffer, open one by one.
TEST_P(RecordOpenTest, ReferenceRecordsOpenInOneStream) {
  constexpr uint64_t kStart = 77;
  const SessionKeys keys = MakeSessionKeys(GetParam(), 21, kStart);
  KTLS_ASSERT_OK_AND_ASSIGN(opener, MakeOpener(keys));
  EXPECT_EQ(opener.backend(), layout_.cbc ? Backend::kOpenSsl : GetParam().backend);

  std::mt19937_64 rng(22);
  std::vector<uint8_t> stream;
  std::vector<std::vector<uint8_t>> payloads;
  const uint8_t types[] = {23, 22, 21, 20, 0x7f};
  RefCbcIv chain = keys.first_iv;
  for (size_t i = 0; i < std::size(kSizes); ++i) {
    payloads.push_back(RandomBytes(rng, kSizes[i]));
    ReferenceSealOptions options;
    options.explicit_nonce = rng();  // the opener takes it from the wire, whatever it is
    options.cbc_iv = tls10() ? chain : RandomIv(rng);
    const std::vector<uint8_t> record = ReferenceSeal(
        keys.reference, kStart + i, types[i % std::size(types)], payloads.back(), options);
    ASSERT_EQ(record.size(), layout_.RecordSize(kSizes[i]));
    if (tls10()) chain = NextTls10Iv(record);
    stream.insert(stream.end(), record.begin(), record.end());
  }

  size_t offset = 0;
  for (size_t i = 0; i < std::size(kSizes); ++i) {
    SCOPED_TRACE("payload " + std::to_string(kSizes[i]));
    const MutableBytes rest = MutableBytes(stream).subspan(offset);
    const OpenResult peeked = opener.Peek(rest);
    EXPECT_EQ(peeked.status, OpenStatus::kOk);
    EXPECT_EQ(peeked.record_len, layout_.RecordSize(kSizes[i]));
    EXPECT_EQ(opener.next_sequence(), kStart + i);  // Peek changes nothing

    const OpenResult result = opener.Open(rest);
    ASSERT_EQ(result.status, OpenStatus::kOk) << StatusName(result.status);
    EXPECT_EQ(result.type, types[i % std::size(types)]);
    EXPECT_EQ(result.major, layout_.wire_major);
    EXPECT_EQ(result.minor, layout_.wire_minor);
    EXPECT_EQ(result.record_len, layout_.RecordSize(kSizes[i]));
    EXPECT_EQ(result.payload_offset, layout_.header_len);
    EXPECT_EQ(result.sequence, kStart + i);
    EXPECT_EQ(PayloadOf(rest, result), payloads[i]);
    EXPECT_EQ(opener.next_sequence(), kStart + i + 1);
    offset += result.record_len;
  }
  EXPECT_EQ(offset, stream.size());
  EXPECT_EQ(opener.Open(MutableBytes(stream).subspan(offset)).status, OpenStatus::kNeedMore);
}

// Content types are opaque bytes to the record layer: all 256 round-trip through our
// sealer and opener and the reference, except one. TLS 1.3 finds the inner type as the
// last non-zero byte of the decrypted plaintext (RFC 8446 §5.4), so type 0 cannot be
// represented: with an empty payload the plaintext is all zeros and the record is
// refused (kBadRecord); after a non-empty payload the last non-zero payload byte would
// be taken for the type.
TEST_P(RecordOpenTest, AllContentTypesRoundTrip) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 23);
  KTLS_ASSERT_OK_AND_ASSIGN(sealer, RecordSealer::Create(keys.keys, SealOptionsFor(GetParam())));
  // One opener per producer, so TLS 1.0 IV chains stay apart.
  KTLS_ASSERT_OK_AND_ASSIGN(ours_opener, MakeOpener(keys));
  KTLS_ASSERT_OK_AND_ASSIGN(ref_opener, MakeOpener(keys));
  RefCbcIv ours_chain = keys.first_iv;
  RefCbcIv ref_chain = keys.first_iv;
  const std::vector<uint8_t> payload = {1, 2, 3};
  for (int t = 0; t < 256; ++t) {
    const auto type = static_cast<uint8_t>(t);
    const auto seq = static_cast<uint64_t>(t);
    SCOPED_TRACE("type " + std::to_string(t));
    const bool unrepresentable = layout_.tls13 && type == 0;

    // Empty payload, sealed by us: opened by the reference and by us.
    std::vector<uint8_t> record(sealer.RecordSize(0));
    ASSERT_TRUE(sealer.Seal(type, ConstBytes(), record).ok());
    const ReferenceOpened ref = ReferenceOpen(keys.reference, seq, record, ours_chain);
    if (tls10()) ours_chain = NextTls10Iv(record);
    OpenResult result = ours_opener.Open(record);
    if (unrepresentable) {
      EXPECT_EQ(ref.error, ::ktls::testing::ReferenceError::kNoContentType);
      EXPECT_EQ(result.status, OpenStatus::kBadRecord);
    } else {
      EXPECT_TRUE(ref.ok());
      EXPECT_EQ(ref.type, type);
      ASSERT_EQ(result.status, OpenStatus::kOk) << StatusName(result.status);
      EXPECT_EQ(result.type, type);
      EXPECT_EQ(result.payload_len, 0u);
    }

    // Three bytes, sealed by the reference, opened by us.
    ReferenceSealOptions options;
    options.cbc_iv = ref_chain;
    record = ReferenceSeal(keys.reference, seq, type, payload, options);
    if (tls10()) ref_chain = NextTls10Iv(record);
    result = ref_opener.Open(record);
    ASSERT_EQ(result.status, OpenStatus::kOk) << StatusName(result.status);
    if (unrepresentable) {
      EXPECT_EQ(result.type, 3);
      EXPECT_EQ(PayloadOf(record, result), std::vector<uint8_t>({1, 2}));
    } else {
      EXPECT_EQ(result.type, type);
      EXPECT_EQ(PayloadOf(record, result), payload);
    }
  }
  EXPECT_EQ(ours_opener.next_sequence(), 256u);
  EXPECT_EQ(ref_opener.next_sequence(), 256u);
}

TEST_P(RecordOpenTest, TruncatedInputNeedsMore) {
  constexpr uint64_t kStart = 5;
  const SessionKeys keys = MakeSessionKeys(GetParam(), 24, kStart);
  std::mt19937_64 rng(25);
  for (size_t size : {size_t{7}, kMaxPlaintextLen}) {
    SCOPED_TRACE("payload " + std::to_string(size));
    ReferenceSealOptions options;
    options.cbc_iv = tls10() ? keys.first_iv : RandomIv(rng);
    std::vector<uint8_t> record =
        ReferenceSeal(keys.reference, kStart, 23, RandomBytes(rng, size), options);
    KTLS_ASSERT_OK_AND_ASSIGN(opener, MakeOpener(keys));
    // Every prefix of a short record; a sample of the long one's.
    const size_t step = size < 100 ? 1 : 97;
    for (size_t len = 0; len < record.size(); len += (len < kHeaderLen ? 1 : step)) {
      const OpenResult result = opener.Open(MutableBytes(record).first(len));
      ASSERT_EQ(result.status, OpenStatus::kNeedMore) << "prefix " << len;
      EXPECT_EQ(result.need, len < kHeaderLen ? kHeaderLen : record.size()) << "prefix " << len;
      EXPECT_EQ(opener.Peek(MutableBytes(record).first(len)).need, result.need);
    }
    const OpenResult last = opener.Open(MutableBytes(record).first(record.size() - 1));
    EXPECT_EQ(last.status, OpenStatus::kNeedMore);
    EXPECT_EQ(last.need, record.size());
    EXPECT_EQ(opener.next_sequence(), kStart);
    EXPECT_EQ(opener.Open(record).status, OpenStatus::kOk);
  }
}

// Any single bit flipped anywhere in a short record: header bits give the header
// verdict, the rest fail authentication. Only records that pass the header checks and
// are complete use up a sequence number.
TEST_P(RecordOpenTest, EveryFlippedBit) {
  constexpr uint64_t kStart = 1234;
  const SessionKeys keys = MakeSessionKeys(GetParam(), 26, kStart);
  std::mt19937_64 rng(27);
  ReferenceSealOptions options;
  options.cbc_iv = tls10() ? keys.first_iv : RandomIv(rng);
  options.explicit_nonce = rng();
  const std::vector<uint8_t> payload = {7, 8, 9};
  const std::vector<uint8_t> record = ReferenceSeal(keys.reference, kStart, 23, payload, options);
  std::set<OpenStatus> seen;
  for (size_t bit = 0; bit < record.size() * 8; ++bit) {
    std::vector<uint8_t> flipped = record;
    flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    size_t need = 0;
    const OpenStatus expected = Classify(flipped, &need);
    KTLS_ASSERT_OK_AND_ASSIGN(opener, MakeOpener(keys));
    const OpenResult result = opener.Open(flipped);
    ASSERT_EQ(result.status, expected) << "bit " << bit << ": got " << StatusName(result.status)
                                       << ", want " << StatusName(expected);
    if (expected == OpenStatus::kNeedMore) {
      EXPECT_EQ(result.need, need) << "bit " << bit;
    }
    EXPECT_EQ(opener.next_sequence(), kStart + (ConsumesSequence(expected) ? 1 : 0))
        << "bit " << bit;
    EXPECT_EQ(result.payload_len, 0u);
    seen.insert(expected);
  }
  EXPECT_TRUE(seen.count(OpenStatus::kBadHeader));
  EXPECT_TRUE(seen.count(OpenStatus::kBadLength));
  EXPECT_TRUE(seen.count(OpenStatus::kNeedMore));
  EXPECT_TRUE(seen.count(OpenStatus::kBadRecord));
  // And the untouched record opens.
  KTLS_ASSERT_OK_AND_ASSIGN(opener, MakeOpener(keys));
  std::vector<uint8_t> intact = record;
  EXPECT_EQ(opener.Open(intact).status, OpenStatus::kOk);
}

// Bodies of every length up to a little past the smallest valid one, with random
// contents: too short for the header -> kBadLength, too short or misaligned for the
// suite -> kBadRecordSize, otherwise a forgery -> kBadRecord.
TEST_P(RecordOpenTest, ShortAndMisalignedBodies) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 28, 40);
  std::mt19937_64 rng(29);
  std::set<OpenStatus> seen;
  for (size_t body = 0; body <= layout_.min_body + 40; ++body) {
    std::vector<uint8_t> record = {kApplicationData, layout_.wire_major, layout_.wire_minor};
    record.push_back(static_cast<uint8_t>(body >> 8));
    record.push_back(static_cast<uint8_t>(body));
    const std::vector<uint8_t> random = RandomBytes(rng, body);
    record.insert(record.end(), random.begin(), random.end());
    size_t need = 0;
    const OpenStatus expected = Classify(record, &need);
    KTLS_ASSERT_OK_AND_ASSIGN(opener, MakeOpener(keys));
    const OpenResult result = opener.Open(record);
    ASSERT_EQ(result.status, expected) << "body " << body << ": got " << StatusName(result.status);
    EXPECT_EQ(opener.next_sequence(), 40u + (ConsumesSequence(expected) ? 1 : 0));
    seen.insert(expected);
  }
  EXPECT_TRUE(seen.count(OpenStatus::kBadRecordSize));
  EXPECT_TRUE(seen.count(OpenStatus::kBadRecord));
  EXPECT_EQ(seen.count(OpenStatus::kBadLength), layout_.header_len > kHeaderLen ? 1u : 0u);
}

TEST_P(RecordOpenTest, WrongVersionOrOuterTypeIsAHeaderError) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 30, 8);
  std::mt19937_64 rng(31);
  ReferenceSealOptions options;
  options.cbc_iv = tls10() ? keys.first_iv : RandomIv(rng);
  const std::vector<uint8_t> payload = {1, 2, 3, 4};
  const std::vector<uint8_t> record = ReferenceSeal(keys.reference, 8, 23, payload, options);
  KTLS_ASSERT_OK_AND_ASSIGN(opener, MakeOpener(keys));
  for (int major : {0, 2, 3, 4, 0xff}) {
    for (int minor : {0, 1, 2, 3, 4, 5, 0xff}) {
      if (major == layout_.wire_major && minor == layout_.wire_minor) continue;
      std::vector<uint8_t> altered = record;
      altered[1] = static_cast<uint8_t>(major);
      altered[2] = static_cast<uint8_t>(minor);
      EXPECT_EQ(opener.Open(altered).status, OpenStatus::kBadHeader) << major << "." << minor;
      // Judged from the header alone: five bytes are enough.
      EXPECT_EQ(opener.Open(MutableBytes(altered).first(kHeaderLen)).status,
                OpenStatus::kBadHeader);
    }
  }
  EXPECT_EQ(opener.next_sequence(), 8u);
  for (int type = 0; type < 256; ++type) {
    std::vector<uint8_t> altered = record;
    altered[0] = static_cast<uint8_t>(type);
    KTLS_ASSERT_OK_AND_ASSIGN(fresh, MakeOpener(keys));
    const OpenStatus status = fresh.Open(altered).status;
    if (type == record[0]) {
      EXPECT_EQ(status, OpenStatus::kOk);
    } else {
      // TLS 1.3 hides the type inside; before it the type is authenticated data.
      EXPECT_EQ(status, layout_.tls13 ? OpenStatus::kBadHeader : OpenStatus::kBadRecord)
          << "type " << type;
    }
  }
}

// The FreeBSD limit is header_len + 2^14 + the suite's largest trailer; kRfc allows
// 2^14 + 256 (TLS 1.3) or 2^14 + 2048 (earlier) after the 5-byte header.
TEST_P(RecordOpenTest, LengthLimitsAreExact) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 32, 0);
  auto header_only = [&](size_t record_len) {
    std::vector<uint8_t> header = {kApplicationData, layout_.wire_major, layout_.wire_minor};
    header.push_back(static_cast<uint8_t>((record_len - kHeaderLen) >> 8));
    header.push_back(static_cast<uint8_t>(record_len - kHeaderLen));
    return header;
  };
  const size_t rfc_max = kHeaderLen + kMaxPlaintextLen + (layout_.tls13 ? 256 : 2048);
  struct Limit {
    LengthLimits limits;
    size_t max;
  };
  for (const Limit& limit : {Limit{LengthLimits::kFreeBsd, layout_.max_record_len},
                             Limit{LengthLimits::kRfc, rfc_max}}) {
    KTLS_ASSERT_OK_AND_ASSIGN(opener, MakeOpener(keys, limit.limits));
    std::vector<uint8_t> at = header_only(limit.max);
    const OpenResult accepted = opener.Open(at);
    EXPECT_EQ(accepted.status, OpenStatus::kNeedMore) << "at the limit " << limit.max;
    EXPECT_EQ(accepted.need, limit.max);
    std::vector<uint8_t> over = header_only(limit.max + 1);
    EXPECT_EQ(opener.Open(over).status, OpenStatus::kBadLength) << "over " << limit.max;
    std::vector<uint8_t> most = header_only(0xffff + kHeaderLen);
    EXPECT_EQ(opener.Open(most).status, OpenStatus::kBadLength);
    EXPECT_EQ(opener.next_sequence(), 0u);
  }
}

// The largest records the suite can produce open under both limits; whatever decrypts
// to more than 2^14 bytes of content is refused even when its length passed.
TEST_P(RecordOpenTest, LargestRecordsAndOverlongPlaintext) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 33, 0);
  std::mt19937_64 rng(34);
  for (LengthLimits limits : {LengthLimits::kFreeBsd, LengthLimits::kRfc}) {
    KTLS_ASSERT_OK_AND_ASSIGN(opener, MakeOpener(keys, limits));
    ReferenceSealOptions options;
    options.cbc_iv = tls10() ? keys.first_iv : RandomIv(rng);
    std::vector<uint8_t> max_record =
        ReferenceSeal(keys.reference, 0, 23, RandomBytes(rng, kMaxPlaintextLen), options);
    if (!layout_.cbc) {
      EXPECT_EQ(max_record.size(), layout_.max_record_len);
    }
    const RefCbcIv chained = NextTls10Iv(max_record);  // before Open decrypts in place
    const OpenResult result = opener.Open(max_record);
    ASSERT_EQ(result.status, OpenStatus::kOk) << StatusName(result.status);
    EXPECT_EQ(result.payload_len, kMaxPlaintextLen);

    // 2^14 + 1 bytes: over FreeBSD's length limit for AEADs; for CBC the limit leaves
    // room for up to 15 more bytes, which must still be refused once decrypted.
    if (tls10()) options.cbc_iv = chained;
    std::vector<uint8_t> overlong =
        ReferenceSeal(keys.reference, 1, 23, RandomBytes(rng, kMaxPlaintextLen + 1), options);
    const OpenStatus want = limits == LengthLimits::kRfc || layout_.cbc ? OpenStatus::kBadRecordSize
                                                                        : OpenStatus::kBadLength;
    EXPECT_EQ(opener.Open(overlong).status, want) << "limits " << static_cast<int>(limits);
  }
}

TEST_P(RecordOpenTest, SequenceExhaustion) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 35, kLastSequence - 1);
  std::mt19937_64 rng(36);
  ReferenceSealOptions options;
  options.cbc_iv = tls10() ? keys.first_iv : RandomIv(rng);
  const std::vector<uint8_t> payload = {5};
  std::vector<uint8_t> record =
      ReferenceSeal(keys.reference, kLastSequence - 1, 23, payload, options);
  options.cbc_iv = tls10() ? NextTls10Iv(record) : RandomIv(rng);
  std::vector<uint8_t> next = ReferenceSeal(keys.reference, kLastSequence, 23, payload, options);

  KTLS_ASSERT_OK_AND_ASSIGN(opener, MakeOpener(keys));
  const OpenResult last = opener.Open(record);
  ASSERT_EQ(last.status, OpenStatus::kOk);
  EXPECT_EQ(last.sequence, kLastSequence - 1);
  EXPECT_EQ(opener.next_sequence(), kLastSequence);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(opener.Open(next).status, OpenStatus::kSequenceExhausted);
    EXPECT_EQ(opener.next_sequence(), kLastSequence);
  }
  // An incomplete record is still just incomplete.
  EXPECT_EQ(opener.Open(MutableBytes(next).first(3)).status, OpenStatus::kNeedMore);

  const SessionKeys late = MakeSessionKeys(GetParam(), 35, kLastSequence);
  KTLS_ASSERT_OK_AND_ASSIGN(exhausted, MakeOpener(late));
  record = ReferenceSeal(late.reference, kLastSequence - 1, 23, payload, options);
  EXPECT_EQ(exhausted.Open(record).status, OpenStatus::kSequenceExhausted);
}

TEST_P(RecordOpenTest, RejectsKeyMaterialOfTheWrongSize) {
  const SessionKeys good = MakeSessionKeys(GetParam(), 37);
  ASSERT_TRUE(MakeOpener(good).ok());
  const OpenOptions options = OpenOptionsFor(GetParam());
  RecordKeys keys = good.keys;
  keys.cipher_key = SecretBytes(std::vector<uint8_t>(good.keys.cipher_key.size() + 1, 1));
  EXPECT_EQ(RecordOpener::Create(keys, options).error(), EINVAL);
  keys = good.keys;
  keys.cipher_key = SecretBytes();
  EXPECT_EQ(RecordOpener::Create(keys, options).error(), EINVAL);
  if (!layout_.cbc || tls10()) {
    keys = good.keys;
    keys.iv = SecretBytes(std::vector<uint8_t>(good.keys.iv.size() - 1, 1));
    EXPECT_EQ(RecordOpener::Create(keys, options).error(), EINVAL);
    keys.iv = SecretBytes();
    EXPECT_EQ(RecordOpener::Create(keys, options).error(), EINVAL);
  }
  if (layout_.cbc) {
    keys = good.keys;
    keys.mac_key = SecretBytes();
    EXPECT_EQ(RecordOpener::Create(keys, options).error(), EINVAL);
  }
}

TEST(RecordOpenCreate, RejectsSuiteVersionPairsThatDoNotExist) {
  const SessionCase gcm{SuiteId::kAes128Gcm, TlsVersion::kTls12, Backend::kOpenSsl};
  const SessionCase cbc{SuiteId::kAes128CbcSha256, TlsVersion::kTls12, Backend::kOpenSsl};
  const SessionCase sha1{SuiteId::kAes256CbcSha1, TlsVersion::kTls10, Backend::kOpenSsl};
  struct Pair {
    SessionCase shape;
    TlsVersion version;
  };
  for (const Pair& pair :
       {Pair{gcm, TlsVersion::kTls11}, Pair{gcm, TlsVersion::kTls10}, Pair{cbc, TlsVersion::kTls13},
        Pair{cbc, TlsVersion::kTls11}, Pair{sha1, TlsVersion::kTls13}}) {
    SessionKeys keys = MakeSessionKeys(pair.shape, 38);
    keys.keys.version = pair.version;
    EXPECT_EQ(RecordOpener::Create(keys.keys).error(), EINVAL)
        << SessionCaseName(pair.shape) << " as " << crypto::VersionName(pair.version);
  }
}

// --- CBC -------------------------------------------------------------------------------

class CbcOpenTest : public RecordOpenTest {};
INSTANTIATE_TEST_SUITE_P(CbcSessions, CbcOpenTest,
                         ::testing::ValuesIn(SessionCasesWhere([](const SessionCase& c) {
                           return c.is_cbc();
                         })),
                         CaseName);

// Every padding length 0..255 is accepted when consistent (ktls takes up to 255), and
// refused when any one padding byte - first, middle or the length byte - is off,
// although the MAC over the content is right.
TEST_P(CbcOpenTest, EveryPaddingLengthAndCorruptPadding) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 39, 100);
  std::mt19937_64 rng(40);
  for (size_t pad = 0; pad < 256; ++pad) {
    SCOPED_TRACE("padding value " + std::to_string(pad));
    // Choose the payload length so that content + MAC + pad + 1 fills whole blocks.
    const size_t payload_len = (32 - (layout_.mac_len + pad + 1) % 16) % 16 + (pad % 3) * 16;
    const size_t unpadded = payload_len + layout_.mac_len;
    const size_t minimal = 16 - unpadded % 16;
    ReferenceSealOptions options;
    options.cbc_iv = tls10() ? keys.first_iv : RandomIv(rng);
    options.cbc_extra_padding = pad + 1 - minimal;
    const std::vector<uint8_t> payload = RandomBytes(rng, payload_len);

    std::vector<uint8_t> good = ReferenceSeal(keys.reference, 100, 23, payload, options);
    KTLS_ASSERT_OK_AND_ASSIGN(opener, MakeOpener(keys));
    const OpenResult result = opener.Open(good);
    ASSERT_EQ(result.status, OpenStatus::kOk) << StatusName(result.status);
    EXPECT_EQ(PayloadOf(good, result), payload);

    for (size_t corrupt : {size_t{0}, pad / 2, pad}) {
      options.corrupt_padding_byte = corrupt;
      std::vector<uint8_t> bad = ReferenceSeal(keys.reference, 100, 23, payload, options);
      EXPECT_FALSE(ReferenceOpen(keys.reference, 100, bad, options.cbc_iv).ok());
      KTLS_ASSERT_OK_AND_ASSIGN(fresh, MakeOpener(keys));
      EXPECT_EQ(fresh.Open(bad).status, OpenStatus::kBadRecord) << "corrupt byte " << corrupt;
      EXPECT_EQ(fresh.next_sequence(), 101u);
    }
  }
}

class Tls10OpenTest : public RecordOpenTest {};
INSTANTIATE_TEST_SUITE_P(Tls10Sessions, Tls10OpenTest,
                         ::testing::ValuesIn(SessionCasesWhere([](const SessionCase& c) {
                           return c.version == TlsVersion::kTls10;
                         })),
                         CaseName);

// TLS 1.0 chains each record's IV from the previous record's last ciphertext block,
// whether or not that record verified.
TEST_P(Tls10OpenTest, ChainSurvivesABadRecord) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 41, 0);
  std::vector<std::vector<uint8_t>> records;
  RefCbcIv chain = keys.first_iv;
  for (size_t i = 0; i < 4; ++i) {
    ReferenceSealOptions options;
    options.cbc_iv = chain;
    records.push_back(
        ReferenceSeal(keys.reference, i, 23, std::vector<uint8_t>(20 + i, 9), options));
    chain = NextTls10Iv(records.back());
  }
  records[1][kHeaderLen + 3] ^= 0x40;  // garbles record 1's content; its last block is intact
  KTLS_ASSERT_OK_AND_ASSIGN(opener, MakeOpener(keys));
  EXPECT_EQ(opener.Open(records[0]).status, OpenStatus::kOk);
  EXPECT_EQ(opener.Open(records[1]).status, OpenStatus::kBadRecord);
  EXPECT_EQ(opener.Open(records[2]).status, OpenStatus::kOk);
  const OpenResult last = opener.Open(records[3]);
  ASSERT_EQ(last.status, OpenStatus::kOk);
  EXPECT_EQ(last.payload_len, 23u);
}

// --- TLS 1.3 ---------------------------------------------------------------------------

class Tls13OpenTest : public RecordOpenTest {};
INSTANTIATE_TEST_SUITE_P(Tls13Sessions, Tls13OpenTest,
                         ::testing::ValuesIn(SessionCasesWhere([](const SessionCase& c) {
                           return c.version == TlsVersion::kTls13;
                         })),
                         CaseName);

// RFC 8446 §5.4: zeros after the type are padding; ktls strips them. The whole inner
// plaintext (content + type + padding) may be 2^14 + 1 bytes under FreeBSD's limit.
TEST_P(Tls13OpenTest, PaddingIsStripped) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 42, 0);
  KTLS_ASSERT_OK_AND_ASSIGN(opener, MakeOpener(keys));
  std::mt19937_64 rng(43);
  struct Shape {
    size_t payload;
    size_t padding;
  };
  const Shape shapes[] = {{0, 1},     {10, 1},      {10, 100},  {1000, 100},
                          {0, 16384}, {100, 16284}, {16383, 1}, {16384, 0}};
  uint64_t seq = 0;
  for (const Shape& shape : shapes) {
    SCOPED_TRACE(std::to_string(shape.payload) + " + " + std::to_string(shape.padding));
    ReferenceSealOptions options;
    options.tls13_padding = shape.padding;
    std::vector<uint8_t> payload = RandomBytes(rng, shape.payload);
    if (!payload.empty()) payload.back() = 0;  // trailing zero content is not padding
    std::vector<uint8_t> record = ReferenceSeal(keys.reference, seq++, 22, payload, options);
    const OpenResult result = opener.Open(record);
    ASSERT_EQ(result.status, OpenStatus::kOk) << StatusName(result.status);
    EXPECT_EQ(result.type, 22);
    EXPECT_EQ(PayloadOf(record, result), payload);
  }
  // One more byte of padding than the limit allows.
  ReferenceSealOptions options;
  options.tls13_padding = 16285;
  std::vector<uint8_t> record =
      ReferenceSeal(keys.reference, seq, 22, std::vector<uint8_t>(100, 1), options);
  EXPECT_EQ(opener.Open(record).status, OpenStatus::kBadLength);
  EXPECT_EQ(opener.next_sequence(), seq);
}

// Under kRfc the header may claim up to 2^14 + 256 bytes, but the inner plaintext is
// still capped at 2^14 + 1 (RFC 8446 §5.4): such records are refused after decryption.
TEST_P(Tls13OpenTest, RfcLimitsStillCapTheInnerPlaintext) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 44, 0);
  KTLS_ASSERT_OK_AND_ASSIGN(opener, MakeOpener(keys, LengthLimits::kRfc));
  ReferenceSealOptions options;
  options.tls13_padding = 16384 - 100;
  std::vector<uint8_t> fits =
      ReferenceSeal(keys.reference, 0, 23, std::vector<uint8_t>(100, 1), options);
  EXPECT_EQ(opener.Open(fits).status, OpenStatus::kOk);
  options.tls13_padding = 256 - 16 - 1;  // ciphertext exactly 2^14 + 256
  std::vector<uint8_t> longest =
      ReferenceSeal(keys.reference, 1, 23, std::vector<uint8_t>(kMaxPlaintextLen, 1), options);
  ASSERT_EQ(longest.size(), kHeaderLen + kMaxPlaintextLen + 256);
  EXPECT_EQ(opener.Open(longest).status, OpenStatus::kBadRecordSize);
  EXPECT_EQ(opener.next_sequence(), 2u);
}

TEST_P(Tls13OpenTest, AllZeroInnerPlaintextIsRefused) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 45, 0);
  KTLS_ASSERT_OK_AND_ASSIGN(opener, MakeOpener(keys));
  uint64_t seq = 0;
  for (size_t content : {0, 1, 50}) {
    for (size_t padding : {0, 1, 100}) {
      ReferenceSealOptions options;
      options.tls13_padding = padding;
      // Type 0 after all-zero content: nothing non-zero for the type to be.
      std::vector<uint8_t> record =
          ReferenceSeal(keys.reference, seq, 0, std::vector<uint8_t>(content, 0), options);
      EXPECT_EQ(opener.Open(record).status, OpenStatus::kBadRecord) << content << " + " << padding;
      EXPECT_EQ(opener.next_sequence(), ++seq);
    }
  }
}

}  // namespace
}  // namespace ktls::record
