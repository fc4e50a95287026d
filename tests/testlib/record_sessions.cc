#include "testlib/record_sessions.h"

#include <algorithm>
#include <random>

#include "crypto/backend_choice.h"

namespace ktls::testing {
namespace {

constexpr crypto::TlsVersion kVersions[] = {crypto::TlsVersion::kTls10, crypto::TlsVersion::kTls11,
                                            crypto::TlsVersion::kTls12, crypto::TlsVersion::kTls13};

std::vector<uint8_t> RandomBytes(std::mt19937_64& rng, size_t len) {
  std::vector<uint8_t> out(len);
  for (uint8_t& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

}  // namespace

bool SessionCase::is_cbc() const {
  return crypto::GetSuite(suite).cipher == crypto::CipherKind::kAesCbc;
}

std::vector<SessionCase> AllSessionCases() {
  std::vector<SessionCase> cases;
  for (const crypto::SuiteInfo& suite : crypto::AllSuites()) {
    for (crypto::TlsVersion version : kVersions) {
      if (!crypto::SuiteSupportsVersion(suite, version)) continue;
      cases.push_back({suite.id, version, crypto::Backend::kOpenSsl});
      if (suite.cipher != crypto::CipherKind::kAesCbc) {
        cases.push_back({suite.id, version, crypto::Backend::kIpsecMb});
      }
    }
  }
  return cases;
}

std::vector<SessionCase> SessionCasesWhere(const std::function<bool(const SessionCase&)>& pred) {
  std::vector<SessionCase> cases = AllSessionCases();
  std::erase_if(cases, [&](const SessionCase& session) { return !pred(session); });
  return cases;
}

std::string SessionCaseName(const SessionCase& session) {
  std::string name(crypto::GetSuite(session.suite).name);
  name += "_";
  name += crypto::VersionName(session.version);
  if (!session.is_cbc()) {
    name += "_";
    name += crypto::BackendName(session.backend);
  }
  for (char& c : name) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum) c = '_';
  }
  return name;
}

void PrintTo(const SessionCase& session, std::ostream* os) {
  *os << SessionCaseName(session);
}

bool BackendAvailable(crypto::Backend backend) {
  return backend == crypto::Backend::kOpenSsl || crypto::IpsecMbAvailable();
}

SessionKeys MakeSessionKeys(const SessionCase& session, uint64_t seed, uint64_t sequence) {
  std::mt19937_64 rng(seed);
  const ReferenceKeySizes sizes = ReferenceKeySizesFor(session.suite);
  const std::vector<uint8_t> key = RandomBytes(rng, sizes.key_len);
  std::vector<uint8_t> iv;
  std::vector<uint8_t> mac_key;
  if (session.is_cbc()) {
    mac_key = RandomBytes(rng, sizes.mac_key_len);
    if (session.version == crypto::TlsVersion::kTls10) iv = RandomBytes(rng, kRefCbcBlock);
  } else {
    // RFC 5288 salt for TLS 1.2 AES-GCM; a full 12-byte IV otherwise.
    const bool salt = session.suite != crypto::SuiteId::kChaCha20Poly1305 &&
                      session.version == crypto::TlsVersion::kTls12;
    iv = RandomBytes(rng, salt ? 4 : 12);
  }

  SessionKeys out;
  out.keys.suite = session.suite;
  out.keys.version = session.version;
  out.keys.cipher_key = SecretBytes(key);
  out.keys.iv = SecretBytes(iv);
  out.keys.mac_key = SecretBytes(mac_key);
  out.keys.sequence = sequence;
  out.reference = ReferenceParamsFor(session.suite, session.version, key, iv, mac_key);
  if (iv.size() == kRefCbcBlock) std::copy(iv.begin(), iv.end(), out.first_iv.begin());
  return out;
}

ExpectedLayout ExpectedLayoutFor(const SessionCase& session) {
  constexpr size_t kTag = 16;
  constexpr size_t kBlock = 16;
  constexpr size_t kMaxPlaintext = 16384;
  ExpectedLayout layout;
  layout.cbc = session.is_cbc();
  layout.tls13 = session.version == crypto::TlsVersion::kTls13;
  const auto version =
      static_cast<uint16_t>(layout.tls13 ? crypto::TlsVersion::kTls12 : session.version);
  layout.wire_major = static_cast<uint8_t>(version >> 8);
  layout.wire_minor = static_cast<uint8_t>(version);
  if (layout.cbc) {
    const size_t iv = session.version == crypto::TlsVersion::kTls10 ? 0 : kBlock;
    layout.mac_len = ReferenceKeySizesFor(session.suite).mac_key_len;
    layout.header_len = 5 + iv;
    layout.min_body = iv + (layout.mac_len + 1 + kBlock - 1) / kBlock * kBlock;
    layout.max_record_len = layout.header_len + kMaxPlaintext + layout.mac_len + kBlock;
  } else if (layout.tls13) {
    layout.header_len = 5;
    layout.min_body = kTag + 1;
    layout.max_record_len = 5 + kMaxPlaintext + kTag + 1;
  } else {
    const bool gcm = session.suite != crypto::SuiteId::kChaCha20Poly1305;
    layout.header_len = gcm ? 5 + 8 : 5;
    layout.min_body = layout.header_len - 5 + kTag;
    layout.max_record_len = layout.header_len + kMaxPlaintext + kTag;
  }
  return layout;
}

size_t ExpectedLayout::RecordSize(size_t payload_len) const {
  if (cbc) {
    const size_t unpadded = payload_len + mac_len;
    return header_len + unpadded + (16 - unpadded % 16);
  }
  return header_len + payload_len + (tls13 ? 1 : 0) + 16;
}

record::SealOptions SealOptionsFor(const SessionCase& session) {
  record::SealOptions options;
  if (!session.is_cbc()) options.backend = session.backend;
  return options;
}

record::OpenOptions OpenOptionsFor(const SessionCase& session, record::LengthLimits limits) {
  record::OpenOptions options;
  options.limits = limits;
  if (!session.is_cbc()) options.backend = session.backend;
  return options;
}

}  // namespace ktls::testing
