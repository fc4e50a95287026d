#include "platform/nic_tls_features.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "platform/next_libc.h"

namespace ktls::platform {
namespace {

// A datagram socket for interface ioctls, closed on scope exit.
class IoctlSocket {
 public:
  IoctlSocket() : fd_(libc::Socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {}
  ~IoctlSocket() {
    if (fd_ >= 0) libc::Close(fd_);
  }
  IoctlSocket(const IoctlSocket&) = delete;
  IoctlSocket& operator=(const IoctlSocket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// SIOCETHTOOL with `data` as the command buffer; 0 or an errno. `result` (if given)
// gets the ioctl's non-negative return value (SFEATURES reports flags through it).
int Ethtool(int fd, const std::string& interface, void* data, int* result = nullptr) {
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, interface.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = static_cast<char*>(data);
  const int rc = ioctl(fd, SIOCETHTOOL, &ifr);
  if (rc < 0) return errno;
  if (result != nullptr) *result = rc;
  return 0;
}

// The bit numbers of our three features in this kernel's ETH_SS_FEATURES strings.
struct FeatureBits {
  std::optional<unsigned> tx;
  std::optional<unsigned> rx;
  std::optional<unsigned> record;
  unsigned count = 0;
};

int ReadFeatureBits(int fd, const std::string& interface, FeatureBits* bits) {
  // ethtool_sset_info is followed by one u32 per set asked for.
  uint32_t info_buffer[(sizeof(struct ethtool_sset_info) + sizeof(uint32_t)) / sizeof(uint32_t) +
                       1] = {};
  auto* info = reinterpret_cast<struct ethtool_sset_info*>(info_buffer);
  info->cmd = ETHTOOL_GSSET_INFO;
  info->sset_mask = uint64_t{1} << ETH_SS_FEATURES;
  if (const int error = Ethtool(fd, interface, info); error != 0) return error;
  if ((info->sset_mask & (uint64_t{1} << ETH_SS_FEATURES)) == 0) return EOPNOTSUPP;
  bits->count = info->data[0];

  std::vector<uint32_t> strings_buffer(
      (sizeof(struct ethtool_gstrings) + size_t{bits->count} * ETH_GSTRING_LEN) / sizeof(uint32_t) +
      1);
  auto* strings = reinterpret_cast<struct ethtool_gstrings*>(strings_buffer.data());
  strings->cmd = ETHTOOL_GSTRINGS;
  strings->string_set = ETH_SS_FEATURES;
  strings->len = bits->count;
  if (const int error = Ethtool(fd, interface, strings); error != 0) return error;
  for (unsigned i = 0; i < strings->len && i < bits->count; ++i) {
    const char* name = reinterpret_cast<const char*>(strings->data) + size_t{i} * ETH_GSTRING_LEN;
    const std::string feature(name, strnlen(name, ETH_GSTRING_LEN));
    if (feature == LinuxFeatureName(NicTlsFeature::kTx)) bits->tx = i;
    if (feature == LinuxFeatureName(NicTlsFeature::kRx)) bits->rx = i;
    if (feature == LinuxFeatureName(NicTlsFeature::kRecord)) bits->record = i;
  }
  return 0;
}

struct FeatureWords {
  std::vector<struct ethtool_get_features_block> blocks;
  uint32_t size = 0;  // the kernel's number of blocks, which SFEATURES must match
};

int ReadFeatureWords(int fd, const std::string& interface, unsigned count, FeatureWords* words) {
  const uint32_t blocks = (count + 31) / 32;
  std::vector<uint32_t> buffer(
      (sizeof(struct ethtool_gfeatures) + blocks * sizeof(struct ethtool_get_features_block)) /
          sizeof(uint32_t) +
      1);
  auto* features = reinterpret_cast<struct ethtool_gfeatures*>(buffer.data());
  features->cmd = ETHTOOL_GFEATURES;
  features->size = blocks;
  if (const int error = Ethtool(fd, interface, features); error != 0) return error;
  words->size = features->size;
  words->blocks.assign(features->features, features->features + std::min(blocks, features->size));
  return 0;
}

FeatureState StateOf(const FeatureWords& words, std::optional<unsigned> bit) {
  FeatureState state;
  if (!bit.has_value() || *bit / 32 >= words.blocks.size()) return state;
  const struct ethtool_get_features_block& block = words.blocks[*bit / 32];
  const uint32_t mask = uint32_t{1} << (*bit % 32);
  state.known = true;
  state.available = (block.available & mask) != 0 && (block.never_changed & mask) == 0;
  state.requested = (block.requested & mask) != 0;
  state.active = (block.active & mask) != 0;
  return state;
}

std::optional<unsigned> BitOf(const FeatureBits& bits, NicTlsFeature feature) {
  switch (feature) {
    case NicTlsFeature::kTx:
      return bits.tx;
    case NicTlsFeature::kRx:
      return bits.rx;
    case NicTlsFeature::kRecord:
      return bits.record;
  }
  return std::nullopt;
}

}  // namespace

const char* LinuxFeatureName(NicTlsFeature feature) {
  switch (feature) {
    case NicTlsFeature::kTx:
      return "tls-hw-tx-offload";
    case NicTlsFeature::kRx:
      return "tls-hw-rx-offload";
    case NicTlsFeature::kRecord:
      return "tls-hw-record";
  }
  return "";
}

const FeatureState& InterfaceTlsFeatures::Get(NicTlsFeature feature) const {
  switch (feature) {
    case NicTlsFeature::kTx:
      return tx;
    case NicTlsFeature::kRx:
      return rx;
    case NicTlsFeature::kRecord:
      break;
  }
  return record;
}

std::vector<std::string> InterfaceNames() {
  std::vector<std::string> names;
  struct if_nameindex* list = if_nameindex();
  if (list == nullptr) return names;
  for (struct if_nameindex* it = list; it->if_index != 0; ++it) names.push_back(it->if_name);
  if_freenameindex(list);
  return names;
}

Result<InterfaceTlsFeatures> QueryTlsFeatures(const std::string& interface) {
  if (interface.empty() || interface.size() >= IFNAMSIZ) return Status::Error(ENODEV);
  InterfaceTlsFeatures out;
  out.name = interface;
  out.index = if_nametoindex(interface.c_str());
  if (out.index == 0) return Status::Error(ENODEV);
  IoctlSocket socket;
  if (socket.fd() < 0) return Status::Error(errno);
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, interface.c_str(), IFNAMSIZ - 1);
  if (ioctl(socket.fd(), SIOCGIFFLAGS, &ifr) == 0) out.flags = static_cast<uint16_t>(ifr.ifr_flags);
  if (ioctl(socket.fd(), SIOCGIFMTU, &ifr) == 0) out.mtu = ifr.ifr_mtu;

  FeatureBits bits;
  if (const int error = ReadFeatureBits(socket.fd(), interface, &bits); error != 0) {
    return Status::Error(error);
  }
  FeatureWords words;
  if (const int error = ReadFeatureWords(socket.fd(), interface, bits.count, &words); error != 0) {
    return Status::Error(error);
  }
  out.tx = StateOf(words, bits.tx);
  out.rx = StateOf(words, bits.rx);
  out.record = StateOf(words, bits.record);
  return out;
}

Result<SetOutcome> SetTlsFeature(const std::string& interface, NicTlsFeature feature, bool on) {
  if (interface.empty() || interface.size() >= IFNAMSIZ || if_nametoindex(interface.c_str()) == 0) {
    return Status::Error(ENODEV);
  }
  IoctlSocket socket;
  if (socket.fd() < 0) return Status::Error(errno);
  FeatureBits bits;
  if (const int error = ReadFeatureBits(socket.fd(), interface, &bits); error != 0) {
    return Status::Error(error);
  }
  FeatureWords words;
  if (const int error = ReadFeatureWords(socket.fd(), interface, bits.count, &words); error != 0) {
    return Status::Error(error);
  }
  const std::optional<unsigned> bit = BitOf(bits, feature);
  // Refused before asking: the kernel would only answer ETHTOOL_F_UNSUPPORTED.
  if (!StateOf(words, bit).available) return Status::Error(EOPNOTSUPP);

  std::vector<uint32_t> buffer(
      (sizeof(struct ethtool_sfeatures) + words.size * sizeof(struct ethtool_set_features_block)) /
          sizeof(uint32_t) +
      1);
  auto* request = reinterpret_cast<struct ethtool_sfeatures*>(buffer.data());
  request->cmd = ETHTOOL_SFEATURES;
  request->size = words.size;
  const uint32_t mask = uint32_t{1} << (*bit % 32);
  request->features[*bit / 32].valid = mask;
  request->features[*bit / 32].requested = on ? mask : 0;
  int flags = 0;
  if (const int error = Ethtool(socket.fd(), interface, request, &flags); error != 0) {
    return Status::Error(error);
  }
  if ((flags & ETHTOOL_F_UNSUPPORTED) != 0) return Status::Error(EOPNOTSUPP);
  SetOutcome outcome;
  outcome.pending = (flags & ETHTOOL_F_WISH) != 0;
  return outcome;
}

}  // namespace ktls::platform
