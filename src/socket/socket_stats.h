// Per-socket counters, readable while the socket lives (never any key material).
#pragma once

#include "control/counter.h"

namespace ktls::socket {

struct SocketStats {
  control::Counter tx_records;
  control::Counter tx_bytes;       // plaintext accepted into records
  control::Counter tx_wire_bytes;  // ciphertext handed to the kernel
  control::Counter rx_records;
  control::Counter rx_bytes;       // plaintext delivered in records
  control::Counter rx_wire_bytes;  // ciphertext read from the kernel
  control::Counter rx_bad_header;  // EINVAL
  control::Counter rx_bad_length;  // EMSGSIZE
  control::Counter rx_bad_record;  // EBADMSG
  control::Counter tx_errors;      // kernel send errors
};

}  // namespace ktls::socket
