// Range evaluation (RFC 9110 §14) against a file size, including the documented
// policy for several ranges.
#include "server/http_range.h"

#include <gtest/gtest.h>

namespace ktls::server {
namespace {

void ExpectPartial(std::string_view field, uint64_t size, uint64_t first, uint64_t length) {
  const RangeDecision d = EvaluateRange(field, size);
  EXPECT_EQ(d.kind, RangeKind::kPartial) << field;
  EXPECT_EQ(d.first, first) << field;
  EXPECT_EQ(d.length, length) << field;
}

TEST(HttpRangeTest, SingleRanges) {
  ExpectPartial("bytes=0-99", 1000, 0, 100);
  ExpectPartial("bytes=100-", 1000, 100, 900);
  ExpectPartial("bytes=-100", 1000, 900, 100);
  ExpectPartial("bytes=999-999", 1000, 999, 1);
  ExpectPartial("bytes=0-0", 1, 0, 1);
  ExpectPartial("BYTES = 5-9 ", 10, 5, 5);
}

TEST(HttpRangeTest, ClampsToTheFile) {
  ExpectPartial("bytes=500-5000", 1000, 500, 500);
  ExpectPartial("bytes=-5000", 1000, 0, 1000);
  ExpectPartial("bytes=0-18446744073709551615", 10, 0, 10);
}

TEST(HttpRangeTest, UnsatisfiableRanges) {
  EXPECT_EQ(EvaluateRange("bytes=1000-", 1000).kind, RangeKind::kUnsatisfiable);
  EXPECT_EQ(EvaluateRange("bytes=1000-2000", 1000).kind, RangeKind::kUnsatisfiable);
  EXPECT_EQ(EvaluateRange("bytes=-0", 1000).kind, RangeKind::kUnsatisfiable);
  EXPECT_EQ(EvaluateRange("bytes=0-0", 0).kind, RangeKind::kUnsatisfiable);
  EXPECT_EQ(EvaluateRange("bytes=-10", 0).kind, RangeKind::kUnsatisfiable);
  EXPECT_EQ(EvaluateRange("bytes=5000-6000,7000-", 1000).kind, RangeKind::kUnsatisfiable);
}

TEST(HttpRangeTest, MalformedFieldsAreIgnored) {
  for (std::string_view field :
       {"bytes=", "bytes=a-b", "bytes=5-1", "bytes=--1", "bytes=1", "bytes 0-1", "items=0-1",
        "bytes=0-1,x", "bytes=99999999999999999999999-", "=0-1", "bytes=0x10-"}) {
    EXPECT_EQ(EvaluateRange(field, 1000).kind, RangeKind::kWhole) << field;
  }
}

TEST(HttpRangeTest, SeveralRangesGetTheWholeFile) {
  EXPECT_EQ(EvaluateRange("bytes=0-1,5-6", 1000).kind, RangeKind::kWhole);
  EXPECT_EQ(EvaluateRange("bytes=0-1, 5000-", 1000).kind, RangeKind::kWhole);
}

}  // namespace
}  // namespace ktls::server
