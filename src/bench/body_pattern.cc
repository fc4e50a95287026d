#include "bench/body_pattern.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace ktls::bench {
namespace {

// splitmix64's output function: cheap, and every 8-byte word differs from its
// neighbours, so misplaced data cannot match by accident.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t Word(uint64_t seed, uint64_t index) {
  return Mix(seed ^ (index * 0xd6e8feb86659fd93ULL));
}

}  // namespace

void FillPattern(uint64_t seed, uint64_t offset, std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    const uint64_t position = offset + done;
    const uint64_t index = position / 8;
    const size_t skip = position % 8;
    const uint64_t word = Word(seed, index);
    std::array<uint8_t, 8> bytes{};
    std::memcpy(bytes.data(), &word, 8);  // little-endian host: byte k is bits 8k..8k+7
    const size_t take = std::min<size_t>(8 - skip, out.size() - done);
    std::memcpy(out.data() + done, bytes.data() + skip, take);
    done += take;
  }
}

Status WritePatternFile(const std::string& path, uint64_t size, uint64_t seed) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error(errno);
  std::vector<uint8_t> chunk(1 << 20);
  uint64_t written = 0;
  while (written < size) {
    const size_t length = static_cast<size_t>(std::min<uint64_t>(chunk.size(), size - written));
    FillPattern(seed, written, std::span(chunk.data(), length));
    size_t off = 0;
    while (off < length) {
      ssize_t n = write(fd, chunk.data() + off, length - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int error = n < 0 ? errno : EIO;
        close(fd);
        return Status::Error(error);
      }
      off += static_cast<size_t>(n);
    }
    written += length;
  }
  if (close(fd) != 0) return Status::Error(errno);
  return Status::Ok();
}

void PatternChecker::Feed(std::span<const uint8_t> data) {
  if (mismatch_) {
    offset_ += data.size();
    return;
  }
  std::array<uint8_t, 4096> expected{};
  size_t done = 0;
  while (done < data.size()) {
    const size_t length = std::min(expected.size(), data.size() - done);
    FillPattern(seed_, offset_ + done, std::span(expected.data(), length));
    if (std::memcmp(expected.data(), data.data() + done, length) != 0) {
      size_t at = 0;
      while (expected[at] == data[done + at]) ++at;
      mismatch_ = true;
      first_mismatch_ = offset_ + done + at;
      break;
    }
    done += length;
  }
  offset_ += data.size();
}

}  // namespace ktls::bench
