// The fixed layout of the two shared-memory segments a process using ktls exports, so
// that `ktls sysctl` and `ktls stat` can read (and set) it from outside:
//
//   /dev/shm/ktls.<pid>      Snapshot: knobs, counters and offloaded sockets, written
//                            by the process's exporter thread under a seqlock, mapped
//                            read-only by readers.
//   /dev/shm/ktls.<pid>.ctl  ControlChannel: one request slot through which a reader
//                            asks the process to set a knob, plus a futex doorbell.
//
// Both are mode 0600, so only the owning user (and root) sees them. They hold names,
// numbers, addresses and suite names: never key material or record contents.
//
// Every field is plain data so a reader can copy the snapshot with memcpy; the words
// that several processes update are accessed through std::atomic_ref. The layout is
// versioned: a reader refuses a segment whose magic or version it does not know.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace ktls::control::shm {

inline constexpr uint64_t kSnapshotMagic = 0x314e5350534c544bULL;  // "KTLSPSN1"
inline constexpr uint64_t kControlMagic = 0x314c5443534c544bULL;   // "KTLSCTL1"
inline constexpr uint32_t kLayoutVersion = 1;

inline constexpr size_t kMaxEntries = 192;   // registry entries (about 90 today)
inline constexpr size_t kMaxSockets = 1024;  // offloaded sockets listed in full
inline constexpr size_t kNameLen = 64;       // longest entry name + NUL
inline constexpr size_t kSuiteLen = 24;      // "AES-256-CBC-SHA384" + NUL
inline constexpr size_t kAddressLen = 64;    // "[v6 address%scope]:port" + NUL
inline constexpr size_t kCommLen = 16;       // /proc/<pid>/comm (TASK_COMM_LEN)
inline constexpr size_t kValueLen = 32;      // a knob value as decimal text

// One kern.ipc.tls.* entry. `type` and `access` are control::ValueType and
// control::Access; `value` holds the number (int knobs sign-extended).
struct ExportedEntry {
  char name[kNameLen];
  uint8_t type;
  uint8_t access;
  uint8_t reserved[6];
  uint64_t value;
};

// One offloaded socket. Modes are TCP_TLS_MODE_* (0 when the direction is off),
// versions the wire version (0x0304 for TLS 1.3; 0 when off), `abi` 1 FreeBSD, 2 Linux.
struct ExportedSocket {
  int32_t fd;
  uint8_t abi;
  uint8_t tx_mode;
  uint8_t rx_mode;
  uint8_t reserved0;
  uint16_t tx_version;
  uint16_t rx_version;
  uint32_t reserved1;
  char tx_suite[kSuiteLen];
  char rx_suite[kSuiteLen];
  char local[kAddressLen];  // "127.0.0.1:443", "[::1]:443"; empty when unknown
  char peer[kAddressLen];
  uint64_t tx_records;
  uint64_t tx_bytes;       // plaintext
  uint64_t tx_wire_bytes;  // ciphertext handed to the kernel
  uint64_t tx_pending_bytes;
  uint64_t tx_errors;
  uint64_t rx_records;
  uint64_t rx_bytes;
  uint64_t rx_wire_bytes;
  uint64_t rx_bad_header;  // EINVAL
  uint64_t rx_bad_length;  // EMSGSIZE
  uint64_t rx_bad_record;  // EBADMSG
};

struct Snapshot {
  // Written once before the first publication.
  uint64_t magic;
  uint32_t layout_version;
  uint32_t size;  // sizeof(Snapshot)
  int32_t pid;
  uint32_t uid;
  // /proc/<pid>/stat start time (clock ticks since boot): a reused pid has another.
  uint64_t start_time;
  char comm[kCommLen];

  // Seqlock: odd while the exporter rewrites what follows; readers retry until they
  // copied everything between two equal even values.
  uint64_t sequence;

  uint64_t updated_ns;  // CLOCK_REALTIME of the last refresh
  uint64_t refreshes;
  uint32_t entry_count;
  uint32_t socket_count;   // filled slots of `sockets`
  uint32_t sockets_total;  // offloaded sockets (more than socket_count if the table is full)
  uint32_t reserved;
  ExportedEntry entries[kMaxEntries];
  ExportedSocket sockets[kMaxSockets];
};

// The request slot's states. Clients take turns through flock(2) on the control
// segment (released by the kernel if a client dies). The client holding it fills the
// free slot, posts it (kRequested) and rings the doorbell; the exporter takes it
// (kServing), applies it and answers (kDone); the client reads the answer and frees
// the slot. A client that gives up withdraws a request not yet taken (back to kFree).
enum class SlotState : uint32_t { kFree = 0, kRequested = 1, kServing = 2, kDone = 3 };

struct ControlChannel {
  uint64_t magic;
  uint32_t layout_version;
  // Futex word: bumped (and woken) by anyone who wants the exporter to run now.
  uint32_t doorbell;
  uint32_t state;      // SlotState; also a futex word the client waits on
  int32_t client_pid;  // for diagnostics
  char name[kNameLen];
  char value[kValueLen];
  // The answer.
  int32_t error;  // 0 or an errno, as control::WriteFromText returns it
  uint32_t reserved;
  char old_value[kValueLen];
  char new_value[kValueLen];
};

static_assert(std::is_trivially_copyable_v<Snapshot>);
static_assert(std::is_trivially_copyable_v<ControlChannel>);
static_assert(sizeof(ExportedEntry) == 80);
static_assert(sizeof(ExportedSocket) % 8 == 0);
static_assert(offsetof(Snapshot, sequence) % 8 == 0);
static_assert(offsetof(ControlChannel, doorbell) % 4 == 0);
static_assert(offsetof(ControlChannel, state) % 4 == 0);

}  // namespace ktls::control::shm
