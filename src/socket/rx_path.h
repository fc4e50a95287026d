// The receive half of an offloaded socket in software mode: pulls ciphertext from the
// kernel without blocking, opens every complete record and queues the results, in
// stream order, for readers: records, non-fatal record errors, and the end of stream.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "base/bytes.h"
#include "record/record_opener.h"
#include "socket/byte_queue.h"
#include "socket/os.h"
#include "socket/socket_stats.h"

namespace ktls::socket {

// Decrypted bytes queued before the socket stops reading from the kernel, so a slow
// reader pushes back on the peer through TCP instead of growing memory.
inline constexpr size_t kRxQueueLimit = 256 * 1024;

struct RxItem {
  enum class Kind : uint8_t { kRecord, kError, kEnd };
  Kind kind = Kind::kRecord;
  uint8_t type = 0;
  uint8_t major = 0;
  uint8_t minor = 0;
  int error = 0;
  std::vector<uint8_t> data;
  size_t consumed = 0;  // bytes of `data` already read
};

// What one receive call asks for.
struct RxRequest {
  std::span<const MutableBytes> buffers;
  bool want_record_info = false;  // a control buffer was given: report the record header
  bool peek = false;
};

struct RxDelivery {
  ssize_t result = 0;      // bytes, or -errno (-EAGAIN: nothing ready)
  bool end_of_record = false;  // MSG_EOR
  bool has_info = false;       // first read of a record: info is valid
  uint8_t type = 0;
  uint8_t major = 0;
  uint8_t minor = 0;
  uint16_t record_length = 0;
};

class RxPath {
 public:
  RxPath(int fd, Os& os, record::RecordOpener opener, SocketStats& stats);

  // Reads what the kernel has and opens complete records; never blocks.
  void Pump();
  // A record, an error or the end of stream is waiting for a reader.
  bool Readable() const { return !items_.empty(); }
  // Takes the next delivery: data of at most one record (records are never merged).
  // Plain reads (no record info wanted) skip empty records, which would look like EOF.
  RxDelivery Receive(const RxRequest& request);

  uint64_t next_sequence() const { return opener_.next_sequence(); }
  const record::RecordLayout& layout() const { return opener_.layout(); }
  void set_fd(int fd) { fd_ = fd; }
  size_t buffered_ciphertext() const { return ciphertext_.size(); }

 private:
  void OpenRecords();
  void PushError(int error);
  void PushEnd();

  int fd_;
  Os& os_;
  record::RecordOpener opener_;
  SocketStats& stats_;
  ByteQueue ciphertext_;
  std::deque<RxItem> items_;
  size_t queued_bytes_ = 0;
  bool ended_ = false;  // no more input: EOF, a fatal error or a reset
};

}  // namespace ktls::socket
