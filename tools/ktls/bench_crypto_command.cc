// ktls bench crypto: seals and opens records of every suite with the record engine,
// next to raw ipsec-mb and OpenSSL EVP calls on the same buffers, and reports the
// ratios the performance goals are stated in.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "crypto/backend_choice.h"
#include "crypto/library_info.h"
#include "tools/ktls/commands.h"
#include "tools/ktls/crypto_bench.h"
#include "tools/ktls/json_writer.h"
#include "tools/ktls/text_table.h"

namespace ktls::tool {
namespace {

// Per case and round. The default (~45 s for the whole run) gives usable medians on
// a quiet machine; --quick keeps the whole run under 10 s for smoke tests.
constexpr double kDefaultSeconds = 0.1;
constexpr double kQuickSeconds = 0.012;

struct Flags {
  bool json = false;
  bool quick = false;
  std::optional<double> seconds;
  int rounds = 3;
};

std::string RatioText(const std::optional<double>& ratio) {
  return ratio ? FormatFixed(*ratio, 2) + "x" : "";
}

std::string CaseVersion(const CaseResult& r) {
  return r.version ? std::string(crypto::VersionName(*r.version)) : "";
}

void PrintHuman(const CryptoBenchReport& report, const CryptoBenchOptions& options) {
  std::cout << "ktls bench crypto: " << options.rounds << " rounds x "
            << FormatFixed(options.seconds_per_case, 3)
            << " s per case; MB/s = 10^6 payload bytes/s of the median 0.1 ms batch, "
               "median of rounds\n";
  std::cout << "ipsec-mb " << crypto::IpsecMbVersion() << " ("
            << (crypto::IpsecMbAvailable() ? crypto::IpsecMbArch() : "unavailable") << "), "
            << crypto::OpenSslVersion() << "\n";
  std::cout << "raw = one library call per record (12-byte IV, 5-byte AAD, 16-byte tag); "
               "* = the backend this machine picks by default\n\n";

  using Align = TextTable::Align;
  TextTable table({{"op"},
                   {"version"},
                   {"suite"},
                   {"backend"},
                   {"record", Align::kRight},
                   {"MB/s", Align::kRight},
                   {"spread", Align::kRight},
                   {"/raw ipsec-mb", Align::kRight},
                   {"/openssl-evp", Align::kRight}});
  for (const CaseResult& r : report.results) {
    table.AddRow({std::string(CaseKindName(r.kind)), CaseVersion(r), std::string(r.suite->name),
                  r.backend + (r.default_backend ? "*" : ""), std::to_string(r.record_len),
                  FormatFixed(r.bytes_per_sec / 1e6, 0), FormatFixed(r.spread * 100, 0) + "%",
                  RatioText(r.vs_raw_ipsec_mb), RatioText(r.vs_openssl_evp)});
  }
  table.Print(std::cout);

  std::cout << "\ntargets (goals, reported but never a failure):\n";
  TextTable targets({{"goal"}, {"ratio", Align::kRight}, {"target", Align::kRight}, {"result"}});
  for (const TargetCheck& t : report.targets) {
    targets.AddRow({t.name, t.ratio ? FormatFixed(*t.ratio, 2) + "x" : "n/a",
                    ">= " + FormatFixed(t.target, 2) + "x",
                    !t.ratio   ? "not measured"
                    : t.pass() ? "PASS"
                               : "MISS"});
  }
  targets.Print(std::cout);
  if (!report.skipped.empty()) {
    std::cout << "\nskipped on this machine:\n";
    for (const std::string& s : report.skipped) std::cout << "  " << s << '\n';
  }
}

void OptionalNumber(JsonWriter& json, std::string_view key, const std::optional<double>& value) {
  json.Key(key);
  if (value) {
    json.Number(*value);
  } else {
    json.Null();
  }
}

void PrintJson(const CryptoBenchReport& report, const CryptoBenchOptions& options) {
  JsonWriter json(std::cout);
  json.BeginObject();
  json.Key("rounds").Integer(options.rounds);
  json.Key("seconds_per_case").Number(options.seconds_per_case);
  json.Key("timing").String("median of ~0.1 ms batches, monotonic clock");
  json.Key("ipsec_mb").BeginObject();
  json.Key("version").String(crypto::IpsecMbVersion());
  json.Key("available").Bool(crypto::IpsecMbAvailable());
  json.Key("arch").String(crypto::IpsecMbArch());
  json.EndObject();
  json.Key("openssl").String(crypto::OpenSslVersion());
  json.Key("cases").BeginArray();
  for (const CaseResult& r : report.results) {
    json.BeginObject();
    json.Key("op").String(CaseKindName(r.kind));
    json.Key("version");
    if (r.version) {
      json.String(crypto::VersionName(*r.version));
    } else {
      json.Null();
    }
    json.Key("suite").String(r.suite->name);
    json.Key("backend").String(r.backend);
    json.Key("default_backend").Bool(r.default_backend);
    json.Key("record_len").Integer(static_cast<int64_t>(r.record_len));
    json.Key("bytes_per_sec").Number(r.bytes_per_sec);
    json.Key("samples").BeginArray();
    for (const double s : r.samples) json.Number(s);
    json.EndArray();
    json.Key("spread").Number(r.spread);
    OptionalNumber(json, "ratio_vs_raw_ipsec_mb", r.vs_raw_ipsec_mb);
    OptionalNumber(json, "ratio_vs_openssl_evp", r.vs_openssl_evp);
    json.EndObject();
  }
  json.EndArray();
  json.Key("targets").BeginArray();
  for (const TargetCheck& t : report.targets) {
    json.BeginObject();
    json.Key("goal").String(t.name);
    OptionalNumber(json, "ratio", t.ratio);
    json.Key("target").Number(t.target);
    json.Key("result").String(!t.ratio ? "not measured" : t.pass() ? "PASS" : "MISS");
    json.EndObject();
  }
  json.EndArray();
  json.Key("skipped").BeginArray();
  for (const std::string& s : report.skipped) json.String(s);
  json.EndArray();
  json.EndObject();
}

void Run(const Flags& flags) {
  CryptoBenchOptions options;
  options.seconds_per_case = flags.seconds.value_or(flags.quick ? kQuickSeconds : kDefaultSeconds);
  options.rounds = flags.rounds;
  // Progress goes to a terminal only, never into redirected output.
  if (isatty(STDERR_FILENO) != 0) {
    options.progress = [](size_t done, size_t total) {
      std::fprintf(stderr, "\rmeasuring %zu/%zu", done, total);
      if (done == total) std::fprintf(stderr, "\r\033[K");
    };
  }
  const CryptoBenchReport report = RunCryptoBench(options);
  if (flags.json) {
    PrintJson(report, options);
  } else {
    PrintHuman(report, options);
  }
}

}  // namespace

void RegisterBenchCryptoCommand(CLI::App& bench) {
  auto flags = std::make_shared<Flags>();
  CLI::App* command = bench.add_subcommand(
      "crypto", "Record seal/open throughput per suite vs raw ipsec-mb and OpenSSL EVP");
  command->add_flag("--json", flags->json, "Print one JSON object instead of a table");
  command->add_flag("--quick", flags->quick, "Short measurements (whole run under 10 s)");
  command->add_option("--seconds", flags->seconds, "Seconds per case and round")
      ->check(CLI::PositiveNumber);
  command->add_option("--rounds", flags->rounds, "Rounds over all cases; the median is reported")
      ->check(CLI::Range(1, 99));
  command->callback([flags] { Run(*flags); });
}

}  // namespace ktls::tool
