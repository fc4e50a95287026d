// A connected TCP pair on 127.0.0.1 with an ephemeral port, closed on destruction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ktls::testing {

struct TcpPair {
  TcpPair();
  ~TcpPair();
  TcpPair(const TcpPair&) = delete;
  TcpPair& operator=(const TcpPair&) = delete;

  int client = -1;  // the connecting side
  int server = -1;  // the accepted side

  // Forget a descriptor the test closed itself.
  void Release(int fd);
};

// Reads exactly `len` bytes (plain read(2)), waiting at most `timeout_ms` overall.
// Returns false on timeout, EOF or error.
bool ReadExactly(int fd, uint8_t* out, size_t len, int timeout_ms = 10000);
// Writes all of `data` (plain write(2)).
bool WriteAll(int fd, const uint8_t* data, size_t len);
// Reads one raw TLS record (header + body) with plain reads; empty on failure.
std::vector<uint8_t> ReadRawRecord(int fd, int timeout_ms = 10000);
void SetNonBlocking(int fd, bool on);

}  // namespace ktls::testing
