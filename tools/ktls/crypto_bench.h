// The measurements behind `ktls bench crypto`: the record engine sealing and opening
// records of every suite, next to the raw library calls it is built on, interleaved
// over several rounds so that drift on a noisy machine hits every case alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/suite.h"

namespace ktls::tool {

enum class CaseKind : uint8_t { kRawIpsecMb, kRawEvp, kSeal, kOpen };
std::string_view CaseKindName(CaseKind kind);

struct CryptoBenchOptions {
  double seconds_per_case = 0.1;  // per case and round
  int rounds = 3;
  // Called before each measurement with (done, total); may be empty.
  std::function<void(size_t, size_t)> progress;
};

struct CaseResult {
  CaseKind kind;
  const crypto::SuiteInfo* suite;
  std::optional<crypto::TlsVersion> version;  // engine cases only
  std::string backend;                        // engine backend, or the raw library's name
  bool default_backend = false;               // the backend ChooseBackend picks here
  size_t record_len;                          // payload bytes per record
  std::vector<double> samples;                // payload bytes/s, one per round
  double bytes_per_sec = 0;                   // median of the samples
  double spread = 0;                          // (max - min) / median
  // Engine seal ÷ the raw call of the same cipher, key size and record size.
  std::optional<double> vs_raw_ipsec_mb;
  std::optional<double> vs_openssl_evp;
};

// A performance goal from the issue. Reported, never turned into a failure.
struct TargetCheck {
  std::string name;
  std::optional<double> ratio;  // unset when a side could not be measured here
  double target;
  bool pass() const { return ratio.has_value() && *ratio >= target; }
};

struct CryptoBenchReport {
  std::vector<CaseResult> results;
  std::vector<TargetCheck> targets;
  std::vector<std::string> skipped;  // cases this machine cannot run, with why
};

CryptoBenchReport RunCryptoBench(const CryptoBenchOptions& options);

}  // namespace ktls::tool
