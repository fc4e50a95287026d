// Opens TLS records of one direction of a session: header checks, decryption and
// authentication in place, TLS 1.3 inner type and padding, CBC padding and MAC.
#pragma once

#include <cstdint>
#include <memory>

#include "base/bytes.h"
#include "base/result.h"
#include "base/secret_bytes.h"
#include "crypto/aead.h"
#include "crypto/cbc_hmac.h"
#include "record/record_keys.h"
#include "record/record_layout.h"

namespace ktls::record {

enum class OpenStatus : uint8_t {
  kOk,
  kNeedMore,           // `need` says how many bytes the next step requires in total
  kBadHeader,          // version (or TLS 1.3 outer type) differs from the session: EINVAL
  kBadLength,          // header length outside the session's limits: EMSGSIZE
  kBadRecordSize,      // body too short or misaligned for the suite: EMSGSIZE
  kBadRecord,          // tag, MAC or padding wrong, or TLS 1.3 without a type: EBADMSG
  kSequenceExhausted,  // the session used its last sequence number: EOVERFLOW
};

// The errno ktls(4) reports for each failure; 0 for kOk and kNeedMore.
int OpenStatusErrno(OpenStatus status);

// Header errors leave the stream unparseable; record errors consume just that record.
inline bool IsFatal(OpenStatus status) {
  return status == OpenStatus::kBadHeader || status == OpenStatus::kBadLength ||
         status == OpenStatus::kSequenceExhausted;
}

struct OpenResult {
  OpenStatus status = OpenStatus::kNeedMore;
  uint8_t type = 0;   // content type; the inner one for TLS 1.3
  uint8_t major = 0;  // version bytes of the record header
  uint8_t minor = 0;
  size_t need = 0;            // kNeedMore: total bytes needed at the front of the input
  size_t record_len = 0;      // bytes the record occupies in the input (header included)
  size_t payload_offset = 0;  // kOk: plaintext position within the input buffer
  size_t payload_len = 0;
  uint64_t sequence = 0;  // the record's sequence number (kOk and record errors)
};

class RecordOpener {
 public:
  static Result<RecordOpener> Create(const RecordKeys& keys, const OpenOptions& options = {});

  RecordOpener(RecordOpener&&) noexcept = default;
  RecordOpener& operator=(RecordOpener&&) noexcept = default;
  ~RecordOpener() = default;

  // Classifies the front of `in` without decrypting or changing state: kNeedMore,
  // a header error, or kOk with record_len set once the whole record is present.
  OpenResult Peek(ConstBytes in) const;

  // Opens the record at the front of `in`, decrypting in place. Every record that
  // passes the header checks consumes a sequence number, whether or not it verifies.
  OpenResult Open(MutableBytes in);

  const RecordLayout& layout() const { return layout_; }
  uint64_t next_sequence() const { return sequence_; }
  crypto::Backend backend() const;

 private:
  RecordOpener() = default;
  OpenStatus OpenAead(MutableBytes record, OpenResult* result);
  OpenStatus OpenCbc(MutableBytes record, OpenResult* result);
  size_t MaxRecordLen() const;

  RecordLayout layout_{};
  OpenOptions options_;
  std::unique_ptr<crypto::Aead> aead_;
  std::unique_ptr<crypto::CbcHmac> cbc_;
  SecretBytes iv_;
  uint64_t sequence_ = 0;
};

}  // namespace ktls::record
