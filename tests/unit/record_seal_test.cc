// RecordSealer: byte-exact RFC 8448 records, and for every session format, records the
// independent reference opens with the right type, version, sequence and length.
#include "record/record_sealer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <string>
#include <vector>

#include "crypto/backend_choice.h"
#include "record/header.h"
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
using ::ktls::testing::RefCbcIv;
using ::ktls::testing::ReferenceOpen;
using ::ktls::testing::ReferenceOpened;
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

std::vector<uint8_t> SealOrFail(RecordSealer& sealer, uint8_t type, ConstBytes payload) {
  std::vector<uint8_t> record(sealer.RecordSize(payload.size()));
  const Status status = sealer.Seal(type, payload, record);
  EXPECT_TRUE(status.ok()) << "errno " << status.error();
  return record;
}

// --- RFC 8448 §3: the application data and close_notify records of the trace ---------

constexpr char kClientKey[] = "17422dda596ed5d9acd890e3c63f5051";
constexpr char kClientIv[] = "5b78923dee08579033e523d9";
constexpr char kServerKey[] = "9f02283b6c9c07efc26bb9f2ac92e356";
constexpr char kServerIv[] = "cf782b88dd83549aadf1e984";
// {client} application_data, its first record under the application keys (seq 0).
constexpr char kClientAppRecord[] =
    "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a"
    "20441e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4";
// {server} application_data: seq 1, after the NewSessionTicket at seq 0.
constexpr char kServerAppRecord[] =
    "17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36e30efaf97d90e6dffc602dcb"
    "501a59a8fcc49c4bf2e5f0a21c0047c2abf332540dd032e167c2955d";
// close_notify alerts: client seq 1, server seq 2.
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

class Rfc8448SealTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!BackendAvailable(GetParam())) GTEST_SKIP() << "backend unavailable on this CPU";
  }
  SealOptions Options() const {
    SealOptions options;
    options.backend = GetParam();
    return options;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, Rfc8448SealTest,
                         ::testing::Values(Backend::kOpenSsl, Backend::kIpsecMb),
                         [](const auto& param_info) {
                           return std::string(crypto::BackendName(param_info.param));
                         });

TEST_P(Rfc8448SealTest, ClientRecordsAreByteExact) {
  KTLS_ASSERT_OK_AND_ASSIGN(sealer,
                            RecordSealer::Create(Rfc8448Keys(kClientKey, kClientIv, 0), Options()));
  EXPECT_EQ(sealer.backend(), GetParam());
  EXPECT_EQ(SealOrFail(sealer, 23, Rfc8448AppData()), FromHex(kClientAppRecord));
  EXPECT_EQ(SealOrFail(sealer, 21, FromHex("0100")), FromHex(kClientAlertRecord));
  EXPECT_EQ(sealer.next_sequence(), 2u);
}

TEST_P(Rfc8448SealTest, ServerRecordsAreByteExact) {
  KTLS_ASSERT_OK_AND_ASSIGN(sealer,
                            RecordSealer::Create(Rfc8448Keys(kServerKey, kServerIv, 1), Options()));
  EXPECT_EQ(SealOrFail(sealer, 23, Rfc8448AppData()), FromHex(kServerAppRecord));
  EXPECT_EQ(SealOrFail(sealer, 21, FromHex("0100")), FromHex(kServerAlertRecord));
}

// --- Every session format --------------------------------------------------------------

class RecordSealTest : public ::testing::TestWithParam<SessionCase> {
 protected:
  void SetUp() override {
    if (!BackendAvailable(GetParam().backend)) GTEST_SKIP() << "backend unavailable on this CPU";
    layout_ = ExpectedLayoutFor(GetParam());
  }

  bool is_gcm12() const {
    return !layout_.cbc && !layout_.tls13 && GetParam().suite != SuiteId::kChaCha20Poly1305;
  }
  // Everything but CBC with a random explicit IV is a function of keys and state.
  bool deterministic() const { return !layout_.cbc || GetParam().version == TlsVersion::kTls10; }

  void ExpectHeader(ConstBytes record, uint8_t type, size_t payload_len) const {
    ASSERT_EQ(record.size(), layout_.RecordSize(payload_len));
    EXPECT_EQ(record[0], layout_.tls13 ? kApplicationData : type);
    EXPECT_EQ(record[1], layout_.wire_major);
    EXPECT_EQ(record[2], layout_.wire_minor);
    EXPECT_EQ(LoadBe16(record.data() + 3), record.size() - kHeaderLen);
  }

