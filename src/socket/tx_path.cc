#include "socket/tx_path.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "control/knobs.h"
#include "record/header.h"
#include "socket/suite_counters.h"

namespace ktls::socket {

TxPath::TxPath(int fd, Os& os, record::RecordSealer sealer, size_t max_payload, SocketStats& stats)
    : fd_(fd), os_(os), sealer_(std::move(sealer)), max_payload_(max_payload), stats_(stats) {}

TxPath::~TxPath() = default;

void TxPath::Slice(std::span<const ConstBytes> data, size_t offset, size_t len) {
  slice_.clear();
  for (ConstBytes segment : data) {
    if (len == 0) break;
    if (offset >= segment.size()) {
      offset -= segment.size();
      continue;
    }
    const size_t take = std::min(segment.size() - offset, len);
    slice_.push_back(segment.subspan(offset, take));
    len -= take;
    offset = 0;
  }
}

template <typename Fill>
int TxPath::SealOne(uint8_t type, size_t payload_len, Fill&& fill) {
  const size_t record_len = sealer_.RecordSize(payload_len);
  MutableBytes out = pending_.Reserve(record_len);
  // `fill` either returns payload segments to seal from or writes the payload in
  // place (sendfile) and returns a segment pointing there.
  std::span<const ConstBytes> payload = fill(out.subspan(sealer_.header_len(), payload_len));
  const Status sealed = sealer_.Seal(type, payload, out);
  if (!sealed.ok()) {
    control::GetStats().failed_crypto.Add();
    return sealed.error();
  }
  pending_.Commit(record_len);
  EncryptCounter(sealer_.layout()).Add();
  stats_.tx_records.Add();
  stats_.tx_bytes.Add(payload_len);
  return 0;
}

TxResult TxPath::Write(std::span<const ConstBytes> data, uint8_t type, bool atomic,
                       int send_flags) {
  TxResult result;
  if (sticky_error_ != 0) {
    result.error = error_reported_ ? EPIPE : sticky_error_;
    return result;
  }
  const size_t total = TotalSize(data);
  if (atomic) {
    if (total > kTxQueueLimit) {
      result.error = EMSGSIZE;
      return result;
    }
    const size_t records = std::max<size_t>(1, (total + max_payload_ - 1) / max_payload_);
    const size_t need = sealer_.RecordSize(std::min(total, max_payload_)) * records;
    if (pending_.size() + need > kTxQueueLimit) Flush(send_flags);
    if (pending_.size() + need > kTxQueueLimit && pending_.size() > 0) {
      result.would_block = true;
      return result;
    }
  }
  size_t offset = 0;
  do {
    if (!atomic && queue_full()) {
      const int flushed = Flush(send_flags);
      if (flushed != 0 && flushed != EAGAIN) break;
      if (queue_full()) {
        result.would_block = true;
        break;
      }
    }
    if (!atomic && ShouldSealInParallel(total - offset)) {
      int error = 0;
      offset += SealBatchInParallel(data, offset, type, &error);
      if (error != 0) {
        result.error = error;
        break;
      }
      continue;
    }
    const size_t chunk = std::min(total - offset, max_payload_);
    const int error = SealOne(type, chunk, [&](MutableBytes) {
      Slice(data, offset, chunk);
      return std::span<const ConstBytes>(slice_);
    });
    if (error != 0) {
      result.error = error;
      break;
    }
    offset += chunk;
  } while (offset < total);
  result.accepted = offset;

  const int flushed = Flush(send_flags);
  if (flushed != 0 && flushed != EAGAIN && result.error == 0) result.error = flushed;
  return result;
}

int TxPath::SealSlice(uint8_t type, std::span<const ConstBytes> data, size_t offset, size_t len) {
  return SealOne(type, len, [&](MutableBytes) {
    Slice(data, offset, len);
    return std::span<const ConstBytes>(slice_);
  });
}

int TxPath::SealOpenRecord() {
  const ConstBytes open(open_record_);
  const int error = SealOne(record::kApplicationData, open_record_.size(),
                            [&](MutableBytes) { return std::span<const ConstBytes>(&open, 1); });
  if (error == 0) open_record_.clear();
  return error;
}

TxResult TxPath::WriteLinux(std::span<const ConstBytes> data, uint8_t type, bool more,
                            int send_flags) {
  const size_t total = TotalSize(data);
  if (type != record::kApplicationData) {
    // Data and control bytes never share a record: close the open one first.
    if (const int error = CloseOpenRecord(); error != 0) return TxResult{0, error, false};
    // tls_sw_sendmsg seals records only for bytes it copies: no empty records.
    if (total == 0) {
      TxResult result;
      const int flushed = Flush(send_flags);
      if (flushed != 0 && flushed != EAGAIN) result.error = flushed;
      return result;
    }
    return Write(data, type, /*atomic=*/true, send_flags);
  }
  TxResult result;
  if (sticky_error_ != 0) {
    result.error = error_reported_ ? EPIPE : sticky_error_;
    return result;
  }
  size_t offset = 0;
  while (offset < total) {
    if (queue_full()) {
      const int flushed = Flush(send_flags);
      if (flushed != 0 && flushed != EAGAIN) break;
      if (queue_full()) {
        result.would_block = true;
        break;
      }
    }
    const size_t remaining = total - offset;
    int error = 0;
    if (open_record_.empty() && (remaining >= max_payload_ || !more)) {
      // A whole record straight from the caller's buffers: no copy.
      const size_t chunk = std::min(remaining, max_payload_);
      error = SealSlice(type, data, offset, chunk);
      if (error == 0) offset += chunk;
    } else {
      const size_t take = std::min(max_payload_ - open_record_.size(), remaining);
      Slice(data, offset, take);
      for (ConstBytes segment : slice_) {
        open_record_.insert(open_record_.end(), segment.begin(), segment.end());
      }
      offset += take;
      if (open_record_.size() == max_payload_) error = SealOpenRecord();
    }
    if (error != 0) {
      result.error = error;
      break;
    }
  }
  result.accepted = offset;
  // An empty send leaves the open record open, as the kernel's copy loop never runs.
  if (result.error == 0 && total > 0 && offset == total && !more && !open_record_.empty()) {
    result.error = SealOpenRecord();
  }
  const int flushed = Flush(send_flags);
  if (flushed != 0 && flushed != EAGAIN && result.error == 0) result.error = flushed;
  return result;
}

TxResult TxPath::SendFile(int in_fd, off_t offset, size_t count, int send_flags, bool* eof) {
  TxResult result;
  *eof = false;
  if (sticky_error_ != 0) {
    result.error = error_reported_ ? EPIPE : sticky_error_;
    return result;
  }
  // Bytes of an open (MSG_MORE) record precede the file's.
  if (!open_record_.empty()) {
    if (const int error = SealOpenRecord(); error != 0) {
      result.error = error;
      return result;
    }
  }
  // A response that fits the queue gets one buffer of exactly its size (growth by
  // doubling would leave a 64 KiB body in 128 KiB). Bulk streams grow as usual and keep
  // their buffer (see Flush).
  if (count > 0 && pending_.empty() && count <= kTxQueueLimit) {
    const size_t records = (count + max_payload_ - 1) / max_payload_;
    pending_.Prepare(records * sealer_.RecordSize(std::min(count, max_payload_)));
  }
  size_t done = 0;
  while (done < count) {
    if (queue_full()) {
      const int flushed = Flush(send_flags);
      if (flushed != 0 && flushed != EAGAIN) break;
      if (queue_full()) {
        result.would_block = true;
        break;
      }
    }
    const size_t want = std::min(count - done, max_payload_);
    // Read the file straight into the record's payload position, then seal in place:
    // the data crosses memory once on its way from the page cache to the kernel.
    // A short read shrinks the record, so reserve for the full size and re-frame.
    MutableBytes scratch = pending_.Reserve(sealer_.RecordSize(want));
    ssize_t got;
    do {
      got = os_.Pread(in_fd, scratch.data() + sealer_.header_len(), want,
                      offset + static_cast<off_t>(done));
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
      result.error = errno;
      break;
    }
    if (got == 0) {
      *eof = true;
      break;
    }
    const auto len = static_cast<size_t>(got);
    const int error = SealOne(record::kApplicationData, len, [&](MutableBytes payload) {
      slice_.assign(1, ConstBytes(payload.data(), len));
      return std::span<const ConstBytes>(slice_);
    });
    if (error != 0) {
      result.error = error;
      break;
    }
    done += len;
  }
  result.accepted = done;
  const int flushed = Flush(send_flags);
  if (flushed != 0 && flushed != EAGAIN && result.error == 0) result.error = flushed;
  return result;
}

int TxPath::Flush(int send_flags) {
  if (sticky_error_ != 0) return sticky_error_;
  while (!pending_.empty()) {
    struct iovec iov = {pending_.data(), pending_.size()};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t n = os_.Sendmsg(fd_, &msg, send_flags | MSG_DONTWAIT);
    if (n > 0) {
      pending_.Consume(static_cast<size_t>(n));
      stats_.tx_wire_bytes.Add(static_cast<uint64_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return EAGAIN;
    // The connection is gone: the queued records can never be delivered.
    sticky_error_ = n < 0 ? errno : EPIPE;
    stats_.tx_errors.Add();
    pending_.Clear();
    return sticky_error_;
  }
  // Everything reached the kernel. A response-sized buffer goes back: a server holds
  // thousands of connections between responses, and a kept buffer each was most of its
  // memory. A bulk stream's large one stays: freeing and re-growing half a megabyte per
  // sendfile call (nginx calls it per socket-buffer's worth) costs page faults that made
  // nginx under `ktls run` ten times slower.
  if (pending_.capacity() <= kTxReleaseBelow) pending_.ShrinkIfIdle(0);
  return 0;
}

}  // namespace ktls::socket
