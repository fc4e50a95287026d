#include "record/record_opener.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "record/header.h"
#include "record/nonce.h"
#include "record/record_crypto.h"

namespace ktls::record {
namespace {

using crypto::TlsVersion;

constexpr size_t kRfc8446MaxExpansion = 256;   // RFC 8446 §5.2
constexpr size_t kRfc5246MaxExpansion = 2048;  // RFC 5246 §6.2.3

}  // namespace

int OpenStatusErrno(OpenStatus status) {
  switch (status) {
    case OpenStatus::kOk:
    case OpenStatus::kNeedMore:
      return 0;
    case OpenStatus::kBadHeader:
      return EINVAL;
    case OpenStatus::kBadLength:
    case OpenStatus::kBadRecordSize:
      return EMSGSIZE;
    case OpenStatus::kBadRecord:
      return EBADMSG;
    case OpenStatus::kSequenceExhausted:
      return EOVERFLOW;
  }
  return EINVAL;
}

Result<RecordOpener> RecordOpener::Create(const RecordKeys& keys, const OpenOptions& options) {
  Result<RecordLayout> layout = LayoutFor(keys.suite, keys.version);
  if (!layout.ok()) return layout.status();
  RecordOpener opener;
  opener.layout_ = layout.value();
  opener.options_ = options;
  KTLS_RETURN_IF_ERROR(
      MakeCrypto(opener.layout_, keys, options.backend, &opener.aead_, &opener.cbc_));
  opener.iv_ = keys.iv;
  opener.sequence_ = keys.sequence;
  return opener;
}

crypto::Backend RecordOpener::backend() const {
  return aead_ ? aead_->backend() : cbc_->backend();
}

size_t RecordOpener::MaxRecordLen() const {
  if (options_.limits == LengthLimits::kFreeBsd) {
    return layout_.header_len + kMaxPlaintextLen + layout_.max_trailer_len;
  }
  const size_t expansion =
      layout_.version == TlsVersion::kTls13 ? kRfc8446MaxExpansion : kRfc5246MaxExpansion;
  return kHeaderLen + kMaxPlaintextLen + expansion;
}

OpenResult RecordOpener::Peek(ConstBytes in) const {
  OpenResult result;
  if (in.size() < kHeaderLen) {
    result.need = kHeaderLen;
    return result;
  }
  const Header header = ParseHeader(in.data());
  result.type = header.type;
  result.major = header.major;
  result.minor = header.minor;
  // RFC 8446 §5.1: TLS 1.3 records say TLS 1.2 and application_data on the outside.
  const bool tls13 = layout_.version == TlsVersion::kTls13;
  const TlsVersion wire_version = tls13 ? TlsVersion::kTls12 : layout_.version;
  const bool outer_type_ok = !tls13 || options_.linux_rules || header.type == kApplicationData;
  if (header.major != crypto::VersionMajor(wire_version) ||
      header.minor != crypto::VersionMinor(wire_version) || !outer_type_ok) {
    result.status = OpenStatus::kBadHeader;
    return result;
  }
  const size_t record_len = kHeaderLen + header.length;
  if (record_len < layout_.header_len || record_len > MaxRecordLen()) {
    result.status = OpenStatus::kBadLength;
    return result;
  }
  result.record_len = record_len;
  if (in.size() < record_len) {
    result.need = record_len;
    return result;
  }
  result.status = OpenStatus::kOk;
  return result;
}

OpenResult RecordOpener::Open(MutableBytes in) {
  OpenResult result = Peek(in);
  if (result.status != OpenStatus::kOk) return result;
  if (sequence_ > kLastUsableSequence) {
    result.status = OpenStatus::kSequenceExhausted;
    return result;
  }
  result.sequence = sequence_;
  const MutableBytes record = in.first(result.record_len);
  result.status = layout_.is_cbc() ? OpenCbc(record, &result) : OpenAead(record, &result);
  ++sequence_;
  if (result.status != OpenStatus::kOk) {
    result.payload_offset = 0;
    result.payload_len = 0;
  }
  return result;
}

OpenStatus RecordOpener::OpenAead(MutableBytes record, OpenResult* result) {
  const size_t tag_len = crypto::kAeadTagLen;
  const size_t body_len = record.size() - kHeaderLen;
  if (body_len < layout_.MinBodyLen()) return OpenStatus::kBadRecordSize;
  const size_t ciphertext_len = record.size() - layout_.header_len - tag_len;
  const MutableBytes text = record.subspan(layout_.header_len, ciphertext_len);
  const std::span<const uint8_t, crypto::kAeadTagLen> tag(text.data() + ciphertext_len, tag_len);

  Nonce nonce;
  std::array<uint8_t, kTls12AadLen> aad12{};
  std::array<uint8_t, kHeaderLen> aad13{};
  ConstBytes aad;
  switch (layout_.format) {
    case RecordFormat::kAeadExplicitNonce:
      nonce = SaltedNonce(iv_.view(), record.data() + kHeaderLen);
      aad12 = Tls12Aad(sequence_, record[0], record[1], record[2],
                       static_cast<uint16_t>(ciphertext_len));
      aad = aad12;
      break;
    case RecordFormat::kAeadXorNonce:
      nonce = XorNonce(iv_.view(), sequence_);
      aad12 = Tls12Aad(sequence_, record[0], record[1], record[2],
                       static_cast<uint16_t>(ciphertext_len));
      aad = aad12;
      break;
    default: {  // kTls13: the header is the additional data
      nonce = XorNonce(iv_.view(), sequence_);
      std::memcpy(aad13.data(), record.data(), kHeaderLen);
      if (options_.linux_rules) aad13[0] = kApplicationData;
      aad = aad13;
      break;
    }
  }
  if (!aead_->Open(nonce, aad, text, text, tag)) return OpenStatus::kBadRecord;
  // RFC 8446 §5.4 / RFC 5246 §6.2.3: at most 2^14 bytes of content (+1 type byte in
  // TLS 1.3) once decrypted, whatever the length limits let through.
  const size_t max_inner = kMaxPlaintextLen + (layout_.format == RecordFormat::kTls13 ? 1 : 0);
  if (ciphertext_len > max_inner) return OpenStatus::kBadRecordSize;

  result->payload_offset = layout_.header_len;
  if (layout_.format != RecordFormat::kTls13) {
    if (options_.linux_rules && record[0] == 0) return OpenStatus::kBadRecord;
    result->payload_len = ciphertext_len;
    return OpenStatus::kOk;
  }
  // RFC 8446 §5.4: the content type is the last non-zero byte; zeros after it are padding.
  size_t end = ciphertext_len;
  while (end > 0 && text[end - 1] == 0) --end;
  if (end == 0) return OpenStatus::kBadRecord;
  result->type = text[end - 1];
  result->payload_len = end - 1;
  return OpenStatus::kOk;
}

OpenStatus RecordOpener::OpenCbc(MutableBytes record, OpenResult* result) {
  const size_t block = crypto::kCbcBlockLen;
  const size_t mac_len = cbc_->mac_len();
  const size_t body_len = record.size() - kHeaderLen;
  if (body_len % block != 0 || body_len < layout_.MinBodyLen()) return OpenStatus::kBadRecordSize;

  uint8_t iv[crypto::kCbcBlockLen];
  if (layout_.format == RecordFormat::kCbcExplicitIv) {
    std::memcpy(iv, record.data() + kHeaderLen, block);
  } else {
    std::memcpy(iv, iv_.data(), block);
    // The next record chains from this one's last ciphertext block, verified or not.
    std::memcpy(iv_.data(), record.data() + record.size() - block, block);
  }
  const MutableBytes text = record.subspan(layout_.header_len);
  cbc_->Decrypt(std::span<const uint8_t, crypto::kCbcBlockLen>(iv, block), text, text);

  // Padding and MAC are both checked before deciding, and a bad padding still runs the
  // MAC over a plausible length, so the two failures cost about the same time.
  const size_t len = text.size();
  const size_t pad = text[len - 1];
  bool good = pad + 1 + mac_len <= len;
  const size_t checked = std::min<size_t>(256, len);
  for (size_t i = 0; i < checked; ++i) {
    const bool in_padding = i <= pad;
    good &= !in_padding || text[len - 1 - i] == pad;
  }
  const size_t data_len = good ? len - mac_len - pad - 1 : len - mac_len - 1;
  const auto aad =
      Tls12Aad(sequence_, record[0], record[1], record[2], static_cast<uint16_t>(data_len));
  const ConstBytes mac_input[] = {aad, ConstBytes(text.data(), data_len)};
  uint8_t computed[crypto::kMaxMacLen];
  cbc_->Mac(mac_input, MutableBytes(computed, mac_len));
  const bool mac_ok =
      ConstantTimeEqual(ConstBytes(computed, mac_len), ConstBytes(text.data() + data_len, mac_len));
  if (!good || !mac_ok) return OpenStatus::kBadRecord;
  if (data_len > kMaxPlaintextLen) return OpenStatus::kBadRecordSize;
  result->payload_offset = layout_.header_len;
  result->payload_len = data_len;
  return OpenStatus::kOk;
}

}  // namespace ktls::record