  ExpectedLayout layout_;
};

INSTANTIATE_TEST_SUITE_P(AllSessions, RecordSealTest, ::testing::ValuesIn(AllSessionCases()),
                         [](const auto& param_info) { return SessionCaseName(param_info.param); });

TEST_P(RecordSealTest, ReferenceOpensEverySize) {
  constexpr uint64_t kStart = 1000;
  constexpr uint64_t kNonceStart = 0x1122334455667788;
  SessionKeys keys = MakeSessionKeys(GetParam(), 1, kStart);
  SealOptions options = SealOptionsFor(GetParam());
  options.explicit_nonce_start = kNonceStart;
  KTLS_ASSERT_OK_AND_ASSIGN(sealer, RecordSealer::Create(keys.keys, options));
  EXPECT_EQ(sealer.backend(), layout_.cbc ? Backend::kOpenSsl : GetParam().backend);
  EXPECT_EQ(sealer.header_len(), layout_.header_len);

  std::mt19937_64 rng(2);
  RefCbcIv chain = keys.first_iv;
  const uint8_t types[] = {23, 22, 21, 20, 0x7f};
  for (size_t i = 0; i < std::size(kSizes); ++i) {
    const size_t size = kSizes[i];
    SCOPED_TRACE("payload " + std::to_string(size));
    const uint8_t type = types[i % std::size(types)];
    const std::vector<uint8_t> payload = RandomBytes(rng, size);
    EXPECT_EQ(sealer.RecordSize(size), layout_.RecordSize(size));
    const std::vector<uint8_t> record = SealOrFail(sealer, type, payload);
    ExpectHeader(record, type, size);
    EXPECT_EQ(sealer.next_sequence(), kStart + i + 1);
    if (is_gcm12()) {
      EXPECT_EQ(LoadBe64(record.data() + kHeaderLen), kNonceStart + i);
    }

    const ReferenceOpened opened = ReferenceOpen(keys.reference, kStart + i, record, chain);
    ASSERT_TRUE(opened.ok()) << ReferenceErrorName(opened.error);
    EXPECT_EQ(opened.type, type);
    EXPECT_EQ(opened.payload, payload);
    if (layout_.cbc) {
      // Minimal padding: 1..16 bytes, just enough to fill the last block.
      EXPECT_EQ(opened.padding_len, 16 - (size + layout_.mac_len) % 16);
      EXPECT_GE(opened.padding_len, 1u);
      EXPECT_LE(opened.padding_len, 16u);
    } else {
      EXPECT_EQ(opened.padding_len, 0u);  // we never pad TLS 1.3
    }
    // The reference does not accept it at any other sequence number.
    EXPECT_FALSE(ReferenceOpen(keys.reference, kStart + i + 1, record, chain).ok());
    if (GetParam().version == TlsVersion::kTls10) chain = ::ktls::testing::NextTls10Iv(record);
  }
}

TEST_P(RecordSealTest, ExplicitNoncesAndIvs) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 3);
  KTLS_ASSERT_OK_AND_ASSIGN(a, RecordSealer::Create(keys.keys, SealOptionsFor(GetParam())));
  KTLS_ASSERT_OK_AND_ASSIGN(b, RecordSealer::Create(keys.keys, SealOptionsFor(GetParam())));
  const std::vector<uint8_t> payload(40, 0x61);
  const std::vector<uint8_t> a0 = SealOrFail(a, 23, payload);
  const std::vector<uint8_t> a1 = SealOrFail(a, 23, payload);
  const std::vector<uint8_t> b0 = SealOrFail(b, 23, payload);
  if (is_gcm12()) {
    // Unset explicit_nonce_start: a random start (two sealers differ), then +1 per record.
    EXPECT_NE(LoadBe64(a0.data() + kHeaderLen), LoadBe64(b0.data() + kHeaderLen));
    EXPECT_EQ(LoadBe64(a1.data() + kHeaderLen), LoadBe64(a0.data() + kHeaderLen) + 1);
  } else if (deterministic()) {
    EXPECT_EQ(a0, b0);
  } else {
    // CBC TLS 1.1/1.2: a fresh random IV per record.
    EXPECT_NE(std::vector<uint8_t>(a0.begin() + 5, a0.begin() + 21),
              std::vector<uint8_t>(b0.begin() + 5, b0.begin() + 21));
    EXPECT_NE(std::vector<uint8_t>(a0.begin() + 5, a0.begin() + 21),
              std::vector<uint8_t>(a1.begin() + 5, a1.begin() + 21));
  }
  EXPECT_NE(a0, a1);  // a new sequence number changes every format's output
}

