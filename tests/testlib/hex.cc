#include "testlib/hex.h"

#include <cstdio>
#include <cstdlib>

namespace ktls::testing {
namespace {

int Nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::vector<uint8_t> FromHex(std::string_view hex) {
  std::vector<uint8_t> out;
  int high = -1;
  for (char c : hex) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') continue;
    const int value = Nibble(c);
    if (value < 0) {
      std::fprintf(stderr, "FromHex: bad character '%c'\n", c);
      std::abort();
    }
    if (high < 0) {
      high = value;
    } else {
      out.push_back(static_cast<uint8_t>((high << 4) | value));
      high = -1;
    }
  }
  if (high >= 0) {
    std::fprintf(stderr, "FromHex: odd number of digits\n");
    std::abort();
  }
  return out;
}

std::string ToHex(ConstBytes bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

}  // namespace ktls::testing
