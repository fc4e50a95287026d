#include "socket/rx_path.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "control/knobs.h"
#include "record/header.h"
#include "socket/suite_counters.h"

namespace ktls::socket {
namespace {

// Enough for a few maximum-size records per read system call.
constexpr size_t kReadChunk = 64 * 1024;

}  // namespace

RxPath::RxPath(int fd, Os& os, record::RecordOpener opener, SocketStats& stats)
    : fd_(fd), os_(os), opener_(std::move(opener)), stats_(stats) {}

void RxPath::PushError(int error) {
  RxItem item;
  item.kind = RxItem::Kind::kError;
  item.error = error;
  items_.push_back(std::move(item));
}

void RxPath::PushEnd() {
  ended_ = true;
  RxItem item;
  item.kind = RxItem::Kind::kEnd;
  items_.push_back(std::move(item));
}

void RxPath::Pump() {
  while (!ended_ && queued_bytes_ < kRxQueueLimit) {
    MutableBytes space = ciphertext_.Reserve(kReadChunk);
    const ssize_t n = os_.Recv(fd_, space.data(), space.size(), MSG_DONTWAIT);
    if (n > 0) {
      ciphertext_.Commit(static_cast<size_t>(n));
      stats_.rx_wire_bytes.Add(static_cast<uint64_t>(n));
      OpenRecords();
      if (static_cast<size_t>(n) < space.size()) break;  // the kernel queue is drained
      continue;
    }
    if (n == 0) {
      // ktls(4): the connection closed inside a record.
      if (!ciphertext_.empty()) {
        stats_.rx_bad_length.Add();
        PushError(EMSGSIZE);
      }
      PushEnd();
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    PushError(errno);  // ECONNRESET and friends end the stream
    PushEnd();
    break;
  }
}

void RxPath::OpenRecords() {
  while (!ended_) {
    MutableBytes input(ciphertext_.data(), ciphertext_.size());
    const record::OpenResult opened = opener_.Open(input);
    if (opened.status == record::OpenStatus::kNeedMore) return;
    if (record::IsFatal(opened.status)) {
      // A bad header leaves no way to find the next record: FreeBSD drops the
      // connection (the peer sees a reset) and reports the error once.
      control::GetStats().corrupted_records.Add();
      (opened.status == record::OpenStatus::kBadHeader ? stats_.rx_bad_header
                                                       : stats_.rx_bad_length)
          .Add();
      PushError(record::OpenStatusErrno(opened.status));
      ciphertext_.Clear();
      os_.Disconnect(fd_);
      PushEnd();
      return;
    }
    if (opened.status != record::OpenStatus::kOk) {
      // A record that fails to open is dropped; later records are still delivered.
      control::GetStats().failed_crypto.Add();
      (opened.status == record::OpenStatus::kBadRecord ? stats_.rx_bad_record
                                                       : stats_.rx_bad_length)
          .Add();
      PushError(record::OpenStatusErrno(opened.status));
      ciphertext_.Consume(opened.record_len);
      continue;
    }
    DecryptCounter(opener_.layout()).Add();
    RxItem item;
    item.type = opened.type;
    item.major = opened.major;
    item.minor = opened.minor;
    const uint8_t* payload = ciphertext_.data() + opened.payload_offset;
    item.data.assign(payload, payload + opened.payload_len);
    queued_bytes_ += opened.payload_len;
    stats_.rx_records.Add();
    items_.push_back(std::move(item));
    ciphertext_.Consume(opened.record_len);
  }
}

RxDelivery RxPath::Receive(const RxRequest& request) {
  RxDelivery delivery;
  while (!items_.empty()) {
    RxItem& item = items_.front();
    if (item.kind == RxItem::Kind::kEnd) {
      delivery.result = 0;  // stays queued: every later read sees the end too
      return delivery;
    }
    if (item.kind == RxItem::Kind::kError) {
      delivery.result = -item.error;
      if (!request.peek) items_.pop_front();
      return delivery;
    }
    if (item.data.empty() && !request.want_record_info) {
      items_.pop_front();  // an empty record means nothing to a plain read
      continue;
    }
    size_t copied = 0;
    const size_t available = item.data.size() - item.consumed;
    for (MutableBytes buffer : request.buffers) {
      const size_t take = std::min(buffer.size(), available - copied);
      if (take == 0) continue;
      std::memcpy(buffer.data(), item.data.data() + item.consumed + copied, take);
      copied += take;
    }
    if (item.consumed == 0) {
      delivery.has_info = true;
      delivery.type = item.type;
      delivery.major = item.major;
      delivery.minor = item.minor;
      delivery.record_length = static_cast<uint16_t>(item.data.size());
    }
    delivery.result = static_cast<ssize_t>(copied);
    delivery.end_of_record = copied == available;
    if (!request.peek) {
      item.consumed += copied;
      stats_.rx_bytes.Add(copied);
      if (item.consumed == item.data.size()) {
        queued_bytes_ -= item.data.size();
        items_.pop_front();
      }
    }
    return delivery;
  }
  delivery.result = -EAGAIN;
  return delivery;
}

}  // namespace ktls::socket