// Only TLS 1.2 AES-GCM carries an explicit nonce.
class Gcm12SealTest : public RecordSealTest {};
INSTANTIATE_TEST_SUITE_P(Gcm12Sessions, Gcm12SealTest,
                         ::testing::ValuesIn(SessionCasesWhere([](const SessionCase& c) {
                           return c.version == TlsVersion::kTls12 && !c.is_cbc() &&
                                  c.suite != SuiteId::kChaCha20Poly1305;
                         })),
                         [](const auto& param_info) { return SessionCaseName(param_info.param); });

TEST_P(Gcm12SealTest, ExplicitNonceCountsUpFromTheGivenStart) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 4, 9);
  SealOptions options = SealOptionsFor(GetParam());
  // The counter is its own 64-bit value: it wraps independently of the sequence number.
  options.explicit_nonce_start = ~uint64_t{0} - 1;
  KTLS_ASSERT_OK_AND_ASSIGN(sealer, RecordSealer::Create(keys.keys, options));
  const uint64_t expected[] = {~uint64_t{0} - 1, ~uint64_t{0}, 0, 1};
  for (size_t i = 0; i < std::size(expected); ++i) {
    const std::vector<uint8_t> record = SealOrFail(sealer, 23, std::vector<uint8_t>(i, 1));
    EXPECT_EQ(LoadBe64(record.data() + kHeaderLen), expected[i]);
    EXPECT_TRUE(ReferenceOpen(keys.reference, 9 + i, record).ok());
  }
}

// A payload handed over as many segments (empty ones included, and more than the
// sealer keeps inline) seals exactly like the contiguous payload.
TEST_P(RecordSealTest, ScatteredPayloadMatchesContiguous) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 5, 40);
  SealOptions options = SealOptionsFor(GetParam());
  options.explicit_nonce_start = 77;
  std::mt19937_64 rng(6);
  for (size_t segments : {1, 2, 3, 15, 16, 17, 40}) {
    SCOPED_TRACE("segments " + std::to_string(segments));
    KTLS_ASSERT_OK_AND_ASSIGN(whole, RecordSealer::Create(keys.keys, options));
    KTLS_ASSERT_OK_AND_ASSIGN(split, RecordSealer::Create(keys.keys, options));
    const std::vector<uint8_t> payload = RandomBytes(rng, 1000);
    std::vector<ConstBytes> parts;
    size_t start = 0;
    for (size_t i = 0; i + 1 < segments; ++i) {
      const size_t len = i % 3 == 1 ? 0 : rng() % 50;  // some empty segments
      parts.push_back(ConstBytes(payload).subspan(start, len));
      start += len;
    }
    parts.push_back(ConstBytes(payload).subspan(start));

    const std::vector<uint8_t> expected = SealOrFail(whole, 23, payload);
    std::vector<uint8_t> record(split.RecordSize(payload.size()));
    ASSERT_TRUE(split.Seal(23, parts, record).ok());
    if (deterministic()) {
      EXPECT_EQ(record, expected);
    }
    const ReferenceOpened opened = ReferenceOpen(keys.reference, 40, record, keys.first_iv);
    ASSERT_TRUE(opened.ok()) << ReferenceErrorName(opened.error);
    EXPECT_EQ(opened.payload, payload);
  }
}

