#include "record/record_crypto.h"

#include <cerrno>

#include "crypto/backend_choice.h"

namespace ktls::record {
namespace {

// Checks key material sizes against the suite table for one direction.
Status ValidateKeys(const RecordLayout& layout, const RecordKeys& keys) {
  const crypto::SuiteInfo& suite = *layout.suite;
  if (keys.cipher_key.size() != suite.key_len) return Status::Error(EINVAL);
  switch (layout.format) {
    case RecordFormat::kAeadExplicitNonce:
      if (keys.iv.size() != suite.tls12_fixed_iv_len) return Status::Error(EINVAL);
      break;
    case RecordFormat::kAeadXorNonce:
    case RecordFormat::kTls13:
      if (keys.iv.size() != crypto::kAeadNonceLen) return Status::Error(EINVAL);
      break;
    case RecordFormat::kCbcImplicitIv:
      if (keys.iv.size() != crypto::kCbcBlockLen) return Status::Error(EINVAL);
      [[fallthrough]];
    case RecordFormat::kCbcExplicitIv:
      // HMAC takes keys of any length; TLS uses the hash length, FreeBSD accepts 1..1024.
      if (keys.mac_key.empty()) return Status::Error(EINVAL);
      break;
  }
  return Status::Ok();
}

}  // namespace

// Shared by the sealer and the opener: builds the crypto objects for one direction.
Status MakeCrypto(const RecordLayout& layout, const RecordKeys& keys,
                  std::optional<crypto::Backend> backend, std::unique_ptr<crypto::Aead>* aead,
                  std::unique_ptr<crypto::CbcHmac>* cbc) {
  KTLS_RETURN_IF_ERROR(ValidateKeys(layout, keys));
  const crypto::SuiteInfo& suite = *layout.suite;
  if (layout.is_cbc()) {
    auto made = crypto::MakeCbcHmac(suite.mac, keys.cipher_key.view(), keys.mac_key.view());
    if (!made.ok()) return made.status();
    *cbc = std::move(made.value());
    return Status::Ok();
  }
  const crypto::Backend chosen = backend.value_or(crypto::ChooseBackend(suite.id));
  auto made = crypto::MakeAead(suite.cipher, keys.cipher_key.view(), chosen);
  if (!made.ok()) return made.status();
  *aead = std::move(made.value());
  return Status::Ok();
}

}  // namespace ktls::record
