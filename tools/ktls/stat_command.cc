// ktls stat: the offloaded sockets of the processes using ktls, one line each like
// ss(8): descriptor, addresses, mode and suite of each direction, records and bytes
// each way, errors. With --linux: the /proc/net/tls_stat counters, ours (sockets driven
// through the Linux kTLS ABI) next to the kernel's.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "control/export/exporter.h"
#include "crypto/suite.h"
#include "tools/ktls/commands.h"
#include "tools/ktls/json_writer.h"
#include "tools/ktls/process_exports.h"
#include "tools/ktls/text_table.h"

namespace ktls::tool {
namespace {

using control::shm::ExportedSocket;
using control::shm::ProcessExport;

constexpr char kTlsStatPath[] = "/proc/net/tls_stat";
constexpr char kLinuxPrefix[] = "kern.ipc.tls.linux.";

// /proc/net/tls_stat's names in the kernel's file order (mainline).
constexpr const char* kTlsStatNames[] = {
    "TlsCurrTxSw",
    "TlsCurrRxSw",
    "TlsCurrTxDevice",
    "TlsCurrRxDevice",
    "TlsTxSw",
    "TlsRxSw",
    "TlsTxDevice",
    "TlsRxDevice",
    "TlsDecryptError",
    "TlsRxDeviceResync",
    "TlsDecryptRetry",
    "TlsRxNoPadViolation",
    "TlsRxRekeyOk",
    "TlsRxRekeyError",
    "TlsTxRekeyOk",
    "TlsTxRekeyError",
    "TlsRxRekeyReceived",
};

struct Flags {
  std::optional<int> pid;
  bool linux_counters = false;
  bool json = false;
  std::string tls_stat_path = kTlsStatPath;
};

std::string ModeName(uint8_t mode) {
  switch (mode) {
    case 0:
      return "-";
    case 1:
      return "sw";
    case 2:
      return "ifnet";
    case 3:
      return "toe";
    default:
      return std::to_string(mode);
  }
}

std::string AbiName(uint8_t abi) {
  switch (abi) {
    case 1:
      return "freebsd";
    case 2:
      return "linux";
    default:
      return "-";
  }
}

std::string VersionText(uint16_t version) {
  if (version == 0) return "";
  return std::string(crypto::VersionName(static_cast<crypto::TlsVersion>(version)));
}

// One value for the two directions: "AES-128-GCM", or "A/B" when they differ.
std::string Joined(const std::string& tx, const std::string& rx) {
  if (tx.empty()) return rx.empty() ? "-" : rx;
  if (rx.empty() || rx == tx) return tx;
  return tx + "/" + rx;
}

std::string ErrorsText(const ExportedSocket& s) {
  std::string text;
  auto add = [&text](const char* name, uint64_t n) {
    if (n == 0) return;
    if (!text.empty()) text += ",";
    text += std::string(name) + "=" + std::to_string(n);
  };
  add("bad_header", s.rx_bad_header);
  add("bad_length", s.rx_bad_length);
  add("bad_record", s.rx_bad_record);
  add("tx", s.tx_errors);
  return text.empty() ? "0" : text;
}

void PrintSockets(const LiveProcesses& live) {
  TextTable table({{"PID", TextTable::Align::kRight},
                   {"COMMAND"},
                   {"FD", TextTable::Align::kRight},
                   {"ABI"},
                   {"LOCAL"},
                   {"PEER"},
                   {"TX"},
                   {"RX"},
                   {"SUITE"},
                   {"VERSION"},
                   {"TX-RECORDS", TextTable::Align::kRight},
                   {"TX-BYTES", TextTable::Align::kRight},
                   {"RX-RECORDS", TextTable::Align::kRight},
                   {"RX-BYTES", TextTable::Align::kRight},
                   {"ERRORS"}});
  for (const ProcessExport& process : live.exports) {
    for (const ExportedSocket& s : process.sockets) {
      table.AddRow({std::to_string(process.pid), process.comm, std::to_string(s.fd), AbiName(s.abi),
                    s.local[0] != '\0' ? s.local : "-", s.peer[0] != '\0' ? s.peer : "-",
                    ModeName(s.tx_mode), ModeName(s.rx_mode), Joined(s.tx_suite, s.rx_suite),
                    Joined(VersionText(s.tx_version), VersionText(s.rx_version)),
                    std::to_string(s.tx_records), std::to_string(s.tx_bytes),
                    std::to_string(s.rx_records), std::to_string(s.rx_bytes), ErrorsText(s)});
    }
  }
  table.Print(std::cout);
  for (const ProcessExport& process : live.exports) {
    if (process.sockets_total > process.sockets.size()) {
      std::cerr << "ktls stat: pid " << process.pid << ": " << process.sockets.size() << " of "
                << process.sockets_total << " offloaded sockets shown\n";
    }
  }
}

void JsonDirection(JsonWriter& json, uint8_t mode, const char* suite, uint16_t version) {
  json.Key("mode").String(mode == 0 ? "none" : ModeName(mode));
  json.Key("suite");
  if (mode == 0) {
    json.Null();
  } else {
    json.String(suite);
  }
  json.Key("version");
  if (mode == 0) {
    json.Null();
  } else {
    json.String(VersionText(version));
  }
}

void PrintSocketsJson(const LiveProcesses& live) {
  JsonWriter json(std::cout);
  json.BeginObject();
  json.Key("processes").BeginArray();
  for (const ProcessExport& process : live.exports) {
    json.BeginObject();
    json.Key("pid").Integer(process.pid);
    json.Key("comm").String(process.comm);
    json.Key("sockets_total").Integer(process.sockets_total);
    json.Key("sockets").BeginArray();
    for (const ExportedSocket& s : process.sockets) {
      json.BeginObject();
      json.Key("fd").Integer(s.fd);
      json.Key("abi").String(AbiName(s.abi));
      json.Key("local").String(s.local);
      json.Key("peer").String(s.peer);
      json.Key("tx").BeginObject();
      JsonDirection(json, s.tx_mode, s.tx_suite, s.tx_version);
      json.Key("records").Integer(static_cast<int64_t>(s.tx_records));
      json.Key("bytes").Integer(static_cast<int64_t>(s.tx_bytes));
      json.Key("wire_bytes").Integer(static_cast<int64_t>(s.tx_wire_bytes));
      json.Key("pending_bytes").Integer(static_cast<int64_t>(s.tx_pending_bytes));
      json.Key("errors").Integer(static_cast<int64_t>(s.tx_errors));
      json.EndObject();
      json.Key("rx").BeginObject();
      JsonDirection(json, s.rx_mode, s.rx_suite, s.rx_version);
      json.Key("records").Integer(static_cast<int64_t>(s.rx_records));
      json.Key("bytes").Integer(static_cast<int64_t>(s.rx_bytes));
      json.Key("wire_bytes").Integer(static_cast<int64_t>(s.rx_wire_bytes));
      json.Key("errors").BeginObject();
      json.Key("bad_header").Integer(static_cast<int64_t>(s.rx_bad_header));
      json.Key("bad_length").Integer(static_cast<int64_t>(s.rx_bad_length));
      json.Key("bad_record").Integer(static_cast<int64_t>(s.rx_bad_record));
      json.EndObject();
      json.EndObject();
      json.EndObject();
    }
    json.EndArray();
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
}

// The kernel's counters, in file order; nullopt when the file is absent.
std::optional<std::vector<std::pair<std::string, uint64_t>>> ReadTlsStat(const std::string& path) {
  std::ifstream file(path);
  if (!file) return std::nullopt;
  std::vector<std::pair<std::string, uint64_t>> counters;
  std::string line;
  while (std::getline(file, line)) {
    std::istringstream fields(line);
    std::string name;
    uint64_t value = 0;
    if (fields >> name >> value) counters.emplace_back(name, value);
  }
  return counters;
}

struct LinuxCounters {
  std::vector<std::string> names;        // display order
  std::map<std::string, uint64_t> ours;  // summed over the processes
  std::optional<std::map<std::string, uint64_t>> kernel;
};

LinuxCounters GatherLinuxCounters(const LiveProcesses& live, const std::string& path) {
  LinuxCounters c;
  for (const char* name : kTlsStatNames) c.names.push_back(name);
  auto add_name = [&c](const std::string& name) {
    if (std::find(c.names.begin(), c.names.end(), name) == c.names.end()) c.names.push_back(name);
  };
  for (const ProcessExport& process : live.exports) {
    for (const auto& entry : process.entries) {
      const std::string_view name = entry.name;
      if (!name.starts_with(kLinuxPrefix)) continue;
      const std::string short_name(name.substr(sizeof(kLinuxPrefix) - 1));
      add_name(short_name);
      c.ours[short_name] += entry.value;
    }
  }
  if (auto kernel = ReadTlsStat(path)) {
    c.kernel.emplace();
    for (const auto& [name, value] : *kernel) {
      add_name(name);
      (*c.kernel)[name] = value;
    }
  }
  return c;
}

void PrintLinux(const LiveProcesses& live, const LinuxCounters& c, const Flags& flags) {
  std::cout << "KTLS:   this library's Linux kTLS ABI sockets, summed over " << live.exports.size()
            << (live.exports.size() == 1 ? " process" : " processes")
            << " (kern.ipc.tls.linux.*)\n";
  std::cout << "KERNEL: " << flags.tls_stat_path
            << (c.kernel ? " (the kernel's own TLS)"
                         : " not present (the tls module is not loaded)")
            << "\n";
  TextTable table(
      {{"NAME"}, {"KTLS", TextTable::Align::kRight}, {"KERNEL", TextTable::Align::kRight}});
  for (const std::string& name : c.names) {
    auto ours = c.ours.find(name);
    std::string kernel = "-";
    if (c.kernel) {
      auto it = c.kernel->find(name);
      if (it != c.kernel->end()) kernel = std::to_string(it->second);
    }
    table.AddRow({name,
                  ours != c.ours.end() || !live.exports.empty()
                      ? std::to_string(ours != c.ours.end() ? ours->second : 0)
                      : "-",
                  kernel});
  }
  table.Print(std::cout);
}

void PrintLinuxJson(const LiveProcesses& live, const LinuxCounters& c, const Flags& flags) {
  JsonWriter json(std::cout);
  json.BeginObject();
  json.Key("ktls").BeginObject();
  json.Key("description").String("this library's Linux kTLS ABI sockets (kern.ipc.tls.linux.*)");
  json.Key("pids").BeginArray();
  for (const ProcessExport& process : live.exports) json.Integer(process.pid);
  json.EndArray();
  json.Key("counters").BeginObject();
  for (const std::string& name : c.names) {
    auto it = c.ours.find(name);
    if (it != c.ours.end() || !live.exports.empty()) {
      json.Key(name).Integer(static_cast<int64_t>(it != c.ours.end() ? it->second : 0));
    }
  }
  json.EndObject();
  json.EndObject();
  json.Key("kernel").BeginObject();
  json.Key("path").String(flags.tls_stat_path);
  json.Key("present").Bool(c.kernel.has_value());
  json.Key("counters").BeginObject();
  if (c.kernel) {
    for (const std::string& name : c.names) {
      auto it = c.kernel->find(name);
      if (it != c.kernel->end()) json.Key(name).Integer(static_cast<int64_t>(it->second));
    }
  }
  json.EndObject();
  json.EndObject();
  json.EndObject();
}

void Run(const Flags& flags) {
  control::shm::DisableExport();
  const LiveProcesses live = LoadLiveProcesses(flags.pid, "stat");
  if (flags.linux_counters) {
    const LinuxCounters counters = GatherLinuxCounters(live, flags.tls_stat_path);
    if (flags.json) {
      PrintLinuxJson(live, counters, flags);
    } else {
      PrintLinux(live, counters, flags);
    }
    return;
  }
  if (flags.json) {
    PrintSocketsJson(live);
    return;
  }
  PrintSockets(live);
  if (live.exports.empty()) std::cerr << "ktls stat: no running process uses ktls\n";
}

}  // namespace

void RegisterStatCommand(CLI::App& app) {
  auto flags = std::make_shared<Flags>();
  CLI::App* stat = app.add_subcommand(
      "stat", "List the offloaded sockets of the processes using ktls (like ss)");
  stat->add_option("-p,--pid", flags->pid, "Only this process");
  stat->add_flag("--linux", flags->linux_counters,
                 "Show the /proc/net/tls_stat counters: ours and the kernel's");
  stat->add_option("--tls-stat-file", flags->tls_stat_path,
                   "Read the kernel's counters from this file")
      ->capture_default_str();
  stat->add_flag("--json", flags->json, "Print one JSON object instead of text");
  stat->callback([flags] { Run(*flags); });
}

}  // namespace ktls::tool
