// A network interface's TLS offload features, through the ethtool ioctl (SIOCETHTOOL:
// ETHTOOL_GFEATURES / ETHTOOL_SFEATURES, the feature names from ETH_SS_FEATURES). These
// are what FreeBSD's ifconfig(8) calls TXTLS4/TXTLS6 (tls-hw-tx-offload), RXTLS4/RXTLS6
// (tls-hw-rx-offload) and TOE TLS (tls-hw-record); TXTLS_RTLMT has no Linux feature.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace ktls::platform {

enum class NicTlsFeature { kTx, kRx, kRecord };

// The ethtool name: "tls-hw-tx-offload", "tls-hw-rx-offload", "tls-hw-record".
const char* LinuxFeatureName(NicTlsFeature feature);

struct FeatureState {
  bool known = false;      // this kernel has the feature at all
  bool available = false;  // the driver lets it be changed (hw_features)
  bool requested = false;  // asked for (wanted_features)
  bool active = false;     // on now
  // ethtool -k's "[fixed]": cannot be changed on this interface.
  bool fixed() const { return !available; }
};

struct InterfaceTlsFeatures {
  std::string name;
  unsigned int index = 0;
  unsigned int flags = 0;  // IFF_*
  int mtu = 0;
  FeatureState tx;
  FeatureState rx;
  FeatureState record;
  const FeatureState& Get(NicTlsFeature feature) const;
};

// Every interface, in index order.
std::vector<std::string> InterfaceNames();

// ENODEV: no such interface; otherwise the ioctl's errno.
Result<InterfaceTlsFeatures> QueryTlsFeatures(const std::string& interface);

struct SetOutcome {
  // The driver took the request but the feature is not (yet) in that state, e.g.
  // because it depends on another feature (ETHTOOL_F_WISH).
  bool pending = false;
};

// Turns a feature on or off. EOPNOTSUPP when this kernel lacks the feature or the
// interface cannot change it (fixed: lo, veth, most drivers), EPERM without
// CAP_NET_ADMIN, ENODEV for an unknown interface, or the ioctl's errno.
Result<SetOutcome> SetTlsFeature(const std::string& interface, NicTlsFeature feature, bool on);

}  // namespace ktls::platform
