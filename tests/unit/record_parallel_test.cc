// Parallel sealing: sequence numbers reserved in order, records sealed by clones in any
// order, and the stream still opens, in order, with the independent reference.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "record/header.h"
#include "record/record_sealer.h"
#include "testlib/record_reference.h"
#include "testlib/record_sessions.h"

namespace ktls::testing {
namespace {

class ParallelSealTest : public ::testing::TestWithParam<SessionCase> {};

TEST_P(ParallelSealTest, ReservedRecordsSealedOutOfOrderOpenInOrder) {
  const SessionCase session = GetParam();
  if (!BackendAvailable(session.backend)) GTEST_SKIP() << "backend unavailable";
  const SessionKeys keys = MakeSessionKeys(session, /*seed=*/7, /*sequence=*/1000);
  record::SealOptions options;
  options.backend = session.backend;
  options.explicit_nonce_start = 77;
  auto sealer = record::RecordSealer::Create(keys.keys, options);
  ASSERT_TRUE(sealer.ok());
  if (session.version == crypto::TlsVersion::kTls10) {
    EXPECT_EQ(sealer->Reserve(2).error(), EINVAL);  // chained IVs cannot be parallel
    return;
  }
  auto clone = sealer->Clone();
  ASSERT_TRUE(clone.ok());

  constexpr size_t kRecords = 6;
  auto first = sealer->Reserve(kRecords);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->sequence, 1000u);
  EXPECT_EQ(sealer->next_sequence(), 1000u + kRecords);

  std::vector<std::vector<uint8_t>> payloads(kRecords);
  std::vector<std::vector<uint8_t>> records(kRecords);
  for (size_t i = 0; i < kRecords; ++i) {
    payloads[i].assign(100 + i * 997, static_cast<uint8_t>(i + 1));
    records[i].resize(sealer->RecordSize(payloads[i].size()));
  }
  // Odd records on a second thread with the clone, even ones here, in reverse.
  std::thread worker([&] {
    for (size_t i = 1; i < kRecords; i += 2) {
      const record::RecordNumbers numbers{first->sequence + i, first->explicit_nonce + i};
      const ConstBytes payload(payloads[i]);
      ASSERT_TRUE(
          clone->SealReserved(numbers, record::kApplicationData, {&payload, 1}, records[i]).ok());
    }
  });
  for (size_t i = kRecords; i-- > 0;) {
    if (i % 2 == 1) continue;
    const record::RecordNumbers numbers{first->sequence + i, first->explicit_nonce + i};
    const ConstBytes payload(payloads[i]);
    ASSERT_TRUE(
        sealer->SealReserved(numbers, record::kApplicationData, {&payload, 1}, records[i]).ok());
  }
  worker.join();

  for (size_t i = 0; i < kRecords; ++i) {
    const ReferenceOpened opened = ReferenceOpen(keys.reference, 1000 + i, records[i]);
    ASSERT_TRUE(opened.ok()) << "record " << i << ": " << ReferenceErrorName(opened.error);
    EXPECT_EQ(opened.payload, payloads[i]);
  }
  // The next ordinary record continues after the reserved ones.
  std::vector<uint8_t> next(sealer->RecordSize(3));
  const uint8_t three[3] = {1, 2, 3};
  ASSERT_TRUE(sealer->Seal(record::kApplicationData, three, next).ok());
  EXPECT_TRUE(ReferenceOpen(keys.reference, 1000 + kRecords, next).ok());
}

TEST(ParallelSeal, ReserveRefusesToRunPastTheLastSequenceNumber) {
  const SessionCase session = AllSessionCases().front();
  SessionKeys keys = MakeSessionKeys(session, 1, record::kLastUsableSequence - 1);
  auto sealer = record::RecordSealer::Create(keys.keys, {});
  ASSERT_TRUE(sealer.ok());
  EXPECT_EQ(sealer->Reserve(3).error(), EOVERFLOW);
  EXPECT_TRUE(sealer->Reserve(2).ok());
  EXPECT_EQ(sealer->Reserve(1).error(), EOVERFLOW);
}

INSTANTIATE_TEST_SUITE_P(AllSessions, ParallelSealTest, ::testing::ValuesIn(AllSessionCases()),
                         [](const auto& param_info) { return SessionCaseName(param_info.param); });

}  // namespace
}  // namespace ktls::testing
