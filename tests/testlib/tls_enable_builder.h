// Builds FreeBSD `struct tls_enable` arguments for tests the way FreeBSD's ktls_test.c
// does (random printable key bytes, random rec_seq), keeping the key buffers alive and
// offering the matching independent reference parameters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crypto/suite.h"
#include "ktls/freebsd.h"
#include "testlib/record_reference.h"

namespace ktls::testing {

// One ktls_test.c parameter set: algorithm ids, key length, version.
struct FreeBsdSuite {
  std::string name;  // e.g. "aes128_gcm_1_3", as ktls_test.c names them
  int cipher_algorithm;
  int key_len;
  int auth_algorithm;
  uint8_t minor;  // TLS_MINOR_VER_*
};

// ktls_test.c's groups.
std::vector<FreeBsdSuite> AesCbcSuites();         // AES_CBC (TLS 1.0-1.2, 10 suites)
std::vector<FreeBsdSuite> AesCbcNonZeroSuites();  // AES_CBC_NONZERO (1.1-1.2, 8 suites)
std::vector<FreeBsdSuite> Tls10Suites();          // TLS_10 (2 suites)
std::vector<FreeBsdSuite> AesGcmSuites();         // AES_GCM (4)
std::vector<FreeBsdSuite> AesGcm12Suites();       // AES_GCM_12 (2)
std::vector<FreeBsdSuite> ChaChaSuites();         // CHACHA20 (2)
std::vector<FreeBsdSuite> Tls13Suites();          // TLS_13 (3)
std::vector<FreeBsdSuite> InvalidSuites();        // INVALID_CIPHER_SUITES (11)
std::vector<FreeBsdSuite> AllValidSuites();       // AES_CBC + AES_GCM + CHACHA20 (16)

class TlsEnableBuilder {
 public:
  // Random key material; rec_seq random unless `seq` is given.
  explicit TlsEnableBuilder(const FreeBsdSuite& suite);
  TlsEnableBuilder(const FreeBsdSuite& suite, uint64_t seq);

  // The argument for ktls_setsockopt; points into this object.
  const struct tls_enable& get() const { return en_; }
  struct tls_enable& mutable_get() {
    return en_;
  }
  uint64_t sequence() const { return sequence_; }
  bool is_cbc() const;
  bool is_tls13() const;
  bool is_tls10() const;
  bool is_gcm12() const;
  // Reference params for the same session (record_reference.h).
  ReferenceParams reference() const;
  // TLS 1.0 CBC: the first chaining IV.
  RefCbcIv tls10_iv() const;
  crypto::TlsVersion version() const;
  // Sizes as ktls_test.c computes them.
  size_t header_len() const;   // 5 (+16 CBC 1.1/1.2, +8 GCM 1.2)
  size_t mac_len() const;      // HMAC length, or 16 for AEADs
  size_t min_payload() const;  // smallest valid record body

 private:
  FreeBsdSuite suite_;
  std::vector<uint8_t> cipher_key_;
  std::vector<uint8_t> iv_;
  std::vector<uint8_t> auth_key_;
  uint64_t sequence_;
  struct tls_enable en_;
};

}  // namespace ktls::testing
