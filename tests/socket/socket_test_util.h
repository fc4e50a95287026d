// Helpers shared by the socket-layer robustness tests: SHA-256 on OpenSSL EVP, a fast
// deterministic byte stream, socket timeouts, and a reader that opens a raw TLS record
// stream with the independent reference implementation (never with src/record).
#pragma once

#include <openssl/evp.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "testlib/record_reference.h"
#include "testlib/tls_enable_builder.h"

namespace ktls::testing {

// Incremental SHA-256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(ConstBytes bytes);
  void Update(const uint8_t* data, size_t len) { Update(ConstBytes(data, len)); }
  // The digest as lowercase hex; the object is finished afterwards.
  std::string Finish();

 private:
  EVP_MD_CTX* ctx_;
};

std::string Sha256Hex(ConstBytes bytes);

// Pseudo-random bytes from a seed (splitmix64): the same seed gives the same stream.
class ByteStream {
 public:
  explicit ByteStream(uint64_t seed) : state_(seed) {}
  void Fill(uint8_t* out, size_t len);
  std::vector<uint8_t> Take(size_t len);
  uint64_t Next64();
  // Uniform in [lo, hi].
  uint64_t Uniform(uint64_t lo, uint64_t hi) { return lo + Next64() % (hi - lo + 1); }

 private:
  uint64_t state_;
};

// SO_RCVTIMEO / SO_SNDTIMEO in milliseconds (0 leaves that option alone).
void SetSocketTimeouts(int fd, int recv_ms, int send_ms);
// Shrinks SO_SNDBUF/SO_RCVBUF so "the peer does not read" fills buffers quickly.
void SetSmallBuffers(int fd, int bytes);

// true when `needle` occurs in `haystack`.
bool Contains(ConstBytes haystack, ConstBytes needle);

// Opens the TLS records arriving on raw descriptor `fd` with the reference, one by one.
// Every record must open with the next sequence number (and, for TLS 1.0, the chained
// IV), so a successful walk proves records whole, in order, consecutive and unique.
class ReferenceStreamReader {
 public:
  enum class Status { kRecord, kEnd, kError };

  ReferenceStreamReader(int fd, const TlsEnableBuilder& session);
  ReferenceStreamReader(const ReferenceStreamReader&) = delete;
  ReferenceStreamReader& operator=(const ReferenceStreamReader&) = delete;

  // Waits at most until `deadline` for the next whole record. kEnd: clean EOF at a record
  // boundary. kError: timeout, read error, truncated record or a record that failed to
  // open (see error()).
  Status Next(ReferenceOpened* record, std::chrono::steady_clock::time_point deadline);

  const std::string& error() const { return error_; }
  uint64_t records() const { return records_; }
  uint64_t next_sequence() const { return sequence_; }
  uint64_t wire_bytes() const { return wire_bytes_; }
  // SHA-256 of every raw byte read (compare with what the sender put on the wire).
  std::string FinishWireHash() { return wire_hash_.Finish(); }

 private:
  // Reads more bytes; false on EOF (error_ empty), timeout or error.
  bool Fill(std::chrono::steady_clock::time_point deadline);

  int fd_;
  ReferenceParams params_;
  bool tls10_;
  RefCbcIv iv_;
  uint64_t sequence_;
  std::vector<uint8_t> buffer_;
  size_t head_ = 0;
  uint64_t records_ = 0;
  uint64_t wire_bytes_ = 0;
  Sha256 wire_hash_;
  std::string error_;
};

// gtest prints a suite parameter by its ktls_test.c name.
inline void PrintTo(const FreeBsdSuite& suite, std::ostream* os) {
  *os << suite.name;
}

inline std::chrono::steady_clock::time_point DeadlineIn(std::chrono::milliseconds ms) {
  return std::chrono::steady_clock::now() + ms;
}

}  // namespace ktls::testing
