// The socket layer's part of the shared-memory export (control/export/exporter.h):
// each offloaded socket of the table as one fixed-size record for `ktls stat`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "control/export/segment_layout.h"

namespace ktls::socket {

// Fills `out` with the offloaded sockets of SocketTable::Get() (a connection that
// several descriptors share is listed once, under its lowest descriptor); returns how
// many it wrote and sets `*total` to how many there are.
size_t ListExportedSockets(std::span<control::shm::ExportedSocket> out, uint32_t* total);

}  // namespace ktls::socket
