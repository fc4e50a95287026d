// TxPath's parallel sealing: one large write becomes a batch of records whose sequence
// numbers are reserved in order and whose output slots are laid out in order, then
// sealed by the crypto pool in any order.
#include <algorithm>
#include <cerrno>
#include <vector>

#include "control/knobs.h"
#include "socket/seal_pool.h"
#include "socket/suite_counters.h"
#include "socket/tx_path.h"

namespace ktls::socket {

bool TxPath::ShouldSealInParallel(size_t remaining) const {
  if (remaining < control::GetKnobs().sw_parallel_min.load()) return false;
  if (sealer_.layout().format == record::RecordFormat::kCbcImplicitIv) return false;
  return remaining >= 2 * max_payload_ && SealPool::Get().workers() > 0;
}

size_t TxPath::SealBatchInParallel(std::span<const ConstBytes> data, size_t offset, uint8_t type,
                                   int* error) {
  SealPool& pool = SealPool::Get();
  const size_t remaining = TotalSize(data) - offset;
  const size_t full_record = sealer_.RecordSize(max_payload_);
  const size_t room = kTxQueueLimit > pending_.size() ? kTxQueueLimit - pending_.size() : 0;
  const size_t wanted = (remaining + max_payload_ - 1) / max_payload_;
  const size_t count = std::max<size_t>(1, std::min(wanted, room / full_record));

  // Each worker needs its own crypto contexts; the caller uses the session's own.
  while (clones_.size() < pool.workers()) {
    Result<record::RecordSealer> clone = sealer_.Clone();
    if (!clone.ok()) {
      *error = clone.error();
      return 0;
    }
    clones_.push_back(std::make_unique<record::RecordSealer>(std::move(clone.value())));
  }
  Result<record::RecordNumbers> first = sealer_.Reserve(count);
  if (!first.ok()) {
    *error = first.error();
    return 0;
  }
  std::vector<size_t> payload_offsets(count);
  std::vector<size_t> payload_lens(count);
  std::vector<size_t> out_offsets(count);
  size_t out_total = 0;
  for (size_t i = 0; i < count; ++i) {
    payload_offsets[i] = offset + i * max_payload_;
    payload_lens[i] = std::min(max_payload_, remaining - i * max_payload_);
    out_offsets[i] = out_total;
    out_total += sealer_.RecordSize(payload_lens[i]);
  }
  MutableBytes out = pending_.Reserve(out_total);
  std::atomic<int> failure{0};
  pool.ParallelFor(count, [&](size_t participant, size_t i) {
    record::RecordSealer& sealer = participant == 0 ? sealer_ : *clones_[participant - 1];
    std::vector<ConstBytes> payload;
    size_t skip = payload_offsets[i];
    size_t want = payload_lens[i];
    for (ConstBytes segment : data) {
      if (want == 0) break;
      if (skip >= segment.size()) {
        skip -= segment.size();
        continue;
      }
      const size_t take = std::min(segment.size() - skip, want);
      payload.push_back(segment.subspan(skip, take));
      want -= take;
      skip = 0;
    }
    const record::RecordNumbers numbers{first->sequence + i, first->explicit_nonce + i};
    const Status sealed = sealer.SealReserved(
        numbers, type, payload, out.subspan(out_offsets[i], sealer.RecordSize(payload_lens[i])));
    if (!sealed.ok()) failure.store(sealed.error());
  });
  if (failure.load() != 0) {
    // The reserved sequence numbers are gone: the stream cannot continue safely.
    control::GetStats().failed_crypto.Add();
    sticky_error_ = failure.load();
    *error = sticky_error_;
    return 0;
  }
  pending_.Commit(out_total);
  EncryptCounter(sealer_.layout()).Add(count);
  stats_.tx_records.Add(count);
  const size_t sealed_bytes = std::min(remaining, count * max_payload_);
  stats_.tx_bytes.Add(sealed_bytes);
  return sealed_bytes;
}

}  // namespace ktls::socket
