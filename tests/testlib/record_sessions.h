// The sessions record tests sweep: every (suite, version) pair the suite table allows,
// on every backend that serves it, plus matching key material for our record layer and
// for the reference implementation.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/suite.h"
#include "record/record_keys.h"
#include "testlib/record_reference.h"

namespace ktls::testing {

struct SessionCase {
  crypto::SuiteId suite;
  crypto::TlsVersion version;
  crypto::Backend backend;

  bool is_cbc() const;
};

// crypto::AllSuites() x TLS 1.0..1.3, filtered by SuiteSupportsVersion; AEAD pairs once
// per backend (ipsec-mb included even where unavailable, so tests can skip visibly),
// CBC pairs on OpenSSL only.
std::vector<SessionCase> AllSessionCases();
// The subset of AllSessionCases() that satisfies `pred`.
std::vector<SessionCase> SessionCasesWhere(const std::function<bool(const SessionCase&)>& pred);

// A gtest-safe name such as "AES_128_GCM_TLS1_3_ipsec_mb".
std::string SessionCaseName(const SessionCase& session);
void PrintTo(const SessionCase& session, std::ostream* os);

// False for ipsec-mb on a machine where it cannot run.
bool BackendAvailable(crypto::Backend backend);

struct SessionKeys {
  record::RecordKeys keys;    // for RecordSealer / RecordOpener
  ReferenceParams reference;  // the same key material for the reference
  RefCbcIv first_iv{};        // CBC TLS 1.0: the first chained IV (a copy of keys.iv)
};

// Pseudo-random key material for `session`, reproducible from `seed`, with key sizes
// taken from the reference's own table. The first record gets `sequence`.
SessionKeys MakeSessionKeys(const SessionCase& session, uint64_t seed, uint64_t sequence = 0);

// The shape of a session's records as ktls(4) documents it (FreeBSD notes §3.4, §5),
// restated here so tests do not take RecordLayout's word for its own arithmetic.
struct ExpectedLayout {
  bool cbc = false;
  bool tls13 = false;
  size_t header_len = 0;      // 5 + explicit nonce or IV
  size_t mac_len = 0;         // CBC only
  size_t min_body = 0;        // smallest body (after the 5-byte header) of a valid record
  size_t max_record_len = 0;  // FreeBSD limit: header_len + 2^14 + trailer
  uint8_t wire_major = 3;     // version bytes every record of the session carries
  uint8_t wire_minor = 0;

  // Exact record size, header included, with minimal CBC padding.
  size_t RecordSize(size_t payload_len) const;
};
ExpectedLayout ExpectedLayoutFor(const SessionCase& session);

// The options that pin `session` to its backend.
record::SealOptions SealOptionsFor(const SessionCase& session);
record::OpenOptions OpenOptionsFor(const SessionCase& session,
                                   record::LengthLimits limits = record::LengthLimits::kFreeBsd);

}  // namespace ktls::testing
