// "Is offload on, and if not, why?" per knob: what TCP_TXTLS_ENABLE and
// TCP_RXTLS_ENABLE would do under a given set of kern.ipc.tls.* values on this host,
// for `ktls probe`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "control/export/segment_reader.h"
#include "platform/kernel_tls_probe.h"

namespace ktls::tool {

// The knobs that decide whether and how a session is offloaded.
struct KnobState {
  bool enable = true;
  bool rx_enable = true;
  bool cbc_enable = true;
  uint32_t ifnet_permitted = 0;
  int32_t mb_use_ext_pgs = 1;
  bool operator==(const KnobState&) const = default;
};

// This process's values: the start-up configuration (KTLS_SYSCTL, KTLS_CONFIG,
// /etc/ktls.conf) that a new process would start with too.
KnobState StartupKnobState();
// A live process's values; nullopt if it does not export them all.
std::optional<KnobState> KnobStateOf(const control::shm::ProcessExport& process);

struct Verdict {
  std::string state;   // "sw", "ifnet", "off" (TX, RX) or "allowed", "refused" (CBC)
  std::string reason;  // one line for people
};

struct OffloadExplanation {
  Verdict tx;
  Verdict rx;
  Verdict cbc;
};

OffloadExplanation ExplainOffload(const KnobState& knobs, const platform::KernelTlsProbe& kernel);

// "kern.ipc.tls.enable" -> "1 (new sessions may be enabled)", one per knob above.
std::vector<std::pair<std::string, std::string>> DescribeKnobs(const KnobState& knobs);

// "enable=1 rx_enable=1 cbc_enable=0 ifnet.permitted=0 mb_use_ext_pgs=1".
std::string KnobSummary(const KnobState& knobs);

}  // namespace ktls::tool
