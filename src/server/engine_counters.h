// What ktls itself counted (kern.ipc.tls.*, as ktls_sysctlbyname reads them): the proof that
// the records of a run were sealed and opened by our engine, not by OpenSSL.
#pragma once

#include <cstdint>

namespace ktls::server {

struct EngineCounters {
  uint64_t records_sealed = 0;  // sum of kern.ipc.tls.stats.ocf.*_encrypts
  uint64_t records_opened = 0;  // sum of kern.ipc.tls.stats.ocf.*_decrypts
  uint64_t sessions = 0;        // kern.ipc.tls.stats.offload_total
  uint64_t failed_crypto = 0;   // kern.ipc.tls.stats.failed_crypto
  uint64_t corrupted_records = 0;
};

EngineCounters ReadEngineCounters();

}  // namespace ktls::server
