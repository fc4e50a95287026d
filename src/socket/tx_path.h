// The transmit half of an offloaded socket in software mode: frames application bytes
// into records, seals them into a pending-ciphertext queue and pushes that queue to the
// kernel without ever blocking. Blocking policy belongs to the caller (KtlsSocket).
//
// A sealed record has consumed its sequence number, so it is sent whole and exactly
// once: it stays queued until the kernel took every byte or the connection failed.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/bytes.h"
#include "record/record_sealer.h"
#include "socket/byte_queue.h"
#include "socket/os.h"
#include "socket/socket_stats.h"

namespace ktls::socket {

// Ciphertext a socket may hold before writers must wait for the kernel (our stand-in
// for the send buffer's high-water mark).
inline constexpr size_t kTxQueueLimit = size_t{512} * 1024;
// A drained send queue no larger than this is freed (see TxPath::Flush).
inline constexpr size_t kTxReleaseBelow = size_t{128} * 1024;

struct TxResult {
  size_t accepted = 0;       // plaintext bytes taken into sealed records
  int error = 0;             // errno when nothing more can be taken (0: none)
  bool would_block = false;  // stopped because the queue is full
};

class TxPath {
 public:
  TxPath(int fd, Os& os, record::RecordSealer sealer, size_t max_payload, SocketStats& stats);
  ~TxPath();

  // Seals bytes of `data` as records of `type`. With `atomic` (a TLS_SET_RECORD_TYPE
  // send) all of it is taken or none: EMSGSIZE if it can never fit, would_block if it
  // does not fit now. An empty `data` seals one empty record.
  TxResult Write(std::span<const ConstBytes> data, uint8_t type, bool atomic, int send_flags);

  // Seals up to `count` bytes of `in_fd` from `offset` (pread straight into the record
  // and sealed in place). accepted < count also when the file ended.
  TxResult SendFile(int in_fd, off_t offset, size_t count, int send_flags, bool* eof);

  // Linux kTLS framing: data joins an open record that closes at the end of a send
  // without `more` (MSG_MORE) or when full; a record of another `type` first closes the
  // open data record, then goes out on its own (split only above max_payload()). Empty
  // `data` seals nothing: Linux never sends an empty record.
  TxResult WriteLinux(std::span<const ConstBytes> data, uint8_t type, bool more, int send_flags);
  bool has_open_record() const { return !open_record_.empty(); }
  // Linux: a send with a TLS_SET_RECORD_TYPE cmsg, of any type, first closes the open
  // record (tls_process_cmsg). Returns 0 or an errno.
  int CloseOpenRecord() { return open_record_.empty() ? 0 : SealOpenRecord(); }
  // Linux frees unsent MSG_MORE data on close.
  void DropOpenRecord() { open_record_.clear(); }
  // TLS_TX_MAX_PAYLOAD_LEN; the caller refuses the change while a record is open.
  void set_max_payload(size_t max_payload) { max_payload_ = max_payload; }
  // TLS 1.3 KeyUpdate: later records use the new key; queued ones keep the old.
  void ReplaceSealer(record::RecordSealer sealer) { sealer_ = std::move(sealer); }
  uint64_t next_explicit_nonce() const { return sealer_.next_explicit_nonce(); }
  // Only for handing the session to the kernel (kernel_offload.h) once nothing is queued.
  const record::RecordSealer& sealer() const { return sealer_; }

  // Pushes queued ciphertext to the kernel. Returns 0 when the queue is empty, EAGAIN
  // when the kernel is full, or the connection's errno (then the queue is dropped).
  int Flush(int send_flags);

  bool has_pending() const { return !pending_.empty(); }
  // Forgets the queued ciphertext without sending it (a forked child's copy).
  void DiscardPending() { pending_.Clear(); }
  size_t pending_bytes() const { return pending_.size(); }
  bool queue_full() const { return pending_.size() >= kTxQueueLimit; }
  // A send error that ended this direction (EPIPE, ECONNRESET, ...), or 0.
  int sticky_error() const { return sticky_error_; }
  // The caller told the application about the sticky error: later sends fail with
  // EPIPE, as a kernel socket reports a connection's error once.
  void MarkErrorReported() { error_reported_ = sticky_error_ != 0; }
  uint64_t next_sequence() const { return sealer_.next_sequence(); }
  const record::RecordLayout& layout() const { return sealer_.layout(); }
  size_t max_payload() const { return max_payload_; }
  void set_fd(int fd) { fd_ = fd; }
  int fd() const { return fd_; }

 private:
  // Seals one record of `payload_len` bytes whose payload `fill` writes in place.
  template <typename Fill>
  int SealOne(uint8_t type, size_t payload_len, Fill&& fill);
  int SealSlice(uint8_t type, std::span<const ConstBytes> data, size_t offset, size_t len);
  // Large writes: seal a batch of whole records on the crypto pool (tx_parallel.cc).
  bool ShouldSealInParallel(size_t remaining) const;
  size_t SealBatchInParallel(std::span<const ConstBytes> data, size_t offset, uint8_t type,
                             int* error);
  int SealOpenRecord();
  void Slice(std::span<const ConstBytes> data, size_t offset, size_t len);

  int fd_;
  Os& os_;
  record::RecordSealer sealer_;
  size_t max_payload_;
  SocketStats& stats_;
  ByteQueue pending_;
  std::vector<ConstBytes> slice_;
  std::vector<uint8_t> open_record_;  // Linux MSG_MORE plaintext, not yet sealed
  std::vector<std::unique_ptr<record::RecordSealer>> clones_;  // one per pool worker
  int sticky_error_ = 0;
  bool error_reported_ = false;
};

}  // namespace ktls::socket
