#include "bench/body_pattern.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

namespace ktls::bench {
namespace {

std::vector<uint8_t> Pattern(uint64_t seed, uint64_t offset, size_t size) {
  std::vector<uint8_t> bytes(size);
  FillPattern(seed, offset, bytes);
  return bytes;
}

TEST(BodyPattern, AnyOffsetGivesTheSameBytesAsTheWhole) {
  const std::vector<uint8_t> whole = Pattern(7, 0, 4096);
  for (size_t offset : {0u, 1u, 7u, 8u, 9u, 1000u, 4095u}) {
    for (size_t length : {0u, 1u, 3u, 8u, 17u}) {
      if (offset + length > whole.size()) continue;
      std::vector<uint8_t> part = Pattern(7, offset, length);
      EXPECT_TRUE(std::equal(part.begin(), part.end(), whole.begin() + offset))
          << offset << "+" << length;
    }
  }
}

TEST(BodyPattern, WordsDifferAndSeedsDiffer) {
  const std::vector<uint8_t> a = Pattern(1, 0, size_t{8} * 1024);
  std::set<std::string> words;
  for (size_t i = 0; i < a.size(); i += 8) words.emplace(a.begin() + i, a.begin() + i + 8);
  EXPECT_EQ(words.size(), a.size() / 8);
  EXPECT_NE(a, Pattern(2, 0, a.size()));
}

TEST(BodyPattern, CheckerAcceptsThePatternInAnyPieces) {
  const std::vector<uint8_t> body = Pattern(3, 0, 100'000);
  PatternChecker checker(3);
  size_t at = 0;
  for (size_t piece = 1; at < body.size(); piece = piece * 3 + 1) {
    const size_t take = std::min(piece, body.size() - at);
    checker.Feed(std::span(body.data() + at, take));
    at += take;
  }
  EXPECT_TRUE(checker.ok());
  EXPECT_EQ(checker.bytes(), body.size());
}

TEST(BodyPattern, CheckerFindsTheFirstWrongByte) {
  for (size_t wrong : {0u, 1u, 4095u, 4096u, 77'777u}) {
    std::vector<uint8_t> body = Pattern(3, 0, 100'000);
    body[wrong] ^= 0x01;
    PatternChecker checker(3);
    checker.Feed(std::span(body.data(), 50'000));
    checker.Feed(std::span(body.data() + 50'000, 50'000));
    EXPECT_FALSE(checker.ok());
    EXPECT_EQ(checker.first_mismatch(), wrong);
  }
}

TEST(BodyPattern, CheckerRejectsShiftedData) {
  const std::vector<uint8_t> body = Pattern(3, 8, 4096);  // starts one word late
  PatternChecker checker(3);
  checker.Feed(body);
  EXPECT_FALSE(checker.ok());
}

TEST(BodyPattern, FileHoldsThePattern) {
  char path[] = "/tmp/ktls-pattern-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  const uint64_t size = (3u << 20) + 5;  // crosses the writer's 1 MiB chunks, odd tail
  ASSERT_TRUE(WritePatternFile(path, size, 11).ok());
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)), {});
  unlink(path);
  ASSERT_EQ(file.size(), size);
  // Independent of the checker: SHA-256 of the file equals that of FillPattern's bytes.
  const std::vector<uint8_t> expected = Pattern(11, 0, size);
  std::array<uint8_t, SHA256_DIGEST_LENGTH> a{};
  std::array<uint8_t, SHA256_DIGEST_LENGTH> b{};
  SHA256(file.data(), file.size(), a.data());
  SHA256(expected.data(), expected.size(), b.data());
  EXPECT_EQ(a, b);
}

TEST(BodyPattern, UnwritablePathIsAnError) {
  Status status = WritePatternFile("/nonexistent-dir/x", 10, 1);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error(), ENOENT);
}

}  // namespace
}  // namespace ktls::bench
