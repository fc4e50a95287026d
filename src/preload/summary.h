// What the interposer did in this process, for `ktls run -v` and KTLS_STATS_FILE:
// sockets offloaded, records and bytes each way, errors. Never any key material.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "control/counter.h"
#include "socket/ktls_socket.h"
#include "socket/socket_stats.h"

namespace ktls::preload {

struct Summary {
  control::Counter ulp_requests;    // setsockopt(TCP_ULP, "tls") calls seen
  control::Counter emulated;        // sockets that took our ULP
  control::Counter kernel;          // sockets the kernel's own ULP took (auto mode)
  control::Counter tx_offloaded;    // TLS_TX installs we accepted
  control::Counter rx_offloaded;    // TLS_RX installs we accepted
  control::Counter refused;         // TLS_TX/TLS_RX refused (direction off, or an error)
  control::Counter bypass_refused;  // calls that would have bypassed us (io_uring...)
  socket::SocketStats closed;       // totals of connections already closed
};

Summary& GetSummary();

// Adds a closing connection's counters to the totals.
void FoldClosed(const socket::SocketStats& stats);

// At exit: prints to stderr (KTLS_PRELOAD_VERBOSE) and writes KTLS_STATS_FILE, if the
// process ever asked for the TLS ULP. `live` are the connections still open.
void ReportAtExit(const std::vector<std::shared_ptr<socket::KtlsSocket>>& live);

}  // namespace ktls::preload
