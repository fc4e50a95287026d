// ktls probe: explains what this host offers the library: CPU crypto instructions,
// which backend seals each suite and why, the crypto libraries, and kernel TLS.
#include <sys/utsname.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/errno_name.h"
#include "control/export/exporter.h"
#include "crypto/backend_choice.h"
#include "crypto/library_info.h"
#include "crypto/suite.h"
#include "platform/kernel_tls_probe.h"
#include "tools/ktls/commands.h"
#include "tools/ktls/json_writer.h"
#include "tools/ktls/offload_explanation.h"
#include "tools/ktls/process_exports.h"
#include "tools/ktls/text_table.h"

namespace ktls::tool {
namespace {

constexpr char kOverrideVariable[] = "KTLS_CRYPTO";

struct SuiteBackend {
  const crypto::SuiteInfo* suite;
  crypto::Backend chosen;     // what sessions get, KTLS_CRYPTO included
  crypto::Backend automatic;  // what they would get without KTLS_CRYPTO
};

struct HostFacts {
  std::string kernel_release;
  crypto::CpuFeatures cpu;
  bool ipsec_mb_available = false;
  std::string ipsec_mb_arch;
  std::string ipsec_mb_version;
  std::optional<std::string> override_value;        // KTLS_CRYPTO as set
  std::optional<crypto::Backend> override_backend;  // KTLS_CRYPTO, when a backend name
  std::vector<SuiteBackend> suites;
  std::string openssl_version;
  bool openssl_ktls = false;
  platform::KernelTlsProbe kernel;
  KnobState knobs;  // what a new process starts with (start-up configuration)
  // Live processes using ktls whose knobs differ from `knobs`.
  struct ProcessKnobs {
    int pid;
    std::string comm;
    KnobState knobs;
  };
  std::vector<ProcessKnobs> differing;
  size_t live_processes = 0;
};

HostFacts GatherFacts() {
  HostFacts facts;
  utsname name{};
  if (uname(&name) == 0) facts.kernel_release = name.release;
  facts.cpu = crypto::DetectCpuFeatures();
  facts.ipsec_mb_available = crypto::IpsecMbAvailable();
  facts.ipsec_mb_arch = crypto::IpsecMbArch();
  facts.ipsec_mb_version = crypto::IpsecMbVersion();
  if (const char* value = std::getenv(kOverrideVariable)) facts.override_value = value;
  facts.override_backend = crypto::BackendOverride();
  for (const crypto::SuiteInfo& suite : crypto::AllSuites()) {
    facts.suites.push_back(
        {&suite, crypto::ChooseBackend(suite.id), crypto::AutomaticBackend(suite.id)});
  }
  facts.openssl_version = crypto::OpenSslVersion();
  facts.openssl_ktls = crypto::OpenSslBuiltWithKtls();
  facts.kernel = platform::ProbeKernelTls();
  facts.knobs = StartupKnobState();
  const control::shm::ProcessScan scan = control::shm::FindExportingProcesses(false);
  for (int pid : scan.pids) {
    Result<control::shm::ProcessExport> process = control::shm::ReadExport(pid);
    if (!process.ok()) continue;
    ++facts.live_processes;
    const std::optional<KnobState> knobs = KnobStateOf(process.value());
    if (knobs && !(*knobs == facts.knobs)) {
      facts.differing.push_back({pid, process->comm, *knobs});
    }
  }
  return facts;
}

std::vector<std::pair<std::string_view, bool>> CpuFlags(const crypto::CpuFeatures& cpu) {
  return {{"aesni", cpu.aesni},     {"pclmulqdq", cpu.pclmulqdq}, {"avx2", cpu.avx2},
          {"avx512f", cpu.avx512f}, {"vaes", cpu.vaes},           {"vpclmulqdq", cpu.vpclmulqdq},
          {"sha_ni", cpu.sha_ni}};
}

std::string CpuSummary(const crypto::CpuFeatures& cpu) {
  std::string have;
  std::string lack;
  for (const auto& [flag, present] : CpuFlags(cpu)) {
    std::string& list = present ? have : lack;
    if (!list.empty()) list += ' ';
    list += flag;
  }
  if (have.empty()) have = "none";
  return lack.empty() ? have : have + " (missing: " + lack + ")";
}

std::string SuiteBackendText(const SuiteBackend& s, const HostFacts& facts) {
  std::string text(crypto::BackendName(s.chosen));
  if (s.suite->cipher == crypto::CipherKind::kAesCbc) {
    return text + (facts.override_value ? " (CBC suites always use openssl; KTLS_CRYPTO ignored)"
                                        : " (CBC suites always use openssl)");
  }
  if (s.chosen != s.automatic) {
    return text + " (forced by KTLS_CRYPTO; automatic choice: " +
           std::string(crypto::BackendName(s.automatic)) + ")";
  }
  if (!facts.override_backend) return text;  // unset, or not a backend name
  if (*facts.override_backend != s.chosen) {
    return text +
           " (KTLS_CRYPTO ignored: " + std::string(crypto::BackendName(*facts.override_backend)) +
           " is unavailable here)";
  }
  return text + " (KTLS_CRYPTO agrees with the automatic choice)";
}

std::string OverrideText(const HostFacts& facts) {
  if (!facts.override_value) return "unset (backends chosen automatically)";
  if (!facts.override_backend.has_value()) {
    return "\"" + *facts.override_value +
           "\" (not a backend name: use openssl or ipsec_mb; ignored)";
  }
  return *facts.override_value + " (applies to the AEAD suites)";
}

void PrintHuman(const HostFacts& facts) {
  std::vector<std::pair<std::string, std::string>> lines;
  lines.emplace_back("ktls version", KTLS_VERSION_STRING);
  lines.emplace_back("kernel", facts.kernel_release.empty() ? "unknown" : facts.kernel_release);
  lines.emplace_back("cpu crypto features", CpuSummary(facts.cpu));
  lines.emplace_back(
      "ipsec-mb",
      facts.ipsec_mb_available
          ? facts.ipsec_mb_version + ", " + facts.ipsec_mb_arch + " manager"
          : "not available (" + facts.ipsec_mb_version + " has no manager for this CPU)");
  lines.emplace_back("KTLS_CRYPTO", OverrideText(facts));
  for (const SuiteBackend& s : facts.suites) {
    lines.emplace_back("backend " + std::string(s.suite->name), SuiteBackendText(s, facts));
  }
  lines.emplace_back("openssl", facts.openssl_version);
  lines.emplace_back("openssl kTLS support",
                     facts.openssl_ktls ? "built in" : "not built in (OPENSSL_NO_KTLS)");
  const platform::KernelTlsProbe& k = facts.kernel;
  lines.emplace_back("tcp_available_ulp",
                     !k.ulp_list_readable ? "unreadable (no /proc/sys/net/ipv4/tcp_available_ulp)"
                     : k.ulp_listed       ? k.available_ulps
                                          : k.available_ulps + " (no \"tls\")");
  lines.emplace_back("/proc/net/tls_stat",
                     k.tls_stat_present ? "present" : "absent (tls.ko not loaded)");
  lines.emplace_back("kernel TLS ULP", k.explanation);
  // Per knob: what enabling offload does now, and why.
  for (auto& [name, text] : DescribeKnobs(facts.knobs)) lines.emplace_back(name, text);
  const OffloadExplanation offload = ExplainOffload(facts.knobs, k);
  lines.emplace_back("offload TX", offload.tx.state + ": " + offload.tx.reason);
  lines.emplace_back("offload RX", offload.rx.state + ": " + offload.rx.reason);
  lines.emplace_back("offload AES-CBC", offload.cbc.state + ": " + offload.cbc.reason);
  lines.emplace_back("processes using ktls",
                     std::to_string(facts.live_processes) +
                         (facts.differing.empty() ? "" : " (knobs differ below; `ktls sysctl`)"));
  for (const HostFacts::ProcessKnobs& p : facts.differing) {
    const OffloadExplanation theirs = ExplainOffload(p.knobs, k);
    lines.emplace_back("pid " + std::to_string(p.pid) + " (" + p.comm + ")",
                       KnobSummary(p.knobs) + ": TX " + theirs.tx.state + ", RX " +
                           theirs.rx.state + ", AES-CBC " + theirs.cbc.state);
  }
  PrintKeyValues(std::cout, lines);
}

void PrintJson(const HostFacts& facts) {
  JsonWriter json(std::cout);
  json.BeginObject();
  json.Key("ktls_version").String(KTLS_VERSION_STRING);
  json.Key("kernel_release").String(facts.kernel_release);
  json.Key("cpu").BeginObject();
  for (const auto& [flag, present] : CpuFlags(facts.cpu)) json.Key(flag).Bool(present);
  json.EndObject();
  json.Key("ipsec_mb").BeginObject();
  json.Key("available").Bool(facts.ipsec_mb_available);
  json.Key("arch").String(facts.ipsec_mb_arch);
  json.Key("version").String(facts.ipsec_mb_version);
  json.EndObject();
  json.Key("ktls_crypto").BeginObject();
  json.Key("value");
  if (facts.override_value) {
    json.String(*facts.override_value);
  } else {
    json.Null();
  }
  json.Key("valid").Bool(facts.override_backend.has_value());
  json.EndObject();
  json.Key("suites").BeginArray();
  for (const SuiteBackend& s : facts.suites) {
    json.BeginObject();
    json.Key("name").String(s.suite->name);
    json.Key("backend").String(crypto::BackendName(s.chosen));
    json.Key("automatic_backend").String(crypto::BackendName(s.automatic));
    json.Key("overridden").Bool(s.chosen != s.automatic);
    json.EndObject();
  }
  json.EndArray();
  json.Key("openssl").BeginObject();
  json.Key("version").String(facts.openssl_version);
  json.Key("built_with_ktls").Bool(facts.openssl_ktls);
  json.EndObject();
  const platform::KernelTlsProbe& k = facts.kernel;
  json.Key("kernel_tls").BeginObject();
  json.Key("tcp_available_ulp");
  if (k.ulp_list_readable) {
    json.String(k.available_ulps);
  } else {
    json.Null();
  }
  json.Key("ulp_listed").Bool(k.ulp_listed);
  json.Key("tls_stat_present").Bool(k.tls_stat_present);
  json.Key("loopback_ok").Bool(k.loopback_ok);
  if (!k.loopback_ok) json.Key("loopback_error").String(k.loopback_error);
  json.Key("setsockopt_errno").Integer(k.setsockopt_errno);
  json.Key("setsockopt_errno_name")
      .String(k.setsockopt_errno == 0 ? "" : ErrnoName(k.setsockopt_errno));
  json.Key("available").Bool(k.ulp_attached);
  json.Key("autoloaded").Bool(k.autoloaded);
  json.Key("explanation").String(k.explanation);
  json.EndObject();
  auto json_offload = [&json](const KnobState& knobs, const platform::KernelTlsProbe& kernel) {
    json.Key("knobs").BeginObject();
    for (auto& [name, text] : DescribeKnobs(knobs)) json.Key(name).String(text);
    json.EndObject();
    const OffloadExplanation offload = ExplainOffload(knobs, kernel);
    for (const auto& [key, verdict] :
         {std::pair{"tx", &offload.tx}, {"rx", &offload.rx}, {"cbc", &offload.cbc}}) {
      json.Key(key).BeginObject();
      json.Key("state").String(verdict->state);
      json.Key("reason").String(verdict->reason);
      json.EndObject();
    }
  };
  json.Key("offload").BeginObject();
  json_offload(facts.knobs, k);
  json.Key("live_processes").Integer(static_cast<int64_t>(facts.live_processes));
  json.Key("differing_processes").BeginArray();
  for (const HostFacts::ProcessKnobs& p : facts.differing) {
    json.BeginObject();
    json.Key("pid").Integer(p.pid);
    json.Key("comm").String(p.comm);
    json_offload(p.knobs, k);
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  json.EndObject();
}

}  // namespace

void RegisterProbeCommand(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  CLI::App* probe = app.add_subcommand(
      "probe", "Explain this host: CPU crypto features, backends, OpenSSL, kernel TLS");
  probe->add_flag("--json", *json, "Print one JSON object instead of text");
  probe->callback([json] {
    control::shm::DisableExport();  // reading knobs here must not export this process
    const HostFacts facts = GatherFacts();
    if (*json) {
      PrintJson(facts);
    } else {
      PrintHuman(facts);
    }
  });
}

}  // namespace ktls::tool
