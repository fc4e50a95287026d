#include "tools/ktls/crypto_bench.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/errno_name.h"
#include "base/secret_bytes.h"
#include "bench/median.h"
#include "crypto/backend_choice.h"
#include "crypto/random.h"
#include "crypto/raw_baselines.h"
#include "record/header.h"
#include "record/record_opener.h"
#include "record/record_sealer.h"
#include "tools/ktls/bench_timing.h"

namespace ktls::tool {
namespace {

using crypto::Backend;
using crypto::CipherKind;
using crypto::SuiteInfo;
using crypto::TlsVersion;

constexpr std::array<size_t, 2> kRecordLens = {1024, record::kMaxPlaintextLen};
// Open cases seal a batch of this many bytes untimed, then open it timed: about
// the size of L2, so opening reads warm records as a receive path would.
constexpr size_t kOpenBatchBytes = size_t{256} * 1024;
// Room for any suite's header and trailer around the largest payload.
constexpr size_t kMaxOverhead = 128;

// One payload and one output buffer per record size, shared by every case of that
// size, so the engine and the raw calls touch the very same memory.
struct Buffers {
  std::vector<uint8_t> payload;
  std::vector<uint8_t> out;
};

struct Case {
  CaseResult result;
  TimedRun run;
};

[[noreturn]] void Die(const char* what, int errno_value) {
  std::fprintf(stderr, "ktls bench crypto: %s: %s\n", what, ErrnoName(errno_value).c_str());
  std::exit(1);
}

size_t IvLen(const SuiteInfo& suite, TlsVersion version) {
  if (version == TlsVersion::kTls13) return suite.tls13_iv_len;
  if (suite.cipher == CipherKind::kAesCbc) return version == TlsVersion::kTls10 ? 16 : 0;
  return suite.tls12_fixed_iv_len;
}

record::RecordKeys RandomKeys(const SuiteInfo& suite, TlsVersion version) {
  record::RecordKeys keys;
  keys.suite = suite.id;
  keys.version = version;
  keys.cipher_key = SecretBytes(suite.key_len);
  keys.iv = SecretBytes(IvLen(suite, version));
  keys.mac_key = SecretBytes(suite.mac_key_len);
  crypto::FillRandom(keys.cipher_key.mutable_view());
  crypto::FillRandom(keys.iv.mutable_view());
  crypto::FillRandom(keys.mac_key.mutable_view());
  return keys;
}

TimedRun SealRun(std::shared_ptr<record::RecordSealer> sealer, Buffers* buffers,
                 size_t record_len) {
  return [sealer = std::move(sealer), buffers, record_len](size_t count) {
    const ConstBytes payload(buffers->payload.data(), record_len);
    const MutableBytes out(buffers->out.data(), sealer->RecordSize(record_len));
    const uint64_t start = MonotonicNs();
    for (size_t i = 0; i < count; ++i) {
      if (!sealer->Seal(record::kApplicationData, payload, out).ok()) Die("seal", EIO);
    }
    return MonotonicNs() - start;
  };
}

TimedRun OpenRun(std::shared_ptr<record::RecordSealer> sealer,
                 std::shared_ptr<record::RecordOpener> opener, const Buffers* buffers,
                 size_t record_len) {
  const size_t record_size = sealer->RecordSize(record_len);
  const size_t batch = std::max<size_t>(1, kOpenBatchBytes / record_size);
  auto records = std::make_shared<std::vector<uint8_t>>(batch * record_size);
  return [sealer = std::move(sealer), opener = std::move(opener), records, buffers, record_len,
          record_size, batch](size_t count) {
    const ConstBytes payload(buffers->payload.data(), record_len);
    uint64_t ns = 0;
    for (size_t done = 0; done < count;) {
      const size_t n = std::min(batch, count - done);
      for (size_t i = 0; i < n; ++i) {
        const MutableBytes out(records->data() + i * record_size, record_size);
        if (!sealer->Seal(record::kApplicationData, payload, out).ok()) Die("seal", EIO);
      }
      const uint64_t start = MonotonicNs();
      for (size_t i = 0; i < n; ++i) {
        const MutableBytes in(records->data() + i * record_size, record_size);
        if (opener->Open(in).status != record::OpenStatus::kOk) Die("open", EBADMSG);
      }
      ns += MonotonicNs() - start;
      done += n;
    }
    return ns;
  };
}

TimedRun RawRun(std::shared_ptr<crypto::RawAeadBaseline> raw, Buffers* buffers, size_t record_len,
                size_t header_len) {
  return [raw = std::move(raw), buffers, record_len, header_len](size_t count) {
    // Same input and output bytes as the engine: the payload, and the output buffer
    // where the engine puts the ciphertext.
    const ConstBytes in(buffers->payload.data(), record_len);
    const MutableBytes out(buffers->out.data() + header_len, record_len);
    const uint64_t start = MonotonicNs();
    raw->SealRecords(in, out, count);
    return MonotonicNs() - start;
  };
}

void AddRawCases(const SuiteInfo& suite, size_t record_len, Buffers* buffers,
                 std::vector<Case>* cases, std::vector<std::string>* skipped) {
  std::vector<uint8_t> key(suite.key_len);
  crypto::FillRandom(key);
  for (const auto library : {crypto::RawLibrary::kIpsecMb, crypto::RawLibrary::kOpenSslEvp}) {
    auto raw = crypto::MakeRawAeadBaseline(library, suite.cipher, key);
    const std::string library_name(crypto::RawLibraryName(library));
    if (!raw.ok()) {
      skipped->push_back("raw " + library_name + " " + std::string(suite.name) + " " +
                         std::to_string(record_len) + ": " + ErrnoName(raw.error()));
      continue;
    }
    Case c;
    c.result.kind =
        library == crypto::RawLibrary::kIpsecMb ? CaseKind::kRawIpsecMb : CaseKind::kRawEvp;
    c.result.suite = &suite;
    c.result.backend = library_name;
    c.result.record_len = record_len;
    c.run = RawRun(std::shared_ptr<crypto::RawAeadBaseline>(std::move(raw.value())), buffers,
                   record_len, record::kHeaderLen);
    cases->push_back(std::move(c));
  }
}

void AddEngineCases(const SuiteInfo& suite, TlsVersion version, std::optional<Backend> backend,
                    size_t record_len, Buffers* buffers, std::vector<Case>* cases,
                    std::vector<std::string>* skipped) {
  const record::RecordKeys keys = RandomKeys(suite, version);
  record::SealOptions seal_options;
  seal_options.backend = backend;
  record::OpenOptions open_options;
  open_options.backend = backend;
  auto seal_sealer = record::RecordSealer::Create(keys, seal_options);
  auto open_sealer = record::RecordSealer::Create(keys, seal_options);
  auto opener = record::RecordOpener::Create(keys, open_options);
  const std::string label = std::string(suite.name) + " " +
                            std::string(crypto::VersionName(version)) + " " +
                            (backend ? std::string(crypto::BackendName(*backend)) : "default") +
                            " " + std::to_string(record_len);
  if (!seal_sealer.ok() || !open_sealer.ok() || !opener.ok()) {
    const int error = !seal_sealer.ok() ? seal_sealer.error()
                      : !opener.ok()    ? opener.error()
                                        : open_sealer.error();
    skipped->push_back("engine " + label + ": " + ErrnoName(error));
    return;
  }
  const Backend actual = seal_sealer->backend();
  const bool is_default =
      suite.cipher == CipherKind::kAesCbc || actual == crypto::ChooseBackend(suite.id);
  auto sealer = std::make_shared<record::RecordSealer>(std::move(seal_sealer.value()));
  for (const CaseKind kind : {CaseKind::kSeal, CaseKind::kOpen}) {
    Case c;
    c.result.kind = kind;
    c.result.suite = &suite;
    c.result.version = version;
    c.result.backend = std::string(crypto::BackendName(actual));
    c.result.default_backend = is_default;
    c.result.record_len = record_len;
    if (kind == CaseKind::kSeal) {
      c.run = SealRun(sealer, buffers, record_len);
    } else {
      c.run = OpenRun(std::make_shared<record::RecordSealer>(std::move(open_sealer.value())),
                      std::make_shared<record::RecordOpener>(std::move(opener.value())), buffers,
                      record_len);
    }
    cases->push_back(std::move(c));
  }
}

std::vector<Case> BuildCases(std::array<Buffers, kRecordLens.size()>* buffers,
                             std::vector<std::string>* skipped) {
  std::vector<Case> cases;
  for (size_t size_index = 0; size_index < kRecordLens.size(); ++size_index) {
    const size_t record_len = kRecordLens[size_index];
    Buffers* b = &(*buffers)[size_index];
    for (const SuiteInfo& suite : crypto::AllSuites()) {
      if (suite.cipher == CipherKind::kAesCbc) {
        // CBC suites run on OpenSSL only and do not exist in TLS 1.3.
        AddEngineCases(suite, TlsVersion::kTls12, std::nullopt, record_len, b, &cases, skipped);
        continue;
      }
      AddRawCases(suite, record_len, b, &cases, skipped);
      for (const TlsVersion version : {TlsVersion::kTls13, TlsVersion::kTls12}) {
        if (!crypto::SuiteSupportsVersion(suite, version)) continue;
        for (const Backend backend : {Backend::kIpsecMb, Backend::kOpenSsl}) {
          AddEngineCases(suite, version, backend, record_len, b, &cases, skipped);
        }
      }
    }
  }
  return cases;
}

const CaseResult* FindRaw(const std::vector<CaseResult>& results, CaseKind kind,
                          const CaseResult& like) {
  for (const CaseResult& r : results) {
    if (r.kind == kind && r.suite == like.suite && r.record_len == like.record_len) return &r;
  }
  return nullptr;
}

void ComputeRatios(std::vector<CaseResult>* results) {
  for (CaseResult& r : *results) {
    if (r.kind != CaseKind::kSeal || r.suite->cipher == CipherKind::kAesCbc) continue;
    if (const CaseResult* raw = FindRaw(*results, CaseKind::kRawIpsecMb, r)) {
      r.vs_raw_ipsec_mb = r.bytes_per_sec / raw->bytes_per_sec;
    }
    if (const CaseResult* raw = FindRaw(*results, CaseKind::kRawEvp, r)) {
      r.vs_openssl_evp = r.bytes_per_sec / raw->bytes_per_sec;
    }
  }
}

// The goals, all on the default backend's TLS 1.3 seal path.
std::vector<TargetCheck> CheckTargets(const std::vector<CaseResult>& results) {
  auto find = [&](crypto::SuiteId suite, size_t record_len) -> const CaseResult* {
    for (const CaseResult& r : results) {
      if (r.kind == CaseKind::kSeal && r.suite->id == suite && r.default_backend &&
          r.version == TlsVersion::kTls13 && r.record_len == record_len) {
        return &r;
      }
    }
    return nullptr;
  };
  std::vector<TargetCheck> checks;
  const CaseResult* aes = find(crypto::SuiteId::kAes128Gcm, record::kMaxPlaintextLen);
  checks.push_back({"TLS1.3 AES-128-GCM 16 KiB seal / raw ipsec-mb",
                    aes ? aes->vs_raw_ipsec_mb : std::nullopt, 0.9});
  checks.push_back({"TLS1.3 AES-128-GCM 16 KiB seal / openssl-evp",
                    aes ? aes->vs_openssl_evp : std::nullopt, 2.5});
  for (const size_t len : kRecordLens) {
    const CaseResult* chacha = find(crypto::SuiteId::kChaCha20Poly1305, len);
    const std::string size = std::to_string(len / 1024) + " KiB";
    checks.push_back({"TLS1.3 CHACHA20-POLY1305 " + size + " seal / openssl-evp",
                      chacha ? chacha->vs_openssl_evp : std::nullopt, 1.0});
  }
  return checks;
}

}  // namespace

std::string_view CaseKindName(CaseKind kind) {
  switch (kind) {
    case CaseKind::kRawIpsecMb:
    case CaseKind::kRawEvp:
      return "raw";
    case CaseKind::kSeal:
      return "seal";
    case CaseKind::kOpen:
      return "open";
  }
  return "unknown";
}

CryptoBenchReport RunCryptoBench(const CryptoBenchOptions& options) {
  CryptoBenchReport report;
  std::array<Buffers, kRecordLens.size()> buffers;
  for (size_t i = 0; i < kRecordLens.size(); ++i) {
    buffers[i].payload.resize(kRecordLens[i]);
    buffers[i].out.resize(kRecordLens[i] + kMaxOverhead);
    crypto::FillRandom(buffers[i].payload);
  }
  std::vector<Case> cases = BuildCases(&buffers, &report.skipped);

  // Rounds go over every case in turn, so slow drift (frequency, neighbours)
  // spreads over all cases instead of biasing the ones that happened to run late.
  const size_t total = cases.size() * static_cast<size_t>(options.rounds);
  size_t done = 0;
  for (int round = 0; round < options.rounds; ++round) {
    for (Case& c : cases) {
      if (options.progress) options.progress(done, total);
      const double ops = MeasureOpsPerSec(c.run, options.seconds_per_case);
      c.result.samples.push_back(ops * static_cast<double>(c.result.record_len));
      ++done;
    }
  }
  if (options.progress) options.progress(done, total);

  for (Case& c : cases) {
    c.result.bytes_per_sec = bench::Median(c.result.samples);
    c.result.spread = Spread(c.result.samples);
    report.results.push_back(std::move(c.result));
  }
  ComputeRatios(&report.results);
  report.targets = CheckTargets(report.results);
  return report;
}

}  // namespace ktls::tool
