#include "record/record_sealer.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include "crypto/random.h"
#include "record/header.h"
#include "record/nonce.h"
#include "record/record_crypto.h"

namespace ktls::record {
namespace {

using crypto::TlsVersion;

}  // namespace

Result<RecordSealer> RecordSealer::Create(const RecordKeys& keys, const SealOptions& options) {
  Result<RecordLayout> layout = LayoutFor(keys.suite, keys.version);
  if (!layout.ok()) return layout.status();
  RecordSealer sealer;
  sealer.layout_ = layout.value();
  KTLS_RETURN_IF_ERROR(
      MakeCrypto(sealer.layout_, keys, options.backend, &sealer.aead_, &sealer.cbc_));
  sealer.keys_ = keys;
  sealer.iv_ = keys.iv;
  sealer.sequence_ = keys.sequence;
  sealer.explicit_nonce_ = options.explicit_nonce_start.value_or(crypto::RandomU64());
  return sealer;
}

RecordSealer::~RecordSealer() {
  explicit_nonce_ = 0;
}

crypto::Backend RecordSealer::backend() const {
  return aead_ ? aead_->backend() : cbc_->backend();
}

Status RecordSealer::Seal(uint8_t type, std::span<const ConstBytes> payload, MutableBytes out) {
  if (sequence_ > kLastUsableSequence) return Status::Error(EOVERFLOW);
  KTLS_RETURN_IF_ERROR(SealNumbered({sequence_, explicit_nonce_}, type, payload, out));
  ++sequence_;
  ++explicit_nonce_;
  return Status::Ok();
}

Status RecordSealer::SealNumbered(RecordNumbers numbers, uint8_t type,
                                  std::span<const ConstBytes> payload, MutableBytes out) {
  const size_t payload_len = TotalSize(payload);
  if (payload_len > kMaxPlaintextLen) return Status::Error(EMSGSIZE);
  if (out.size() != RecordSize(payload_len)) return Status::Error(EINVAL);
  if (numbers.sequence > kLastUsableSequence) return Status::Error(EOVERFLOW);
  if (layout_.is_cbc()) {
    SealCbc(numbers.sequence, type, payload, payload_len, out);
  } else {
    SealAead(numbers, type, payload, payload_len, out);
  }
  return Status::Ok();
}

Result<RecordNumbers> RecordSealer::Reserve(uint64_t count) {
  if (layout_.format == RecordFormat::kCbcImplicitIv) return Status::Error(EINVAL);
  if (count == 0 || sequence_ > kLastUsableSequence ||
      kLastUsableSequence - sequence_ < count - 1) {
    return Status::Error(EOVERFLOW);
  }
  const RecordNumbers first{sequence_, explicit_nonce_};
  sequence_ += count;
  explicit_nonce_ += count;
  return first;
}

Status RecordSealer::SealReserved(RecordNumbers numbers, uint8_t type,
                                  std::span<const ConstBytes> payload, MutableBytes out) {
  if (layout_.format == RecordFormat::kCbcImplicitIv) return Status::Error(EINVAL);
  return SealNumbered(numbers, type, payload, out);
}

Result<RecordSealer> RecordSealer::Clone() const {
  RecordKeys keys = keys_;
  keys.sequence = sequence_;
  SealOptions options;
  options.explicit_nonce_start = explicit_nonce_;
  options.backend = backend();
  Result<RecordSealer> clone = Create(keys, options);
  if (clone.ok() && layout_.format == RecordFormat::kCbcImplicitIv) clone->iv_ = iv_;
  return clone;
}

void RecordSealer::SealAead(RecordNumbers numbers, uint8_t type,
                            std::span<const ConstBytes> payload, size_t payload_len,
                            MutableBytes out) {
  const uint64_t sequence = numbers.sequence;
  const size_t tag_len = crypto::kAeadTagLen;
  const bool tls13 = layout_.format == RecordFormat::kTls13;
  const size_t inner_len = payload_len + (tls13 ? 1 : 0);
  const auto body_len = static_cast<uint16_t>(out.size() - kHeaderLen);
  const TlsVersion wire_version = tls13 ? TlsVersion::kTls12 : layout_.version;
  // TLS 1.3 hides the real type inside the ciphertext; the outer one is always data.
  WriteHeader(Header{tls13 ? kApplicationData : type, crypto::VersionMajor(wire_version),
                     crypto::VersionMinor(wire_version), body_len},
              out.data());

  Nonce nonce;
  std::array<uint8_t, kTls12AadLen> aad12{};
  ConstBytes aad;
  switch (layout_.format) {
    case RecordFormat::kAeadExplicitNonce:
      StoreBe64(out.data() + kHeaderLen, numbers.explicit_nonce);
      nonce = SaltedNonce(iv_.view(), out.data() + kHeaderLen);
      aad12 = Tls12Aad(sequence, type, out[1], out[2], static_cast<uint16_t>(payload_len));
      aad = aad12;
      break;
    case RecordFormat::kAeadXorNonce:
      nonce = XorNonce(iv_.view(), sequence);
      aad12 = Tls12Aad(sequence, type, out[1], out[2], static_cast<uint16_t>(payload_len));
      aad = aad12;
      break;
    default:  // kTls13: the additional data is the record header itself.
      nonce = XorNonce(iv_.view(), sequence);
      aad = out.first(kHeaderLen);
      break;
  }

  const MutableBytes ciphertext = out.subspan(layout_.header_len, inner_len);
  const std::span<uint8_t, crypto::kAeadTagLen> tag(out.data() + layout_.header_len + inner_len,
                                                    tag_len);
  if (!tls13) {
    aead_->Seal(nonce, aad, payload, std::span<const MutableBytes>(&ciphertext, 1), tag);
    return;
  }
  // TLS 1.3 plaintext is payload || content type: one more input segment.
  const uint8_t type_byte = type;
  if (payload.size() == 1 && payload[0].data() == ciphertext.data()) {
    // In place (sendfile): the type byte goes right after the payload, so the AEAD
    // sees one contiguous buffer and can take its one-shot path.
    ciphertext[payload_len] = type_byte;
    const ConstBytes inner(ciphertext);
    aead_->Seal(nonce, aad, std::span<const ConstBytes>(&inner, 1),
                std::span<const MutableBytes>(&ciphertext, 1), tag);
    return;
  }
  if (payload.size() == 1) {
    // The usual case gets a two-entry list on the stack: building the general list
    // below (zeroing 16 spans, copying into them) cost ~15% of a 1 KiB seal.
    const ConstBytes pair[] = {payload[0], ConstBytes(&type_byte, 1)};
    aead_->Seal(nonce, aad, pair, std::span<const MutableBytes>(&ciphertext, 1), tag);
    return;
  }
  constexpr size_t kInlineSegments = 16;
  std::array<ConstBytes, kInlineSegments> inline_segments;
  std::vector<ConstBytes> heap_segments;
  std::span<ConstBytes> segments;
  if (payload.size() < kInlineSegments) {
    segments = std::span<ConstBytes>(inline_segments.data(), payload.size() + 1);
  } else {
    heap_segments.resize(payload.size() + 1);
    segments = heap_segments;
  }
  std::copy(payload.begin(), payload.end(), segments.begin());
  segments.back() = ConstBytes(&type_byte, 1);
  aead_->Seal(nonce, aad, segments, std::span<const MutableBytes>(&ciphertext, 1), tag);
}

void RecordSealer::SealCbc(uint64_t sequence, uint8_t type, std::span<const ConstBytes> payload,
                           size_t payload_len, MutableBytes out) {
  const size_t mac_len = cbc_->mac_len();
  const size_t body_len = out.size() - kHeaderLen;
  const uint8_t major = crypto::VersionMajor(layout_.version);
  const uint8_t minor = crypto::VersionMinor(layout_.version);
  WriteHeader(Header{type, major, minor, static_cast<uint16_t>(body_len)}, out.data());

  // Gather the payload into place, then MAC, pad and encrypt there (MAC-then-encrypt).
  uint8_t* plain = out.data() + layout_.header_len;
  size_t offset = 0;
  for (ConstBytes segment : payload) {
    // Empty segments may carry a null pointer, which memmove must not see.
    if (!segment.empty() && segment.data() != plain + offset) {
      std::memmove(plain + offset, segment.data(), segment.size());
    }
    offset += segment.size();
  }
  const auto aad = Tls12Aad(sequence, type, major, minor, static_cast<uint16_t>(payload_len));
  const ConstBytes mac_input[] = {aad, ConstBytes(plain, payload_len)};
  cbc_->Mac(mac_input, MutableBytes(plain + payload_len, mac_len));
  const size_t encrypted_len = out.size() - layout_.header_len;
  const size_t pad_value = encrypted_len - payload_len - mac_len - 1;
  std::memset(plain + payload_len + mac_len, static_cast<int>(pad_value), pad_value + 1);

  const MutableBytes encrypted(plain, encrypted_len);
  if (layout_.format == RecordFormat::kCbcExplicitIv) {
    uint8_t* explicit_iv = out.data() + kHeaderLen;
    crypto::FillRandom(MutableBytes(explicit_iv, crypto::kCbcBlockLen));
    cbc_->Encrypt(std::span<const uint8_t, crypto::kCbcBlockLen>(explicit_iv, crypto::kCbcBlockLen),
                  encrypted, encrypted);
    return;
  }
  // TLS 1.0: this record's IV is the last ciphertext block of the one before.
  cbc_->Encrypt(std::span<const uint8_t, crypto::kCbcBlockLen>(iv_.data(), crypto::kCbcBlockLen),
                encrypted, encrypted);
  std::memcpy(iv_.data(), out.data() + out.size() - crypto::kCbcBlockLen, crypto::kCbcBlockLen);
}

}  // namespace ktls::record
