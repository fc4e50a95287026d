#include "control/export/segment_reader.h"

#include <dirent.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <thread>

#include "control/export/segment_files.h"
#include "platform/next_libc.h"

namespace ktls::control::shm {
namespace {

// The words another process writes, read atomically even through a read-only mapping
// (an 8- or 4-byte aligned load is a plain load).
template <typename T>
T LoadShared(const T& word, std::memory_order order = std::memory_order_acquire) {
  return std::atomic_ref<T>(const_cast<T&>(word)).load(order);
}

// A mapping that unmaps itself.
class Mapping {
 public:
  Mapping(void* address, size_t size) : address_(address), size_(size) {}
  ~Mapping() { UnmapSegment(address_, size_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  void* get() const { return address_; }

 private:
  void* address_;
  size_t size_;
};

// A descriptor that closes itself.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) platform::libc::Close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The header fields written once, before the magic.
Status CheckHeader(const Snapshot& s, int pid) {
  const uint64_t magic = LoadShared(s.magic);
  if (magic == 0) return Status::Error(EAGAIN);  // being created
  if (magic != kSnapshotMagic || s.layout_version != kLayoutVersion || s.size != sizeof(Snapshot)) {
    return Status::Error(EPROTO);
  }
  // No such process, or the pid now names another one.
  if (s.pid != pid || ProcessStartTime(pid) != s.start_time) return Status::Error(ESRCH);
  return Status::Ok();
}

// Whether the segment of `pid` belongs to a process that is gone.
bool IsStale(int pid) {
  uint32_t owner = 0;
  void* address = OpenSegment(SnapshotName(pid), sizeof(Snapshot), /*writable=*/false, &owner);
  if (address == nullptr) {
    // A segment too short to be ours, of a process that no longer runs.
    return errno == EPROTO && ProcessStartTime(pid) == 0;
  }
  Mapping mapping(address, sizeof(Snapshot));
  const Status status = CheckHeader(*static_cast<const Snapshot*>(address), pid);
  if (status.error() == EAGAIN) return ProcessStartTime(pid) == 0;
  return status.error() == ESRCH;
}

void RemoveSegments(int pid) {
  shm_unlink(SnapshotName(pid).c_str());
  shm_unlink(ControlName(pid).c_str());
}

// Copies what the exporter published between two equal even sequence numbers.
Status CopySnapshot(const Snapshot& shared, Snapshot* copy) {
  constexpr int kAttempts = 200;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const uint64_t before = LoadShared(shared.sequence);
    if (before == 0 || (before & 1) != 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    std::memcpy(copy, &shared, offsetof(Snapshot, sockets));
    const size_t sockets = std::min<size_t>(copy->socket_count, kMaxSockets);
    std::memcpy(copy->sockets, shared.sockets, sockets * sizeof(ExportedSocket));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (LoadShared(shared.sequence, std::memory_order_relaxed) == before) return Status::Ok();
  }
  return Status::Error(EAGAIN);
}

}  // namespace

ProcessScan FindExportingProcesses(bool remove_stale) {
  ProcessScan scan;
  DIR* dir = opendir(kShmDirectory);
  if (dir == nullptr) return scan;
  while (const struct dirent* entry = readdir(dir)) {
    const std::string_view name = entry->d_name;
    constexpr std::string_view kPrefix = "ktls.";
    if (!name.starts_with(kPrefix) || name.size() == kPrefix.size()) continue;
    const std::string_view digits = name.substr(kPrefix.size());
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;  // "ktls.<pid>.ctl" and anything else
    }
    int pid = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
    if (error != std::errc() || end != digits.data() + digits.size() || pid <= 0) continue;
    if (IsStale(pid)) {
      if (remove_stale) {
        RemoveSegments(pid);
        scan.removed_pids.push_back(pid);
      }
      continue;
    }
    // Skip what this user cannot read (another user's 0600 segment).
    if (access((std::string(kShmDirectory) + "/" + std::string(name)).c_str(), R_OK) != 0) continue;
    scan.pids.push_back(pid);
  }
  closedir(dir);
  std::sort(scan.pids.begin(), scan.pids.end());
  std::sort(scan.removed_pids.begin(), scan.removed_pids.end());
  return scan;
}

Result<ProcessExport> ReadExport(int pid) {
  uint32_t owner = 0;
  void* address = OpenSegment(SnapshotName(pid), sizeof(Snapshot), /*writable=*/false, &owner);
  if (address == nullptr) return Status::Error(errno);
  Mapping mapping(address, sizeof(Snapshot));
  const auto& shared = *static_cast<const Snapshot*>(address);
  KTLS_RETURN_IF_ERROR(CheckHeader(shared, pid));
  // Another user could have made a segment under this pid's name before it started.
  if (shared.uid != owner) return Status::Error(EPROTO);

  auto copy = std::make_unique<Snapshot>();
  KTLS_RETURN_IF_ERROR(CopySnapshot(shared, copy.get()));
  ProcessExport out;
  out.pid = pid;
  out.uid = copy->uid;
  out.comm = FieldText(copy->comm, sizeof(copy->comm));
  out.updated_ns = copy->updated_ns;
  const size_t entries = std::min<size_t>(copy->entry_count, kMaxEntries);
  out.entries.assign(copy->entries, copy->entries + entries);
  for (ExportedEntry& entry : out.entries) entry.name[kNameLen - 1] = '\0';
  const size_t sockets = std::min<size_t>(copy->socket_count, kMaxSockets);
  out.sockets.assign(copy->sockets, copy->sockets + sockets);
  out.sockets_total = copy->sockets_total;
  return out;
}

Result<KnobWrite> RequestKnobWrite(int pid, std::string_view name, std::string_view value,
                                   std::chrono::milliseconds timeout) {
  if (name.size() >= kNameLen || value.size() >= kValueLen) return Status::Error(ENAMETOOLONG);
  // The process behind the name must be the one that made it.
  Result<ProcessExport> alive = ReadExport(pid);
  if (!alive.ok() && alive.error() != EAGAIN) return alive.status();

  Descriptor fd(
      OpenSegmentFile(ControlName(pid), sizeof(ControlChannel), /*writable=*/true, nullptr));
  if (fd.get() < 0) return Status::Error(errno);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // One client at a time; the kernel drops the lock of a client that dies.
  while (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) return Status::Error(errno);
    if (std::chrono::steady_clock::now() >= deadline) return Status::Error(ETIMEDOUT);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  void* address = MapSegment(fd.get(), sizeof(ControlChannel), /*writable=*/true);
  if (address == nullptr) return Status::Error(errno);
  Mapping mapping(address, sizeof(ControlChannel));
  auto& c = *static_cast<ControlChannel*>(address);
  if (LoadShared(c.magic) != kControlMagic || c.layout_version != kLayoutVersion) {
    return Status::Error(EPROTO);
  }
  std::atomic_ref<uint32_t> state(c.state);
  auto wait_while = [&](SlotState busy) {
    while (state.load(std::memory_order_acquire) == static_cast<uint32_t>(busy)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      FutexWait(&c.state, static_cast<uint32_t>(busy),
                static_cast<int>(std::min<int64_t>(left.count(), 100)));
    }
    return true;
  };

  // A client that died mid-request may have left the slot in use: we hold the lock, so
  // whatever is there is a leftover. Let a request being served finish, then reuse.
  uint32_t leftover = static_cast<uint32_t>(SlotState::kRequested);
  state.compare_exchange_strong(leftover, static_cast<uint32_t>(SlotState::kFree));
  if (!wait_while(SlotState::kServing)) return Status::Error(ETIMEDOUT);
  state.store(static_cast<uint32_t>(SlotState::kFree), std::memory_order_relaxed);

  c.client_pid = getpid();
  CopyToField(c.name, sizeof(c.name), std::string(name));
  CopyToField(c.value, sizeof(c.value), std::string(value));
  state.store(static_cast<uint32_t>(SlotState::kRequested), std::memory_order_release);
  std::atomic_ref<uint32_t>(c.doorbell).fetch_add(1, std::memory_order_release);
  FutexWake(&c.doorbell);

  wait_while(SlotState::kRequested);
  uint32_t posted = static_cast<uint32_t>(SlotState::kRequested);
  if (state.compare_exchange_strong(posted, static_cast<uint32_t>(SlotState::kFree))) {
    return Status::Error(ETIMEDOUT);  // never taken: withdrawn, nothing was set
  }
  // Taken: the answer comes within microseconds.
  const auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (state.load(std::memory_order_acquire) == static_cast<uint32_t>(SlotState::kServing)) {
    if (std::chrono::steady_clock::now() >= grace) return Status::Error(ETIMEDOUT);
    FutexWait(&c.state, static_cast<uint32_t>(SlotState::kServing), 100);
  }
  KnobWrite answer;
  answer.error = c.error;
  answer.old_value = FieldText(c.old_value, sizeof(c.old_value));
  answer.new_value = FieldText(c.new_value, sizeof(c.new_value));
  state.store(static_cast<uint32_t>(SlotState::kFree), std::memory_order_release);
  return answer;
}

const ExportedEntry* FindEntry(const ProcessExport& process, std::string_view name) {
  for (const ExportedEntry& entry : process.entries) {
    if (name == entry.name) return &entry;
  }
  return nullptr;
}

}  // namespace ktls::control::shm
