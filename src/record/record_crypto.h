// Builds the crypto objects of one direction from its keys (shared by sealer and opener).
#pragma once

#include <memory>
#include <optional>

#include "base/result.h"
#include "crypto/aead.h"
#include "crypto/cbc_hmac.h"
#include "record/record_keys.h"
#include "record/record_layout.h"

namespace ktls::record {

// EINVAL when key or IV sizes do not match the suite and format.
Status MakeCrypto(const RecordLayout& layout, const RecordKeys& keys,
                  std::optional<crypto::Backend> backend, std::unique_ptr<crypto::Aead>* aead,
                  std::unique_ptr<crypto::CbcHmac>* cbc);

}  // namespace ktls::record
