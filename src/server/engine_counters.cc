#include "server/engine_counters.h"

#include <string>

#include "control/registry.h"

namespace ktls::server {
namespace {

uint64_t Read(const std::string& name) {
  uint64_t value = 0;
  size_t len = sizeof(value);
  if (control::SysctlByName(name.c_str(), &value, &len, nullptr, 0) != 0 || len != sizeof(value)) {
    return 0;
  }
  return value;
}

}  // namespace

EngineCounters ReadEngineCounters() {
  const std::string ocf = "kern.ipc.tls.stats.ocf.";
  EngineCounters counters;
  for (const char* suite :
       {"tls10_cbc", "tls11_cbc", "tls12_gcm", "tls12_chacha20", "tls13_gcm", "tls13_chacha20"}) {
    counters.records_sealed += Read(ocf + suite + "_encrypts");
    counters.records_opened += Read(ocf + suite + "_decrypts");
  }
  counters.sessions = Read("kern.ipc.tls.stats.offload_total");
  counters.failed_crypto = Read("kern.ipc.tls.stats.failed_crypto");
  counters.corrupted_records = Read("kern.ipc.tls.stats.corrupted_records");
  return counters;
}

}  // namespace ktls::server
