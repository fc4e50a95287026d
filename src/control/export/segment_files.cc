#include "control/export/segment_files.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sstream>

#include "platform/next_libc.h"

namespace ktls::control::shm {
namespace {

// Reads a small /proc file whole; empty on failure.
std::string ReadSmallFile(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "re");
  if (file == nullptr) return {};
  char buffer[1024];
  const size_t n = std::fread(buffer, 1, sizeof(buffer), file);
  (void)std::fclose(file);  // read-only
  return std::string(buffer, n);
}

uint64_t ClockNs(clockid_t clock) {
  struct timespec ts = {};
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

std::string SnapshotName(int pid) {
  return "/ktls." + std::to_string(pid);
}

std::string ControlName(int pid) {
  return SnapshotName(pid) + ".ctl";
}

std::string SegmentPath(const std::string& shm_name) {
  return kShmDirectory + shm_name;
}

void* CreateSegment(const std::string& shm_name, size_t size) {
  constexpr int kFlags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC;
  int fd = shm_open(shm_name.c_str(), kFlags, S_IRUSR | S_IWUSR);
  if (fd < 0 && errno == EEXIST) {
    // Our pid is ours alone now, so a segment with it is a dead process's leftover.
    // If it belongs to another user the sticky /dev/shm refuses the unlink and the
    // second attempt fails with EEXIST.
    shm_unlink(shm_name.c_str());
    fd = shm_open(shm_name.c_str(), kFlags, S_IRUSR | S_IWUSR);
  }
  if (fd < 0) return nullptr;
  // The umask may have removed bits; make the mode exactly 0600 either way.
  if (fchmod(fd, S_IRUSR | S_IWUSR) != 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int error = errno;
    platform::libc::Close(fd);
    shm_unlink(shm_name.c_str());
    errno = error;
    return nullptr;
  }
  void* address = MapSegment(fd, size, /*writable=*/true);
  const int error = errno;
  platform::libc::Close(fd);
  if (address == nullptr) {
    shm_unlink(shm_name.c_str());
    errno = error;
  }
  return address;
}

int OpenSegmentFile(const std::string& shm_name, size_t size, bool writable, uint32_t* owner_uid) {
  const int fd = shm_open(shm_name.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct stat st = {};
  int error = 0;
  if (fstat(fd, &st) != 0) {
    error = errno;
  } else if (!S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) < size) {
    error = EPROTO;
  }
  if (error != 0) {
    platform::libc::Close(fd);
    errno = error;
    return -1;
  }
  if (owner_uid != nullptr) *owner_uid = st.st_uid;
  return fd;
}

void* MapSegment(int fd, size_t size, bool writable) {
  void* address =
      mmap(nullptr, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
  return address == MAP_FAILED ? nullptr : address;
}

void* OpenSegment(const std::string& shm_name, size_t size, bool writable, uint32_t* owner_uid) {
  const int fd = OpenSegmentFile(shm_name, size, writable, owner_uid);
  if (fd < 0) return nullptr;
  void* address = MapSegment(fd, size, writable);
  const int error = errno;
  // The mapping keeps the segment; the descriptor is not needed any more.
  platform::libc::Close(fd);
  errno = error;
  return address;
}

void UnmapSegment(void* address, size_t size) {
  if (address != nullptr) munmap(address, size);
}

uint64_t ProcessStartTime(int pid) {
  const std::string stat = ReadSmallFile("/proc/" + std::to_string(pid) + "/stat");
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are
  // counted from the last ')'. The state is field 3, the start time field 22.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  for (int index = 3; index <= 22; ++index) {
    if (!(fields >> field)) return 0;
  }
  return std::strtoull(field.c_str(), nullptr, 10);
}

std::string ProcessName(int pid) {
  std::string comm = ReadSmallFile("/proc/" + std::to_string(pid) + "/comm");
  while (!comm.empty() && (comm.back() == '\n' || comm.back() == '\0')) comm.pop_back();
  return comm;
}

void FutexWait(uint32_t* word, uint32_t expected, int timeout_ms) {
  struct timespec timeout = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
  platform::libc::Syscall(SYS_futex, reinterpret_cast<long>(word), FUTEX_WAIT,
                          static_cast<long>(expected), reinterpret_cast<long>(&timeout), 0, 0);
}

void FutexWake(uint32_t* word) {
  platform::libc::Syscall(SYS_futex, reinterpret_cast<long>(word), FUTEX_WAKE, INT_MAX, 0, 0, 0);
}

uint64_t MonotonicNs() {
  return ClockNs(CLOCK_MONOTONIC);
}

uint64_t RealtimeNs() {
  return ClockNs(CLOCK_REALTIME);
}

void CopyToField(char* field, size_t field_len, const std::string& text) {
  // Zero-filled first, so the copied prefix is always terminated.
  std::memset(field, 0, field_len);
  text.copy(field, std::min(text.size(), field_len - 1));
}

std::string FieldText(const char* field, size_t field_len) {
  return std::string(field, strnlen(field, field_len));
}

}  // namespace ktls::control::shm
