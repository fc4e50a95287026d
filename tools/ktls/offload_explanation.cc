#include "tools/ktls/offload_explanation.h"

#include <cstdlib>

#include "control/registry.h"

namespace ktls::tool {
namespace {

constexpr char kEnable[] = "kern.ipc.tls.enable";
constexpr char kRxEnable[] = "kern.ipc.tls.rx_enable";
constexpr char kCbcEnable[] = "kern.ipc.tls.cbc_enable";
constexpr char kIfnetPermitted[] = "kern.ipc.tls.ifnet.permitted";
constexpr char kExtPgs[] = "kern.ipc.mb_use_ext_pgs";

int64_t LocalValue(const char* name, int64_t fallback) {
  std::string text;
  if (!control::ReadAsText(name, &text)) return fallback;
  return std::strtoll(text.c_str(), nullptr, 10);
}

std::string Bit(bool on) {
  return on ? "1" : "0";
}

}  // namespace

KnobState StartupKnobState() {
  KnobState k;
  k.enable = LocalValue(kEnable, 1) != 0;
  k.rx_enable = LocalValue(kRxEnable, 1) != 0;
  k.cbc_enable = LocalValue(kCbcEnable, 1) != 0;
  k.ifnet_permitted = static_cast<uint32_t>(LocalValue(kIfnetPermitted, 0));
  k.mb_use_ext_pgs = static_cast<int32_t>(LocalValue(kExtPgs, 1));
  return k;
}

std::optional<KnobState> KnobStateOf(const control::shm::ProcessExport& process) {
  const auto* enable = control::shm::FindEntry(process, kEnable);
  const auto* rx_enable = control::shm::FindEntry(process, kRxEnable);
  const auto* cbc_enable = control::shm::FindEntry(process, kCbcEnable);
  const auto* permitted = control::shm::FindEntry(process, kIfnetPermitted);
  const auto* ext_pgs = control::shm::FindEntry(process, kExtPgs);
  if (!enable || !rx_enable || !cbc_enable || !permitted || !ext_pgs) return std::nullopt;
  KnobState k;
  k.enable = enable->value != 0;
  k.rx_enable = rx_enable->value != 0;
  k.cbc_enable = cbc_enable->value != 0;
  k.ifnet_permitted = static_cast<uint32_t>(permitted->value);
  k.mb_use_ext_pgs = static_cast<int32_t>(static_cast<int64_t>(ext_pgs->value));
  return k;
}

OffloadExplanation ExplainOffload(const KnobState& k, const platform::KernelTlsProbe& kernel) {
  OffloadExplanation e;
  if (!k.enable) {
    e.tx = {"off",
            "kern.ipc.tls.enable=0: TCP_TXTLS_ENABLE fails with ENOTSUP (Linux ABI: TCP_ULP "
            "\"tls\" fails with ENOENT)"};
  } else if (k.mb_use_ext_pgs == 0) {
    e.tx = {"off", "kern.ipc.mb_use_ext_pgs=0: TCP_TXTLS_ENABLE fails with ENXIO"};
  } else if (k.ifnet_permitted != 0 && kernel.ulp_attached) {
    e.tx = {"ifnet",
            "AES-GCM and ChaCha20-Poly1305 sessions (TLS 1.2, 1.3) go to the kernel's TLS "
            "(IFNET mode); AES-CBC and TLS 1.0/1.1 stay in software"};
  } else if (k.ifnet_permitted != 0) {
    e.tx = {"sw", "kern.ipc.tls.ifnet.permitted=1, but the kernel cannot take sessions (" +
                      kernel.explanation + "): software (SW mode)"};
  } else {
    e.tx = {"sw", std::string("software (SW mode); kern.ipc.tls.ifnet.permitted=0 keeps "
                              "sessions off the kernel's TLS") +
                      (kernel.ulp_attached ? " (this kernel has it: set 1 to use it)" : "")};
  }
  if (!k.enable) {
    e.rx = {"off", "kern.ipc.tls.enable=0: TCP_RXTLS_ENABLE fails with ENOTSUP"};
  } else if (!k.rx_enable) {
    e.rx = {"off", "kern.ipc.tls.rx_enable=0: TCP_RXTLS_ENABLE fails with ENOTSUP"};
  } else {
    e.rx = {"sw", "software (SW mode): received records are opened by this library"};
  }
  if (!k.cbc_enable) {
    e.cbc = {"refused", "kern.ipc.tls.cbc_enable=0: AES-CBC sessions fail with ENOTSUP"};
  } else {
    e.cbc = {"allowed", "AES-CBC suites (TLS 1.0-1.2) are accepted, in software"};
  }
  return e;
}

std::vector<std::pair<std::string, std::string>> DescribeKnobs(const KnobState& k) {
  return {
      {kEnable, Bit(k.enable) + (k.enable ? " (new sessions may be enabled)"
                                          : " (no new sessions: enabling fails)")},
      {kRxEnable,
       Bit(k.rx_enable) + (k.rx_enable ? " (receive offload allowed)" : " (no receive offload)")},
      {kCbcEnable,
       Bit(k.cbc_enable) + (k.cbc_enable ? " (AES-CBC suites allowed)" : " (AES-CBC refused)")},
      {kIfnetPermitted,
       std::to_string(k.ifnet_permitted) +
           (k.ifnet_permitted != 0 ? " (kernel TLS used when it can)" : " (software only)")},
      {kExtPgs, std::to_string(k.mb_use_ext_pgs) +
                    (k.mb_use_ext_pgs != 0 ? "" : " (transmit offload refused: ENXIO)")},
  };
}

std::string KnobSummary(const KnobState& k) {
  return "enable=" + Bit(k.enable) + " rx_enable=" + Bit(k.rx_enable) +
         " cbc_enable=" + Bit(k.cbc_enable) +
         " ifnet.permitted=" + std::to_string(k.ifnet_permitted) +
         " mb_use_ext_pgs=" + std::to_string(k.mb_use_ext_pgs);
}

}  // namespace ktls::tool
