#include "record/record_layout.h"

#include <cerrno>

#include "crypto/cbc_hmac.h"
#include "record/header.h"

namespace ktls::record {

using crypto::CipherKind;
using crypto::TlsVersion;

Result<RecordLayout> LayoutFor(crypto::SuiteId suite_id, TlsVersion version) {
  const crypto::SuiteInfo& suite = crypto::GetSuite(suite_id);
  if (!crypto::SuiteSupportsVersion(suite, version)) return Status::Error(EINVAL);
  RecordLayout layout{RecordFormat::kTls13, &suite, version, kHeaderLen, 0};
  if (suite.cipher == CipherKind::kAesCbc) {
    const bool implicit = version == TlsVersion::kTls10;
    layout.format = implicit ? RecordFormat::kCbcImplicitIv : RecordFormat::kCbcExplicitIv;
    layout.header_len += implicit ? 0 : crypto::kCbcBlockLen;
    layout.max_trailer_len = suite.mac_len + crypto::kCbcBlockLen;
  } else if (version == TlsVersion::kTls13) {
    layout.format = RecordFormat::kTls13;
    layout.max_trailer_len = suite.tag_len + 1;
  } else {
    layout.format = suite.tls12_explicit_iv_len > 0 ? RecordFormat::kAeadExplicitNonce
                                                    : RecordFormat::kAeadXorNonce;
    layout.header_len += suite.tls12_explicit_iv_len;
    layout.max_trailer_len = suite.tag_len;
  }
  return layout;
}

size_t RecordLayout::RecordSize(size_t payload_len) const {
  switch (format) {
    case RecordFormat::kAeadExplicitNonce:
    case RecordFormat::kAeadXorNonce:
      return header_len + payload_len + suite->tag_len;
    case RecordFormat::kTls13:
      return header_len + payload_len + 1 + suite->tag_len;
    case RecordFormat::kCbcExplicitIv:
    case RecordFormat::kCbcImplicitIv: {
      // Minimal padding: at least one byte, up to a whole block (RFC 5246 §6.2.3.2).
      const size_t unpadded = payload_len + suite->mac_len;
      const size_t padded = (unpadded / crypto::kCbcBlockLen + 1) * crypto::kCbcBlockLen;
      return header_len + padded;
    }
  }
  return 0;
}

size_t RecordLayout::MinBodyLen() const {
  return RecordSize(0) - kHeaderLen;
}

}  // namespace ktls::record
