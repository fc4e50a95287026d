// ktls ifconfig: each interface's TLS offload features as FreeBSD's ifconfig(8) names
// them (TXTLS4/TXTLS6, RXTLS4/RXTLS6, TOE), from the Linux ethtool features behind them,
// and `ktls ifconfig IFACE txtls|-txtls|rxtls|-rxtls|toe|-toe` to switch them where
// the driver allows. Kernel TLS uses them for sessions in IFNET mode.
#include <net/if.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/errno_name.h"
#include "platform/nic_tls_features.h"
#include "tools/ktls/commands.h"
#include "tools/ktls/json_writer.h"

namespace ktls::tool {
namespace {

using platform::FeatureState;
using platform::InterfaceTlsFeatures;
using platform::NicTlsFeature;

struct FeatureInfo {
  NicTlsFeature feature;
  const char* toggle;   // the ifconfig(8) word
  const char* freebsd;  // the capability names FreeBSD shows
};

constexpr FeatureInfo kFeatures[] = {
    {NicTlsFeature::kTx, "txtls", "TXTLS4,TXTLS6"},
    {NicTlsFeature::kRx, "rxtls", "RXTLS4,RXTLS6"},
    {NicTlsFeature::kRecord, "toe", "TOE4,TOE6"},
};

struct Flags {
  bool json = false;
  std::vector<std::string> words;  // [IFACE [txtls|-txtls ...]]
};

struct Toggle {
  const FeatureInfo* info;
  bool on;
  std::string word;
};

std::string FlagsText(unsigned int flags) {
  struct Name {
    unsigned int bit;
    const char* name;
  };
  constexpr Name kNames[] = {{IFF_UP, "UP"},
                             {IFF_BROADCAST, "BROADCAST"},
                             {IFF_LOOPBACK, "LOOPBACK"},
                             {IFF_POINTOPOINT, "POINTOPOINT"},
                             {IFF_RUNNING, "RUNNING"},
                             {IFF_NOARP, "NOARP"},
                             {IFF_PROMISC, "PROMISC"},
                             {IFF_MULTICAST, "MULTICAST"}};
  std::string text;
  for (const Name& name : kNames) {
    if ((flags & name.bit) == 0) continue;
    if (!text.empty()) text += ",";
    text += name.name;
  }
  return "<" + text + ">";
}

std::string StateText(const FeatureState& state) {
  if (!state.known) return "unknown to this kernel";
  std::string text = state.active ? "on" : "off";
  if (state.fixed()) text += " [fixed]";
  if (state.requested != state.active) {
    text += state.requested ? " (requested on)" : " (requested off)";
  }
  return text;
}

// FreeBSD's options= (on now) and capabilities= (possible here) lists.
std::string CapabilityList(const InterfaceTlsFeatures& f, bool active_only) {
  std::string text;
  for (const FeatureInfo& info : kFeatures) {
    const FeatureState& state = f.Get(info.feature);
    if (active_only ? !state.active : !(state.available || state.active)) continue;
    if (!text.empty()) text += ",";
    text += info.freebsd;
  }
  return "<" + text + ">";
}

void PrintInterface(const InterfaceTlsFeatures& f) {
  std::cout << f.name << ": flags=" << FlagsText(f.flags) << " mtu " << f.mtu << "\n";
  std::cout << "\toptions=" << CapabilityList(f, true) << "\n";
  std::cout << "\tcapabilities=" << CapabilityList(f, false) << "\n";
  for (const FeatureInfo& info : kFeatures) {
    std::cout << "\t" << platform::LinuxFeatureName(info.feature) << ": "
              << StateText(f.Get(info.feature)) << " (" << info.freebsd << "; " << info.toggle
              << ")\n";
  }
  std::cout << "\tTXTLS_RTLMT: no Linux equivalent\n";
}

void JsonInterface(JsonWriter& json, const InterfaceTlsFeatures& f) {
  json.Key("index").Integer(f.index);
  json.Key("flags").String(FlagsText(f.flags));
  json.Key("mtu").Integer(f.mtu);
  bool any = false;
  json.Key("features").BeginArray();
  for (const FeatureInfo& info : kFeatures) {
    const FeatureState& state = f.Get(info.feature);
    any = any || state.active || state.available;
    json.BeginObject();
    json.Key("linux").String(platform::LinuxFeatureName(info.feature));
    json.Key("freebsd").String(info.freebsd);
    json.Key("toggle").String(info.toggle);
    json.Key("known").Bool(state.known);
    json.Key("available").Bool(state.available);
    json.Key("fixed").Bool(state.fixed());
    json.Key("requested").Bool(state.requested);
    json.Key("active").Bool(state.active);
    json.EndObject();
  }
  json.EndArray();
  json.Key("options").String(CapabilityList(f, true));
  json.Key("capabilities").String(CapabilityList(f, false));
  json.Key("tls_offload").Bool(any);
}

std::string QueryErrorText(const std::string& interface, int error) {
  if (error == ENODEV) return interface + ": no such interface";
  return interface + ": cannot read ethtool features: " + std::strerror(error) + " (" +
         ErrnoName(error) + ")";
}

std::string SetErrorText(const std::string& interface, const Toggle& toggle, int error) {
  const std::string what = interface + ": " + toggle.word + " (" +
                           platform::LinuxFeatureName(toggle.info->feature) + ")";
  switch (error) {
    case EOPNOTSUPP:
      return what + ": not supported: the driver cannot change this feature here ([fixed]) " +
             "(EOPNOTSUPP)";
    case EPERM:
      return what + ": permission denied: changing features needs CAP_NET_ADMIN (EPERM)";
    case ENODEV:
      return interface + ": no such interface";
    default:
      return what + ": " + std::strerror(error) + " (" + ErrnoName(error) + ")";
  }
}

std::optional<Toggle> ParseToggle(const std::string& word) {
  const bool off = word.starts_with("-");
  const std::string name = off ? word.substr(1) : word;
  for (const FeatureInfo& info : kFeatures) {
    if (name == info.toggle) return Toggle{&info, !off, word};
  }
  return std::nullopt;
}

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "ktls ifconfig: " << message << "\n";
  throw CLI::RuntimeError(1);
}

void Show(const std::vector<std::string>& interfaces, bool json_output) {
  std::vector<std::pair<std::string, Result<InterfaceTlsFeatures>>> results;
  results.reserve(interfaces.size());
  for (const std::string& name : interfaces) {
    results.emplace_back(name, platform::QueryTlsFeatures(name));
  }
  bool failed = false;
  if (json_output) {
    JsonWriter json(std::cout);
    json.BeginObject();
    json.Key("interfaces").BeginArray();
    for (const auto& [name, result] : results) {
      json.BeginObject();
      json.Key("name").String(name);
      if (result.ok()) {
        JsonInterface(json, result.value());
      } else {
        failed = true;
        json.Key("error").String(ErrnoName(result.error()));
        json.Key("message").String(QueryErrorText(name, result.error()));
      }
      json.EndObject();
    }
    json.EndArray();
    json.EndObject();
  } else {
    for (const auto& [name, result] : results) {
      if (result.ok()) {
        PrintInterface(result.value());
      } else {
        failed = true;
        std::cerr << "ktls ifconfig: " << QueryErrorText(name, result.error()) << "\n";
      }
    }
  }
  // One interface asked for by name that cannot be read is an error; in a listing of
  // all, a virtual interface without ethtool support is not.
  if (failed && interfaces.size() == 1) throw CLI::RuntimeError(1);
}

void Apply(const std::string& interface, const std::vector<Toggle>& toggles, bool json_output) {
  std::vector<std::string> errors;
  std::vector<std::string> notes;
  for (const Toggle& toggle : toggles) {
    Result<platform::SetOutcome> result =
        platform::SetTlsFeature(interface, toggle.info->feature, toggle.on);
    if (!result.ok()) {
      errors.push_back(SetErrorText(interface, toggle, result.error()));
    } else if (result->pending) {
      notes.push_back(interface + ": " + toggle.word + ": requested; the driver has not " +
                      "switched it yet (it may depend on another feature)");
    }
  }
  for (const std::string& error : errors) std::cerr << "ktls ifconfig: " << error << "\n";
  for (const std::string& note : notes) std::cerr << "ktls ifconfig: " << note << "\n";
  if (json_output) {
    JsonWriter json(std::cout);
    json.BeginObject();
    json.Key("interface").String(interface);
    json.Key("ok").Bool(errors.empty());
    json.Key("errors").BeginArray();
    for (const std::string& error : errors) json.String(error);
    json.EndArray();
    json.EndObject();
  } else if (errors.empty()) {
    Show({interface}, false);
  }
  if (!errors.empty()) throw CLI::RuntimeError(1);
}

void Run(const Flags& flags, const std::vector<std::string>& extra) {
  std::vector<std::string> words = flags.words;
  // "-txtls" reaches us as an unknown option.
  for (const std::string& word : extra) words.push_back(word);
  if (words.empty()) {
    Show(platform::InterfaceNames(), flags.json);
    return;
  }
  const std::string interface = words.front();
  if (interface.starts_with("-")) Fail("unknown option '" + interface + "'");
  std::vector<Toggle> toggles;
  for (size_t i = 1; i < words.size(); ++i) {
    std::optional<Toggle> toggle = ParseToggle(words[i]);
    if (!toggle) {
      Fail("unknown parameter '" + words[i] +
           "' (expected txtls, -txtls, rxtls, -rxtls, toe, -toe)");
    }
    toggles.push_back(*toggle);
  }
  if (toggles.empty()) {
    Show({interface}, flags.json);
  } else {
    Apply(interface, toggles, flags.json);
  }
}

}  // namespace

void RegisterIfconfigCommand(CLI::App& app) {
  auto flags = std::make_shared<Flags>();
  CLI::App* ifconfig = app.add_subcommand(
      "ifconfig", "Show or switch interfaces' TLS offload (FreeBSD TXTLS4/6, RXTLS4/6, TOE)");
  ifconfig->add_flag("--json", flags->json, "Print one JSON object instead of text");
  ifconfig->add_option("words", flags->words,
                       "IFACE, then txtls|-txtls, rxtls|-rxtls or toe|-toe to switch features");
  ifconfig->allow_extras();
  ifconfig->footer(
      "Features map to Linux ethtool names: txtls = tls-hw-tx-offload, rxtls = "
      "tls-hw-rx-offload, toe = tls-hw-record. Switching needs CAP_NET_ADMIN.");
  ifconfig->callback([flags, ifconfig] { Run(*flags, ifconfig->remaining()); });
}

}  // namespace ktls::tool