// The payload may already sit where the sealer would copy it: header_len() bytes in.
TEST_P(RecordSealTest, InPlaceSealing) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 7, 3);
  SealOptions options = SealOptionsFor(GetParam());
  options.explicit_nonce_start = 5;
  std::mt19937_64 rng(8);
  for (size_t size : {0, 1, 100, 16384}) {
    SCOPED_TRACE("payload " + std::to_string(size));
    KTLS_ASSERT_OK_AND_ASSIGN(reference_sealer, RecordSealer::Create(keys.keys, options));
    KTLS_ASSERT_OK_AND_ASSIGN(sealer, RecordSealer::Create(keys.keys, options));
    const std::vector<uint8_t> payload = RandomBytes(rng, size);
    const std::vector<uint8_t> expected = SealOrFail(reference_sealer, 22, payload);

    std::vector<uint8_t> record(sealer.RecordSize(size), 0xcc);
    std::copy(payload.begin(), payload.end(), record.begin() + sealer.header_len());
    const MutableBytes in_place = MutableBytes(record).subspan(sealer.header_len(), size);
    // Two segments, both already in their final place.
    const ConstBytes parts[] = {in_place.first(size / 2), in_place.subspan(size / 2)};
    ASSERT_TRUE(sealer.Seal(22, parts, record).ok());
    if (deterministic()) {
      EXPECT_EQ(record, expected);
    }
    const ReferenceOpened opened = ReferenceOpen(keys.reference, 3, record, keys.first_iv);
    ASSERT_TRUE(opened.ok()) << ReferenceErrorName(opened.error);
    EXPECT_EQ(opened.payload, payload);
  }
}

TEST_P(RecordSealTest, RejectsOversizePayloadAndWrongOutputSize) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 9, 12);
  KTLS_ASSERT_OK_AND_ASSIGN(sealer, RecordSealer::Create(keys.keys, SealOptionsFor(GetParam())));
  const std::vector<uint8_t> big(kMaxPlaintextLen + 1, 1);
  std::vector<uint8_t> out(layout_.RecordSize(big.size()) + 64, 0xcc);
  const std::vector<uint8_t> untouched = out;
  EXPECT_EQ(sealer.Seal(23, big, out).error(), EMSGSIZE);
  EXPECT_EQ(sealer.Seal(23, big, MutableBytes(out).first(layout_.RecordSize(big.size()))).error(),
            EMSGSIZE);
  const std::vector<uint8_t> payload(10, 2);
  const size_t size = layout_.RecordSize(payload.size());
  EXPECT_EQ(sealer.Seal(23, payload, MutableBytes(out).first(size - 1)).error(), EINVAL);
  EXPECT_EQ(sealer.Seal(23, payload, MutableBytes(out).first(size + 1)).error(), EINVAL);
  EXPECT_EQ(out, untouched);
  EXPECT_EQ(sealer.next_sequence(), 12u);
  // A failed call costs nothing: the next good record still gets sequence 12.
  const std::vector<uint8_t> record = SealOrFail(sealer, 23, payload);
  EXPECT_TRUE(ReferenceOpen(keys.reference, 12, record, keys.first_iv).ok());
}

TEST_P(RecordSealTest, SequenceExhaustion) {
  const SessionKeys keys = MakeSessionKeys(GetParam(), 10, kLastSequence - 1);
  KTLS_ASSERT_OK_AND_ASSIGN(sealer, RecordSealer::Create(keys.keys, SealOptionsFor(GetParam())));
  const std::vector<uint8_t> payload(5, 3);
  const std::vector<uint8_t> record = SealOrFail(sealer, 23, payload);
  EXPECT_TRUE(ReferenceOpen(keys.reference, kLastSequence - 1, record, keys.first_iv).ok());
  EXPECT_EQ(sealer.next_sequence(), kLastSequence);

  // 2^64-1 is never used: Seal refuses and writes nothing, every time.
  std::vector<uint8_t> out(sealer.RecordSize(payload.size()), 0xcc);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(sealer.Seal(23, payload, out).error(), EOVERFLOW);
    EXPECT_EQ(out, std::vector<uint8_t>(out.size(), 0xcc));
    EXPECT_EQ(sealer.next_sequence(), kLastSequence);
  }

  SessionKeys exhausted = MakeSessionKeys(GetParam(), 10, kLastSequence);
  KTLS_ASSERT_OK_AND_ASSIGN(late, RecordSealer::Create(exhausted.keys, SealOptionsFor(GetParam())));
  EXPECT_EQ(late.Seal(23, payload, out).error(), EOVERFLOW);
}

