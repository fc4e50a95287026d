#include "control/export/exporter.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/startup_environment.h"
#include "control/export/segment_files.h"
#include "control/knobs.h"
#include "control/registry.h"

namespace ktls::control::shm {
namespace {

struct Exporter {
  // Serialises starting; also held across fork(2) so a child never copies a half-made
  // start.
  std::mutex start_mu;
  std::atomic<bool> started{false};
  std::atomic<bool> disabled{false};
  bool process_hooks_installed = false;  // with start_mu
  std::atomic<int> owner_pid{0};
  std::atomic<SocketLister> lister{nullptr};

  // Held for one refresh (or one request), during which the exporter takes the socket
  // table's lock and sockets' locks; fork(2) waits for it, so a child never inherits
  // those locks held by a thread it does not have.
  std::mutex refresh_mu;
  Snapshot* snapshot = nullptr;               // set before `started`, then fixed
  ControlChannel* control = nullptr;          // likewise
  std::vector<uint64_t> values;               // scratch, with refresh_mu
  std::unique_ptr<ExportedSocket[]> sockets;  // scratch, with refresh_mu
};

// Leaked: the thread runs until the process ends, past static destruction.
Exporter& Get() {
  static auto* exporter = new Exporter;
  return *exporter;
}

template <typename T>
std::atomic_ref<T> Shared(T& word) {
  return std::atomic_ref<T>(word);
}

// Applies a posted knob write, as a local sysctlbyname would (boot=false: run-time
// knobs only; tunables and counters answer EPERM). Returns whether an answer is due:
// it is published after the next refresh, so the client then reads the new value.
bool ServeRequest(ControlChannel& c) {
  uint32_t expected = static_cast<uint32_t>(SlotState::kRequested);
  // Once taken, the client can no longer withdraw the request under us.
  if (!Shared(c.state).compare_exchange_strong(expected, static_cast<uint32_t>(SlotState::kServing),
                                               std::memory_order_acq_rel)) {
    return false;
  }
  const std::string name = FieldText(c.name, sizeof(c.name));
  const std::string value = FieldText(c.value, sizeof(c.value));
  std::string old_value;
  std::string new_value;
  ReadAsText(name, &old_value);
  const int error = WriteFromText(name, value, /*boot=*/false);
  ReadAsText(name, &new_value);
  c.error = error;
  CopyToField(c.old_value, sizeof(c.old_value), old_value);
  CopyToField(c.new_value, sizeof(c.new_value), new_value);
  return true;
}

void Answer(ControlChannel& c) {
  Shared(c.state).store(static_cast<uint32_t>(SlotState::kDone), std::memory_order_release);
  FutexWake(&c.state);
}

void Refresh(Exporter& e) {
  // Gather first, so the window in which readers must retry stays short.
  const std::vector<Entry>& entries = AllEntries();
  const size_t entry_count = std::min(entries.size(), kMaxEntries);
  e.values.resize(entries.size());
  ReadAllValues(e.values);
  uint32_t total = 0;
  size_t socket_count = 0;
  if (SocketLister lister = e.lister.load(std::memory_order_acquire)) {
    socket_count = lister(std::span<ExportedSocket>(e.sockets.get(), kMaxSockets), &total);
  }

  Snapshot& s = *e.snapshot;
  std::atomic_ref<uint64_t> sequence = Shared(s.sequence);
  const uint64_t start = sequence.load(std::memory_order_relaxed);
  sequence.store(start + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (size_t i = 0; i < entry_count; ++i) {
    ExportedEntry& out = s.entries[i];
    CopyToField(out.name, sizeof(out.name), entries[i].name);
    out.type = static_cast<uint8_t>(entries[i].type);
    out.access = static_cast<uint8_t>(entries[i].access);
    out.value = e.values[i];
  }
  std::memcpy(s.sockets, e.sockets.get(), socket_count * sizeof(ExportedSocket));
  s.entry_count = static_cast<uint32_t>(entry_count);
  s.socket_count = static_cast<uint32_t>(socket_count);
  s.sockets_total = total;
  s.updated_ns = RealtimeNs();
  ++s.refreshes;
  sequence.store(start + 2, std::memory_order_release);
}

void Run(Exporter* e) {
  GetKnobs();  // the start-up configuration, before the first values go out
  for (;;) {
    uint32_t doorbell;
    {
      std::lock_guard lock(e->refresh_mu);
      doorbell = Shared(e->control->doorbell).load(std::memory_order_acquire);
      const bool answer = ServeRequest(*e->control);
      Refresh(*e);
      if (answer) Answer(*e->control);
    }
    // Every offloaded or closed socket rings the doorbell, and one refresh lists every
    // socket (two system calls each): refreshing once per ring made a burst of N new
    // connections cost O(N^2), a third of a CPU while 1000 clients connected to `ktls
    // serve`. Refreshes are therefore kMinRefreshGapMs apart at least; a ring in the
    // gap is not lost, the doorbell wait then returns at once.
    uint32_t gap = 0;
    FutexWait(&gap, 0, kMinRefreshGapMs);
    // A ring after the load above makes this return at once.
    FutexWait(&e->control->doorbell, doorbell, kRefreshIntervalMs - kMinRefreshGapMs);
  }
}

void RemoveSegments() {
  Exporter& e = Get();
  // Only the process that created them; a forked child runs this too.
  const int pid = e.owner_pid.load();
  if (pid == 0 || pid != getpid()) return;
  shm_unlink(SnapshotName(pid).c_str());
  shm_unlink(ControlName(pid).c_str());
}

void PrepareFork() {
  Exporter& e = Get();
  e.start_mu.lock();
  e.refresh_mu.lock();
}

void ParentAfterFork() {
  Exporter& e = Get();
  e.refresh_mu.unlock();
  e.start_mu.unlock();
}

void ChildAfterFork() {
  Exporter& e = Get();
  // The parent's segments stay the parent's: the child exports its own, on its first
  // offload or knob access, from a thread of its own.
  if (e.started.load()) {
    UnmapSegment(e.snapshot, sizeof(Snapshot));
    UnmapSegment(e.control, sizeof(ControlChannel));
    e.snapshot = nullptr;
    e.control = nullptr;
    e.owner_pid.store(0);
    e.started.store(false);
  }
  e.refresh_mu.unlock();
  e.start_mu.unlock();
}

bool TurnedOffByEnvironment() {
  const char* value = LibraryEnv(LibraryVariable::kExport);
  return value != nullptr && std::strcmp(value, "0") == 0;
}

// With start_mu held. Returns false when the segments cannot be made.
bool Start(Exporter& e) {
  if (!e.process_hooks_installed) {
    pthread_atfork(&PrepareFork, &ParentAfterFork, &ChildAfterFork);
    std::atexit(&RemoveSegments);
    e.process_hooks_installed = true;
  }
  const int pid = getpid();
  auto* control =
      static_cast<ControlChannel*>(CreateSegment(ControlName(pid), sizeof(ControlChannel)));
  if (control == nullptr) return false;
  auto* snapshot = static_cast<Snapshot*>(CreateSegment(SnapshotName(pid), sizeof(Snapshot)));
  if (snapshot == nullptr) {
    UnmapSegment(control, sizeof(ControlChannel));
    shm_unlink(ControlName(pid).c_str());
    return false;
  }
  control->layout_version = kLayoutVersion;
  Shared(control->magic).store(kControlMagic, std::memory_order_release);

  snapshot->layout_version = kLayoutVersion;
  snapshot->size = sizeof(Snapshot);
  snapshot->pid = pid;
  snapshot->uid = geteuid();
  snapshot->start_time = ProcessStartTime(pid);
  CopyToField(snapshot->comm, sizeof(snapshot->comm), ProcessName(pid));
  // The sequence stays 0 until the first refresh publishes 2; readers wait for it.
  Shared(snapshot->magic).store(kSnapshotMagic, std::memory_order_release);

  {
    std::lock_guard lock(e.refresh_mu);
    e.snapshot = snapshot;
    e.control = control;
    // Not zeroed: pages are touched only as sockets are listed.
    if (!e.sockets) e.sockets = std::make_unique_for_overwrite<ExportedSocket[]>(kMaxSockets);
  }
  e.owner_pid.store(pid);
  // The application's signals are for its own threads.
  sigset_t all;
  sigset_t saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  std::thread(&Run, &e).detach();
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  return true;
}

}  // namespace

void SetSocketLister(SocketLister lister) {
  Get().lister.store(lister, std::memory_order_release);
}

void EnsureExporting() {
  Exporter& e = Get();
  if (e.started.load(std::memory_order_acquire) || e.disabled.load(std::memory_order_relaxed)) {
    return;
  }
  std::lock_guard lock(e.start_mu);
  if (e.started.load() || e.disabled.load()) return;
  // Either way this is decided once: a failure is not retried on every knob access.
  if (TurnedOffByEnvironment() || !Start(e)) {
    e.disabled.store(true);
    return;
  }
  e.started.store(true, std::memory_order_release);
}

void NotifySocketsChanged() {
  Exporter& e = Get();
  if (!e.started.load(std::memory_order_acquire)) {
    EnsureExporting();  // its first refresh comes at once
    return;
  }
  Shared(e.control->doorbell).fetch_add(1, std::memory_order_release);
  FutexWake(&e.control->doorbell);
}

void DisableExport() {
  Get().disabled.store(true);
}

std::string ExportedSnapshotPath() {
  const int pid = Get().owner_pid.load();
  return pid == 0 ? std::string() : SegmentPath(SnapshotName(pid));
}

}  // namespace ktls::control::shm
