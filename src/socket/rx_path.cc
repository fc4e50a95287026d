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
constexpr size_t kReadChunk = size_t{64} * 1024;

}  // namespace

RxPath::RxPath(int fd, Os& os, record::RecordOpener opener, SocketStats& stats, RxRules rules)
    : fd_(fd), os_(os), opener_(std::move(opener)), stats_(stats), rules_(rules) {}

void RxPath::PushError(int error, bool sticky) {
  RxItem item;
  item.kind = RxItem::Kind::kError;
  item.error = error;
  item.sticky = sticky;
  items_.push_back(std::move(item));
}

void RxPath::Rekey(record::RecordOpener opener) {
  opener_ = std::move(opener);
  rekey_pending_ = false;
  OpenRecords();
}

bool RxPath::LinuxFramingOk() {
  if (ciphertext_.size() < record::kHeaderLen) return true;
  const record::Header header = record::ParseHeader(ciphertext_.data());
  const record::RecordLayout& layout = opener_.layout();
  const size_t explicit_len = layout.header_len - record::kHeaderLen;
  const size_t tag_len = layout.suite->tag_len;
  const size_t type_len = layout.version == crypto::TlsVersion::kTls13 ? 1 : 0;
  int error = 0;
  if (header.length > record::kMaxPlaintextLen + tag_len + explicit_len + type_len) {
    error = EMSGSIZE;
  } else if (header.length < tag_len + explicit_len) {
    error = EBADMSG;
  } else if (header.major != 3 || header.minor != 3) {
    error = EINVAL;
  }
  if (error == 0) return true;
  // Linux reports a framing error once and never parses this stream again.
  control::GetStats().corrupted_records.Add();
  (error == EINVAL ? stats_.rx_bad_header : stats_.rx_bad_length).Add();
  PushError(error);
  stalled_ = true;
  return false;
}

void RxPath::PushEnd() {
  ended_ = true;
  RxItem item;
  item.kind = RxItem::Kind::kEnd;
  items_.push_back(std::move(item));
}

void RxPath::Pump() {
  while (!ended_ && queued_bytes_ < kRxQueueLimit) {
    if (stalled_) ciphertext_.Clear();  // nothing more is parsed; only the end matters
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
      // ktls(4): the connection closed inside a record. (Linux ignores the fragment.)
      if (!ciphertext_.empty() && rules_ == RxRules::kFreeBsd && !stalled_) {
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
  // No partial record waiting: the read buffer goes back until the next read, so an idle
  // connection (a server's usual one) holds no receive memory.
  if (ciphertext_.empty()) ciphertext_.ShrinkIfIdle(0);
}

void RxPath::OpenRecords() {
  const bool linux_rules = rules_ == RxRules::kLinux;
  while (!ended_ && !stalled_ && !rekey_pending_) {
    if (linux_rules && !LinuxFramingOk()) return;
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
    if (opened.status != record::OpenStatus::kOk && linux_rules) {
      // Linux keeps the bad record at the head of the queue: every read fails again.
      control::GetStats().failed_crypto.Add();
      control::GetStats().linux_tls.decrypt_error.Add();  // TlsDecryptError
      stats_.rx_bad_record.Add();
      PushError(EBADMSG, /*sticky=*/true);
      stalled_ = true;
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
    // RFC 8446 §4.6.3: a KeyUpdate switches the peer to its next key right after it.
    constexpr uint8_t kKeyUpdate = 24;
    if (linux_rules && opener_.layout().version == crypto::TlsVersion::kTls13 &&
        item.type == static_cast<uint8_t>(record::ContentType::kHandshake) && !item.data.empty() &&
        item.data[0] == kKeyUpdate) {
      rekey_pending_ = true;
      control::GetStats().linux_tls.rx_rekey_received.Add();  // TlsRxRekeyReceived
    }
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
      if (!request.peek && !item.sticky) items_.pop_front();
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

namespace ktls::socket {

RxDelivery RxPath::ReceiveLinux(const RxRequest& request) {
  RxDelivery delivery;
  const size_t capacity = [&] {
    size_t total = 0;
    for (MutableBytes buffer : request.buffers) total += buffer.size();
    return total;
  }();
  size_t copied = 0;
  size_t buffer_index = 0;
  size_t buffer_offset = 0;
  auto copy_out = [&](const uint8_t* src, size_t len) {
    while (len > 0 && buffer_index < request.buffers.size()) {
      MutableBytes buffer = request.buffers[buffer_index];
      const size_t take = std::min(len, buffer.size() - buffer_offset);
      std::memcpy(buffer.data() + buffer_offset, src, take);
      src += take;
      len -= take;
      copied += take;
      buffer_offset += take;
      if (buffer_offset == buffer.size()) {
        ++buffer_index;
        buffer_offset = 0;
      }
    }
  };

  bool have_type = false;
  size_t index = 0;
  while (index < items_.size()) {
    RxItem& item = items_[index];
    if (item.kind != RxItem::Kind::kRecord) {
      if (copied > 0) {
        delivery.stopped = true;
        break;  // deliver what came before it first
      }
      // Nothing but empty data records before it: they read as nothing, so report it.
      delivery.has_info = false;
      delivery.result = item.kind == RxItem::Kind::kEnd ? 0 : -item.error;
      if (item.kind == RxItem::Kind::kError && !item.sticky && !request.peek) {
        items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(index));
      }
      return delivery;
    }
    const bool data = item.type == record::kApplicationData;
    if (have_type && (!data || delivery.type != item.type)) {
      delivery.stopped = true;
      break;  // reads never mix record types
    }
    if (!have_type) {
      if (request.data_only && !data) {
        delivery.stopped = true;
        return delivery;  // 0 bytes: the caller ends its read before this record
      }
      if (!request.want_record_info && !data) {
        delivery.result = -EIO;  // a control record needs room for its type
        return delivery;
      }
      have_type = true;
      delivery.has_info = true;
      delivery.type = item.type;
    }
    const size_t available = item.data.size() - item.consumed;
    const size_t take = std::min(available, capacity - copied);
    copy_out(item.data.data() + item.consumed, take);
    const bool finished = take == available;
    if (!request.peek) {
      item.consumed += take;
      stats_.rx_bytes.Add(take);
    }
    delivery.end_of_record = finished;
    if (finished && !request.peek) {
      queued_bytes_ -= item.data.size();
      items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(index));
    } else {
      ++index;
    }
    if (!finished || !data || copied == capacity) {
      delivery.stopped = !data;
      break;
    }
  }
  if (!have_type) {
    delivery.result = rekey_pending_ ? -EKEYEXPIRED : -EAGAIN;
    return delivery;
  }
  // Only empty data records and nothing after them: nothing to report yet.
  if (copied == 0 && delivery.type == record::kApplicationData && !delivery.stopped &&
      index >= items_.size()) {
    delivery.has_info = false;
    delivery.result = rekey_pending_ ? -EKEYEXPIRED : -EAGAIN;
    return delivery;
  }
  // Past the last record before a KeyUpdate nothing more can come for now.
  if (rekey_pending_ && index >= items_.size()) delivery.stopped = true;
  delivery.result = static_cast<ssize_t>(copied);
  return delivery;
}

}  // namespace ktls::socket
