// Publishes this process's kern.ipc.tls.* knobs and counters, and its offloaded
// sockets, in /dev/shm/ktls.<pid> for `ktls sysctl` and `ktls stat`, and applies knob
// writes the tool posts to /dev/shm/ktls.<pid>.ctl (segment_layout.h).
//
// Nothing is created until the process first offloads a socket or touches a knob
// (sysctlbyname); then one small thread refreshes the snapshot every 200 ms and
// when a socket is offloaded or closed (or a knob write is posted), but never more
// often than every kMinRefreshGapMs. The segments are removed at exit; the
// tool removes those of processes that died without exiting. KTLS_EXPORT=0 turns all
// of this off.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "control/export/segment_layout.h"

namespace ktls::control::shm {

// Fills `out` with offloaded sockets (at most out.size()) and returns how many it
// wrote; `*total` gets how many there are. Called on the exporter thread.
using SocketLister = size_t (*)(std::span<ExportedSocket> out, uint32_t* total);

// The socket layer registers how to list its sockets (the control layer below it
// cannot ask itself).
void SetSocketLister(SocketLister lister);

// Starts exporting if it has not started (and is not turned off). Cheap afterwards.
void EnsureExporting();

// A socket was offloaded or closed: refresh now. Starts exporting on the first one.
void NotifySocketsChanged();

// Never export from this process (the ktls tool itself, which only reads others).
void DisableExport();

// The snapshot's path while this process exports ("/dev/shm/ktls.<pid>"), else empty.
std::string ExportedSnapshotPath();

// How often the snapshot is refreshed when nothing asks for it sooner.
inline constexpr int kRefreshIntervalMs = 200;
// The least time between two refreshes, however often sockets come and go.
inline constexpr int kMinRefreshGapMs = 50;

}  // namespace ktls::control::shm
