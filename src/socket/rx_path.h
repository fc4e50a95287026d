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
inline constexpr size_t kRxQueueLimit = size_t{256} * 1024;

// Whose receive semantics a socket follows.
enum class RxRules : uint8_t {
  kFreeBsd,  // one record per read, TLS_GET_RECORD; bad records dropped; bad headers reset
  kLinux,    // data records merged; errors sticky; KeyUpdate pauses until a new key
};

struct RxItem {
  enum class Kind : uint8_t { kRecord, kError, kEnd };
  Kind kind = Kind::kRecord;
  uint8_t type = 0;
  uint8_t major = 0;
  uint8_t minor = 0;
  int error = 0;
  bool sticky = false;  // an error every later read reports again (Linux EBADMSG)
  std::vector<uint8_t> data;
  size_t consumed = 0;  // bytes of `data` already read
};

// What one receive call asks for.
struct RxRequest {
  std::span<const MutableBytes> buffers;
  bool want_record_info = false;  // a control buffer was given: report the record header
  bool peek = false;
  // Linux, continuing a read that already returned data records: take only more data.
  bool data_only = false;
};

struct RxDelivery {
  ssize_t result = 0;          // bytes, or -errno (-EAGAIN: nothing ready)
  bool stopped = false;        // Linux: ended at a record of another type, an error or the end
  bool end_of_record = false;  // MSG_EOR
  bool has_info = false;       // first read of a record: info is valid
  uint8_t type = 0;
  uint8_t major = 0;
  uint8_t minor = 0;
  uint16_t record_length = 0;
};

class RxPath {
 public:
  RxPath(int fd, Os& os, record::RecordOpener opener, SocketStats& stats,
         RxRules rules = RxRules::kFreeBsd);

  // Reads what the kernel has and opens complete records; never blocks.
  void Pump();
  // A record, an error or the end of stream is waiting for a reader.
  bool Readable() const { return !items_.empty(); }
  // Takes the next delivery: data of at most one record (records are never merged).
  // Plain reads (no record info wanted) skip empty records, which would look like EOF.
  RxDelivery Receive(const RxRequest& request);
  // Linux: consecutive data records fill the buffers; any other record comes alone;
  // without record-info room a non-data record gives EIO and stays queued; empty data
  // records are skipped, and a read that found nothing else gives EAGAIN.
  RxDelivery ReceiveLinux(const RxRequest& request);

  // Linux TLS 1.3: a KeyUpdate was received; records after it wait for the new key.
  bool rekey_pending() const { return rekey_pending_; }
  // Installs the peer's next key and opens what was waiting for it.
  void Rekey(record::RecordOpener opener);

  uint64_t next_sequence() const { return opener_.next_sequence(); }
  const record::RecordLayout& layout() const { return opener_.layout(); }
  void set_fd(int fd) { fd_ = fd; }
  size_t buffered_ciphertext() const { return ciphertext_.size(); }

 private:
  void OpenRecords();
  // Linux's strparser checks, in its order; false (and an error queued) on failure.
  bool LinuxFramingOk();
  void PushError(int error, bool sticky = false);
  void PushEnd();

  int fd_;
  Os& os_;
  record::RecordOpener opener_;
  SocketStats& stats_;
  ByteQueue ciphertext_;
  std::deque<RxItem> items_;
  size_t queued_bytes_ = 0;
  bool ended_ = false;  // no more input: EOF, a fatal error or a reset
  RxRules rules_;
  bool stalled_ = false;  // Linux: parsing stopped for good after an error
  bool rekey_pending_ = false;
};

}  // namespace ktls::socket
