// The reading side of the export (exporter.h), for the ktls tool: finds the processes
// that export, copies a consistent snapshot of one, and asks one to set a knob.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "control/export/segment_layout.h"

namespace ktls::control::shm {

struct ProcessExport {
  int pid = 0;
  uint32_t uid = 0;
  std::string comm;
  uint64_t updated_ns = 0;  // CLOCK_REALTIME of the snapshot
  std::vector<ExportedEntry> entries;
  std::vector<ExportedSocket> sockets;
  uint32_t sockets_total = 0;  // more than sockets.size() when the process has too many
};

struct ProcessScan {
  std::vector<int> pids;          // live exporting processes, ascending
  std::vector<int> removed_pids;  // dead ones whose segments were removed
};

// Lists /dev/shm/ktls.<pid> segments this user may read. Segments whose process is gone
// (no such pid, or a pid since reused by another process) are skipped, and removed when
// `remove_stale`.
ProcessScan FindExportingProcesses(bool remove_stale);

// A consistent copy of `pid`'s snapshot. Errors: ENOENT no segment, ESRCH the process
// that wrote it is gone, EACCES another user's, EPROTO a layout this tool does not
// know, EAGAIN not published yet or changing too fast to copy.
Result<ProcessExport> ReadExport(int pid);

struct KnobWrite {
  int error = 0;  // the process's answer: 0 or an errno (ENOENT, EPERM, EINVAL...)
  std::string old_value;
  std::string new_value;
};

// Asks `pid` to set `name` to `value`, as its own sysctlbyname would (run-time knobs
// only), and waits for the answer. Errors: those of opening the channel (ENOENT,
// EACCES, EPROTO), ENAMETOOLONG, ETIMEDOUT when the process did not answer (the
// write may still happen).
Result<KnobWrite> RequestKnobWrite(int pid, std::string_view name, std::string_view value,
                                   std::chrono::milliseconds timeout);

// The entry named `name` in `process`, or null.
const ExportedEntry* FindEntry(const ProcessExport& process, std::string_view name);

}  // namespace ktls::control::shm