TEST_P(RecordSealTest, RejectsKeyMaterialOfTheWrongSize) {
  const SessionCase& session = GetParam();
  const SessionKeys good = MakeSessionKeys(session, 11);
  ASSERT_TRUE(RecordSealer::Create(good.keys, SealOptionsFor(session)).ok());

  auto expect_einval = [&](RecordKeys keys, const char* what) {
    EXPECT_EQ(RecordSealer::Create(keys, SealOptionsFor(session)).error(), EINVAL) << what;
  };
  const size_t key_len = good.keys.cipher_key.size();
  for (size_t len : {size_t{0}, key_len - 1, key_len + 1, size_t{24}}) {
    RecordKeys keys = good.keys;
    keys.cipher_key = SecretBytes(std::vector<uint8_t>(len, 1));
    expect_einval(keys, "cipher key");
  }
  if (!layout_.cbc || session.version == TlsVersion::kTls10) {
    const size_t iv_len = good.keys.iv.size();
    for (size_t len : {size_t{0}, iv_len - 1, iv_len + 1, size_t{4}, size_t{12}, size_t{16}}) {
      if (len == iv_len) continue;
      RecordKeys keys = good.keys;
      keys.iv = SecretBytes(std::vector<uint8_t>(len, 1));
      expect_einval(keys, "iv");
    }
  } else {
    // TLS 1.1/1.2 CBC carries its IVs on the wire; a key-block IV is ignored (as ktls does).
    RecordKeys keys = good.keys;
    keys.iv = SecretBytes(std::vector<uint8_t>(16, 1));
    EXPECT_TRUE(RecordSealer::Create(keys, SealOptionsFor(session)).ok());
  }
  if (layout_.cbc) {
    RecordKeys keys = good.keys;
    keys.mac_key = SecretBytes();
    expect_einval(keys, "empty MAC key");
  }
}

class CbcSealTest : public RecordSealTest {};
INSTANTIATE_TEST_SUITE_P(CbcSessions, CbcSealTest,
                         ::testing::ValuesIn(SessionCasesWhere([](const SessionCase& c) {
                           return c.is_cbc();
                         })),
                         [](const auto& param_info) { return SessionCaseName(param_info.param); });

// HMAC takes keys of any length; the record layer passes whatever the session holds.
TEST_P(CbcSealTest, MacKeyOfAnyNonZeroLength) {
  for (size_t len : {1, 20, 64, 200}) {
    SessionKeys keys = MakeSessionKeys(GetParam(), 12);
    std::vector<uint8_t> mac_key(len);
    for (size_t i = 0; i < len; ++i) mac_key[i] = static_cast<uint8_t>(i * 7);
    keys.keys.mac_key = SecretBytes(mac_key);
    keys.reference.mac_key = mac_key;
    KTLS_ASSERT_OK_AND_ASSIGN(sealer, RecordSealer::Create(keys.keys, SealOptionsFor(GetParam())));
    const std::vector<uint8_t> record = SealOrFail(sealer, 23, std::vector<uint8_t>(33, 4));
    EXPECT_TRUE(ReferenceOpen(keys.reference, 0, record, keys.first_iv).ok()) << "length " << len;
  }
}

TEST(RecordSealCreate, RejectsSuiteVersionPairsThatDoNotExist) {
  constexpr TlsVersion kVersions[] = {static_cast<TlsVersion>(0x0300),
                                      TlsVersion::kTls10,
                                      TlsVersion::kTls11,
                                      TlsVersion::kTls12,
                                      TlsVersion::kTls13,
                                      static_cast<TlsVersion>(0x0305)};
  size_t rejected = 0;
  for (const crypto::SuiteInfo& suite : crypto::AllSuites()) {
    for (TlsVersion version : kVersions) {
      if (crypto::SuiteSupportsVersion(suite, version)) continue;
      // Key material shaped for the nearest real format, so only the pair is wrong.
      const SessionCase session{suite.id, TlsVersion::kTls12, Backend::kOpenSsl};
      SessionKeys keys = MakeSessionKeys(session, 13);
      keys.keys.version = version;
      EXPECT_EQ(RecordSealer::Create(keys.keys).error(), EINVAL)
          << suite.name << " " << static_cast<int>(version);
      ++rejected;
    }
  }
  // Among them GCM/ChaCha with TLS 1.0/1.1, CBC with TLS 1.3, CBC-SHA2 with TLS 1.0/1.1.
  EXPECT_EQ(rejected, 3u * 4 + 2 * 3 + 4 * 5);
}

}  // namespace
}  // namespace ktls::record
