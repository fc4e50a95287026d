// Names, mapping and waking for the export segments (segment_layout.h), shared by the
// exporting process and the tool that reads them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ktls::control::shm {

// shm_open(3) names: "/ktls.<pid>" and "/ktls.<pid>.ctl".
std::string SnapshotName(int pid);
std::string ControlName(int pid);
// Where those live in the file system (for listing and messages).
inline constexpr char kShmDirectory[] = "/dev/shm";
std::string SegmentPath(const std::string& shm_name);

// Creates `shm_name` with mode 0600, `size` zero bytes, mapped read-write. A segment of
// that name left behind by a dead process that had our pid is replaced. Returns nullptr
// with errno on failure (EEXIST: the name belongs to someone else).
void* CreateSegment(const std::string& shm_name, size_t size);
// Opens an existing segment of at least `size` bytes; returns its descriptor, or -1
// with errno (ENOENT: no such segment; EPROTO: not a regular file of at least that
// size). `owner_uid` (if given) gets the segment's owner.
int OpenSegmentFile(const std::string& shm_name, size_t size, bool writable, uint32_t* owner_uid);
// Maps `size` bytes of an open segment (the descriptor stays open); nullptr with errno.
void* MapSegment(int fd, size_t size, bool writable);
// OpenSegmentFile, then MapSegment, then close.
void* OpenSegment(const std::string& shm_name, size_t size, bool writable, uint32_t* owner_uid);
void UnmapSegment(void* address, size_t size);

// The start time of `pid` (field 22 of /proc/<pid>/stat, clock ticks since boot), or 0
// when there is no such process. Together with the pid it names one process for good.
uint64_t ProcessStartTime(int pid);
// /proc/<pid>/comm without its newline; empty if unreadable.
std::string ProcessName(int pid);

// futex(2) on a word in a shared mapping (so not FUTEX_PRIVATE): waits while *word is
// `expected`, at most `timeout_ms`; wakes every waiter.
void FutexWait(uint32_t* word, uint32_t expected, int timeout_ms);
void FutexWake(uint32_t* word);

uint64_t MonotonicNs();
uint64_t RealtimeNs();

// Copies `text` into a fixed field, truncated, always NUL-terminated.
void CopyToField(char* field, size_t field_len, const std::string& text);
// The text of a fixed field that a peer filled (never reads past the field).
std::string FieldText(const char* field, size_t field_len);

}  // namespace ktls::control::shm
