// Feeds arbitrary bytes to the record opener of every format, as a peer would send
// them, and checks the opener's own invariants: no crash, results inside the input,
// sequence numbers that only advance, and need-more requests that make progress.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "crypto/suite.h"
#include "record/header.h"
#include "record/record_opener.h"

namespace {

using ktls::crypto::SuiteId;
using ktls::crypto::TlsVersion;
using ktls::record::OpenStatus;

struct Format {
  SuiteId suite;
  TlsVersion version;
};

constexpr Format kFormats[] = {
    {SuiteId::kAes128Gcm, TlsVersion::kTls12},
    {SuiteId::kAes256Gcm, TlsVersion::kTls13},
    {SuiteId::kChaCha20Poly1305, TlsVersion::kTls12},
    {SuiteId::kChaCha20Poly1305, TlsVersion::kTls13},
    {SuiteId::kAes128CbcSha1, TlsVersion::kTls10},
    {SuiteId::kAes256CbcSha256, TlsVersion::kTls12},
    {SuiteId::kAes128CbcSha384, TlsVersion::kTls11 /* invalid pair: Create must refuse */},
    {SuiteId::kAes128CbcSha384, TlsVersion::kTls12},
};

ktls::record::RecordKeys KeysFor(const Format& format, uint8_t fill) {
  const auto& suite = ktls::crypto::GetSuite(format.suite);
  ktls::record::RecordKeys keys;
  keys.suite = format.suite;
  keys.version = format.version;
  keys.cipher_key = ktls::SecretBytes(std::vector<uint8_t>(suite.key_len, fill));
  size_t iv_len = 0;
  if (suite.cipher == ktls::crypto::CipherKind::kAesCbc) {
    iv_len = format.version == TlsVersion::kTls10 ? 16 : 0;
    keys.mac_key = ktls::SecretBytes(std::vector<uint8_t>(suite.mac_key_len, fill));
  } else {
    iv_len = format.version == TlsVersion::kTls13 ? 12 : suite.tls12_fixed_iv_len;
  }
  keys.iv = ktls::SecretBytes(std::vector<uint8_t>(iv_len, fill));
  return keys;
}

void Check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Format& format = kFormats[data[0] % std::size(kFormats)];
  const auto limits =
      (data[1] & 1) ? ktls::record::LengthLimits::kRfc : ktls::record::LengthLimits::kFreeBsd;
  auto opener = ktls::record::RecordOpener::Create(KeysFor(format, data[1]), {limits, {}});
  if (!opener.ok()) return 0;

  std::vector<uint8_t> stream(data + 2, data + size);
  size_t offset = 0;
  uint64_t last_sequence = opener->next_sequence();
  while (offset < stream.size()) {
    ktls::MutableBytes rest(stream.data() + offset, stream.size() - offset);
    const auto peeked = opener->Peek(rest);
    const auto result = opener->Open(rest);
    Check(result.status == peeked.status || peeked.status == OpenStatus::kOk);
    if (result.status == OpenStatus::kNeedMore) {
      Check(result.need > rest.size());
      break;
    }
    if (ktls::record::IsFatal(result.status)) break;
    Check(result.record_len > 0 && result.record_len <= rest.size());
    Check(opener->next_sequence() == last_sequence + 1);
    last_sequence = opener->next_sequence();
    if (result.status == OpenStatus::kOk) {
      Check(result.payload_offset + result.payload_len <= result.record_len);
      Check(result.payload_len <= ktls::record::kMaxPlaintextLen);
    }
    offset += result.record_len;
  }
  return 0;
}
