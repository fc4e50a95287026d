// Seals plaintext into TLS records for one direction of a session.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "base/bytes.h"
#include "base/result.h"
#include "base/secret_bytes.h"
#include "crypto/aead.h"
#include "crypto/cbc_hmac.h"
#include "record/record_keys.h"
#include "record/record_layout.h"

namespace ktls::record {

// The numbers that make a record's nonce: its sequence number and, for TLS 1.2 AES-GCM,
// the explicit nonce it carries.
struct RecordNumbers {
  uint64_t sequence = 0;
  uint64_t explicit_nonce = 0;
};

class RecordSealer {
 public:
  // EINVAL for a suite/version pair that does not exist or key material of the wrong size.
  static Result<RecordSealer> Create(const RecordKeys& keys, const SealOptions& options = {});

  RecordSealer(RecordSealer&&) noexcept = default;
  RecordSealer& operator=(RecordSealer&&) noexcept = default;
  ~RecordSealer();

  // Wire size of a record that carries `payload_len` bytes (at most kMaxPlaintextLen).
  size_t RecordSize(size_t payload_len) const { return layout_.RecordSize(payload_len); }

  // Seals one record of content `type` holding the concatenation of `payload` into
  // `out`, which must be exactly RecordSize(total) bytes. `payload` may point into
  // `out` only at the payload's final position (header_len() bytes in), for in-place
  // sealing of AEAD records. Errors: EMSGSIZE for an oversized payload, EINVAL for a
  // wrong `out` size, EOVERFLOW once the sequence number is exhausted. Nothing is
  // written and no sequence number is used when Seal fails.
  Status Seal(uint8_t type, std::span<const ConstBytes> payload, MutableBytes out);
  Status Seal(uint8_t type, ConstBytes payload, MutableBytes out) {
    return Seal(type, std::span<const ConstBytes>(&payload, 1), out);
  }

  // Parallel sealing. The owner reserves `count` consecutive numbers in order; workers,
  // each with its own Clone(), seal the records with SealReserved in any order. Not for
  // TLS 1.0 CBC, whose IVs chain from record to record (EINVAL). EOVERFLOW when fewer
  // than `count` sequence numbers remain.
  Result<RecordNumbers> Reserve(uint64_t count);
  Status SealReserved(RecordNumbers numbers, uint8_t type, std::span<const ConstBytes> payload,
                      MutableBytes out);
  // An independent sealer (own crypto contexts) at the same position, for a worker thread.
  Result<RecordSealer> Clone() const;
  // The key material this sealer was created with (sequence as at creation), for handing
  // the session to another engine (the kernel's TLS ULP).
  const RecordKeys& keys() const { return keys_; }

  const RecordLayout& layout() const { return layout_; }
  size_t header_len() const { return layout_.header_len; }
  uint64_t next_sequence() const { return sequence_; }
  // TLS 1.2 AES-GCM: the explicit nonce the next record will carry.
  uint64_t next_explicit_nonce() const { return explicit_nonce_; }
  crypto::Backend backend() const;

 private:
  RecordSealer() = default;
  Status SealNumbered(RecordNumbers numbers, uint8_t type, std::span<const ConstBytes> payload,
                      MutableBytes out);
  void SealAead(RecordNumbers numbers, uint8_t type, std::span<const ConstBytes> payload,
                size_t payload_len, MutableBytes out);
  void SealCbc(uint64_t sequence, uint8_t type, std::span<const ConstBytes> payload,
               size_t payload_len, MutableBytes out);

  RecordKeys keys_;
  RecordLayout layout_{};
  std::unique_ptr<crypto::Aead> aead_;
  std::unique_ptr<crypto::CbcHmac> cbc_;
  SecretBytes iv_;
  uint64_t sequence_ = 0;
  uint64_t explicit_nonce_ = 0;
};

}  // namespace ktls::record
