// A plain copy of what an offloaded socket is doing, for operators (`ktls stat`): the
// modes, suite and version of each direction and the socket's counters. Never keys,
// sequence numbers or data.
#pragma once

#include <cstdint>

#include "crypto/suite.h"

namespace ktls::socket {

struct DirectionDescription {
  bool enabled = false;
  int mode = 0;                              // TCP_TLS_MODE_*
  const crypto::SuiteInfo* suite = nullptr;  // null when not enabled
  crypto::TlsVersion version = crypto::TlsVersion::kTls13;
};

struct SocketDescription {
  int fd = -1;  // the descriptor the socket layer uses for this connection
  int abi = 0;  // socket::Abi: 0 none, 1 FreeBSD, 2 Linux
  DirectionDescription tx;
  DirectionDescription rx;
  uint64_t tx_pending_bytes = 0;  // sealed ciphertext the kernel has not taken yet
  // SocketStats, read once each.
  uint64_t tx_records = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_wire_bytes = 0;
  uint64_t tx_errors = 0;
  uint64_t rx_records = 0;
  uint64_t rx_bytes = 0;
  uint64_t rx_wire_bytes = 0;
  uint64_t rx_bad_header = 0;
  uint64_t rx_bad_length = 0;
  uint64_t rx_bad_record = 0;
};

}  // namespace ktls::socket
