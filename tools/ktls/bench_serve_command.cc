// ktls bench serve: HTTPS file serving end to end on loopback: ktls serve and nginx
// under `ktls run` against nginx with OpenSSL in user space and the plaintext ceiling,
// as a table, a JSON file and a PNG chart (src/bench/ does the measuring).
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bench/bar_chart_png.h"
#include "bench/serve_benchmark.h"
#include "server/http_text.h"
#include "tools/ktls/commands.h"
#include "tools/ktls/json_writer.h"
#include "tools/ktls/text_table.h"

namespace ktls::tool {
namespace {

using bench::ServerKind;

// The targets for `ktls serve` on 2-core machines.
constexpr double kCeilingTarget = 0.85;
constexpr double kNginxTarget = 1.6;
constexpr double kCpuTarget = 0.6;
constexpr double kMiB = 1024.0 * 1024.0;

struct Flags {
  std::string size;  // empty: 1G, or 64M with --quick
  int runs = 3;
  std::string client = "ktls";
  std::vector<std::string> servers;
  int connections = 1000;
  double load_seconds = 10;
  bool no_load = false;
  std::string work_dir;
  std::string out_dir = ".";
  std::string nginx = "nginx";
  bool json = false;
  bool quick = false;
};

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "ktls bench serve: " << message << "\n";
  throw CLI::RuntimeError(1);
}

// "1G", "64M", "512K", "1000": a whole number of bytes, suffixes in powers of 1024.
uint64_t ParseSize(const std::string& text) {
  constexpr uint64_t kMaxSize = uint64_t{64} << 30;
  std::string_view digits = text;
  uint64_t scale = 1;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'K':
      case 'k':
        scale = uint64_t{1} << 10;
        break;
      case 'M':
      case 'm':
        scale = uint64_t{1} << 20;
        break;
      case 'G':
      case 'g':
        scale = uint64_t{1} << 30;
        break;
      default:
        break;
    }
    if (scale != 1) digits.remove_suffix(1);
  }
  // Compared before multiplying, so no count of units can wrap around.
  const std::optional<uint64_t> count = server::ParseDecimal(digits);
  if (!count || *count == 0 || *count > kMaxSize / scale) {
    Fail("bad --size '" + text + "' (want e.g. 1G, 256M, 64K; at most 64G)");
  }
  return *count * scale;
}

// "1.00 GiB", "64 MiB", "0.50 MiB": the file's size for people.
std::string SizeText(uint64_t bytes) {
  const double mib = static_cast<double>(bytes) / kMiB;
  if (mib >= 1024) return FormatFixed(mib / 1024, 2) + " GiB";
  return FormatFixed(mib, mib >= 10 ? 0 : 2) + " MiB";
}

std::string Ratio(double value, double base) {
  return base > 0 && value > 0 ? FormatFixed(value / base, 2) + "x" : "-";
}

const bench::ServerResult* Find(const bench::ServeBenchReport& report, ServerKind kind) {
  for (const bench::ServerResult& server : report.servers) {
    if (server.kind == kind && server.ran) return &server;
  }
  return nullptr;
}

const bench::LoadResult* FindLoad(const bench::ServeBenchReport& report, ServerKind kind) {
  for (const bench::LoadResult& load : report.load) {
    if (load.kind == kind && load.ran) return &load;
  }
  return nullptr;
}

double RateOf(const bench::ServerResult* server) {
  return server != nullptr ? server->gigabytes_per_second : 0;
}

struct Verdict {
  std::string what;
  double value;
  bool pass;
};

// The three targets, for whichever baselines ran.
std::vector<Verdict> Targets(const bench::ServeBenchReport& report) {
  std::vector<Verdict> verdicts;
  const bench::ServerResult* ours = Find(report, ServerKind::kKtlsServe);
  if (ours == nullptr) return verdicts;
  const double ceiling = RateOf(Find(report, ServerKind::kNginxPlain));
  const double nginx = RateOf(Find(report, ServerKind::kNginxOpenSsl));
  if (ceiling > 0) {
    const double ratio = ours->gigabytes_per_second / ceiling;
    verdicts.push_back({"ktls-serve >= 0.85x plaintext ceiling", ratio, ratio >= kCeilingTarget});
  }
  if (nginx > 0) {
    const double ratio = ours->gigabytes_per_second / nginx;
    verdicts.push_back({"ktls-serve >= 1.6x nginx+OpenSSL", ratio, ratio >= kNginxTarget});
  }
  verdicts.push_back({"ktls-serve <= 0.6 server CPU-s/GiB", ours->server_cpu_seconds_per_gib,
                      ours->server_cpu_seconds_per_gib <= kCpuTarget});
  return verdicts;
}

// "1.73-3.63": the spread of the timed runs, so a reader sees how far a median can be
// trusted (on shared machines the plaintext ceiling alone can move by 2x between runs).
std::string RangeOf(const bench::ServerResult& server) {
  if (server.samples.empty()) return "-";
  double low = server.samples.front().gigabytes_per_second;
  double high = low;
  for (const bench::RunSample& sample : server.samples) {
    low = std::min(low, sample.gigabytes_per_second);
    high = std::max(high, sample.gigabytes_per_second);
  }
  return FormatFixed(low, 2) + "-" + FormatFixed(high, 2);
}

void PrintHuman(const bench::ServeBenchReport& report, const std::string& json_path,
                const std::string& png_path) {
  std::printf(
      "ktls bench serve: %s file over 127.0.0.1, TLS 1.3 TLS_AES_128_GCM_SHA256, "
      "median of %d runs\n",
      SizeText(report.file_size).c_str(), report.runs);
  std::printf("client: %s\n\n", report.client.c_str());
  const double ceiling = RateOf(Find(report, ServerKind::kNginxPlain));
  const double nginx = RateOf(Find(report, ServerKind::kNginxOpenSsl));
  using Align = TextTable::Align;
  TextTable table({{"server"},
                   {"GB/s", Align::kRight},
                   {"min-max", Align::kRight},
                   {"x ceiling", Align::kRight},
                   {"x nginx", Align::kRight},
                   {"server CPU-s/GiB", Align::kRight},
                   {"client CPU-s/GiB", Align::kRight},
                   {"ktls records"},
                   {"how"}});
  for (const bench::ServerResult& server : report.servers) {
    if (!server.ran) {
      table.AddRow({server.name, "-", "-", "-", "-", "-", "-", "-", "skipped: " + server.skipped});
      continue;
    }
    table.AddRow({server.name, FormatFixed(server.gigabytes_per_second, 2), RangeOf(server),
                  Ratio(server.gigabytes_per_second, ceiling),
                  Ratio(server.gigabytes_per_second, nginx),
                  FormatFixed(server.server_cpu_seconds_per_gib, 3),
                  FormatFixed(server.client_cpu_seconds_per_gib, 3),
                  std::to_string(server.records_sealed_by_ktls), server.description});
  }
  table.Print(std::cout);
  std::cout << "\n";

  if (!report.load.empty()) {
    const bench::LoadResult* nginx_load = FindLoad(report, ServerKind::kNginxOpenSsl);
    const double nginx_rps = nginx_load != nullptr ? nginx_load->requests_per_second : 0;
    const double nginx_rss =
        nginx_load != nullptr ? static_cast<double>(nginx_load->server_peak_rss_bytes) : 0;
    std::printf("many connections: %d keep-alive clients, %.0f KiB file\n",
                report.load.front().connections,
                static_cast<double>(report.small_file_size) / 1024);
    TextTable load({{"server"},
                    {"req/s", Align::kRight},
                    {"x nginx", Align::kRight},
                    {"errors", Align::kRight},
                    {"p50 ms", Align::kRight},
                    {"p99 ms", Align::kRight},
                    {"peak RSS MiB", Align::kRight},
                    {"x nginx RSS", Align::kRight},
                    {"server CPU-s", Align::kRight}});
    for (const bench::LoadResult& result : report.load) {
      if (!result.ran) {
        load.AddRow({result.name, "skipped: " + result.skipped});
        continue;
      }
      const double rss = static_cast<double>(result.server_peak_rss_bytes);
      load.AddRow({result.name, FormatFixed(result.requests_per_second, 0),
                   Ratio(result.requests_per_second, nginx_rps), std::to_string(result.errors),
                   FormatFixed(result.latency_p50_ms, 2), FormatFixed(result.latency_p99_ms, 2),
                   FormatFixed(rss / kMiB, 1), Ratio(rss, nginx_rss),
                   FormatFixed(result.server_cpu_seconds, 2)});
    }
    load.Print(std::cout);
    std::cout << "\n";
  }
  for (const Verdict& verdict : Targets(report)) {
    std::printf("target %-40s %6.3f  %s\n", verdict.what.c_str(), verdict.value,
                verdict.pass ? "met" : "NOT met");
  }
  if (!json_path.empty()) std::printf("\nwrote %s and %s\n", json_path.c_str(), png_path.c_str());
}

void WriteJson(std::ostream& out, const bench::ServeBenchReport& report) {
  JsonWriter json(out);
  json.BeginObject();
  json.Key("file_bytes").Integer(static_cast<int64_t>(report.file_size));
  json.Key("runs").Integer(report.runs);
  json.Key("suite").String("TLS 1.3 TLS_AES_128_GCM_SHA256");
  json.Key("client").String(report.client);
  const double ceiling = RateOf(Find(report, ServerKind::kNginxPlain));
  const double nginx = RateOf(Find(report, ServerKind::kNginxOpenSsl));
  json.Key("servers").BeginArray();
  for (const bench::ServerResult& server : report.servers) {
    json.BeginObject();
    json.Key("name").String(server.name);
    json.Key("description").String(server.description);
    json.Key("ran").Bool(server.ran);
    if (!server.ran) {
      json.Key("skipped").String(server.skipped);
      json.EndObject();
      continue;
    }
    json.Key("protocol").String(server.protocol);
    json.Key("client_rx_offloaded").Bool(server.client_rx_offloaded);
    json.Key("records_sealed_by_ktls").Integer(static_cast<int64_t>(server.records_sealed_by_ktls));
    json.Key("gigabytes_per_second").Number(server.gigabytes_per_second);
    json.Key("server_cpu_seconds_per_gib").Number(server.server_cpu_seconds_per_gib);
    json.Key("client_cpu_seconds_per_gib").Number(server.client_cpu_seconds_per_gib);
    json.Key("ratio_to_ceiling");
    ceiling > 0 ? json.Number(server.gigabytes_per_second / ceiling) : json.Null();
    json.Key("ratio_to_nginx");
    nginx > 0 ? json.Number(server.gigabytes_per_second / nginx) : json.Null();
    json.Key("samples").BeginArray();
    for (const bench::RunSample& sample : server.samples) {
      json.BeginObject();
      json.Key("seconds").Number(sample.seconds);
      json.Key("gigabytes_per_second").Number(sample.gigabytes_per_second);
      json.Key("server_cpu_seconds").Number(sample.server_cpu_seconds);
      json.Key("client_cpu_seconds").Number(sample.client_cpu_seconds);
      json.EndObject();
    }
    json.EndArray();
    json.EndObject();
  }
  json.EndArray();
  json.Key("many_connections").BeginArray();
  for (const bench::LoadResult& load : report.load) {
    json.BeginObject();
    json.Key("name").String(load.name);
    json.Key("ran").Bool(load.ran);
    if (!load.ran) {
      json.Key("skipped").String(load.skipped);
      json.EndObject();
      continue;
    }
    json.Key("connections").Integer(load.connections);
    json.Key("file_bytes").Integer(static_cast<int64_t>(report.small_file_size));
    json.Key("requests").Integer(static_cast<int64_t>(load.requests));
    json.Key("requests_per_second").Number(load.requests_per_second);
    json.Key("errors").Integer(static_cast<int64_t>(load.errors));
    json.Key("first_error").String(load.first_error);
    json.Key("connections_established").Integer(static_cast<int64_t>(load.connections_established));
    json.Key("latency_p50_ms").Number(load.latency_p50_ms);
    json.Key("latency_p99_ms").Number(load.latency_p99_ms);
    json.Key("server_peak_rss_bytes").Integer(static_cast<int64_t>(load.server_peak_rss_bytes));
    json.Key("server_cpu_seconds").Number(load.server_cpu_seconds);
    json.EndObject();
  }
  json.EndArray();
  json.Key("targets").BeginArray();
  for (const Verdict& verdict : Targets(report)) {
    json.BeginObject();
    json.Key("target").String(verdict.what);
    json.Key("value").Number(verdict.value);
    json.Key("met").Bool(verdict.pass);
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
}

// One color per server in every panel, whichever servers a panel leaves out.
size_t ColorOf(ServerKind kind) {
  return static_cast<size_t>(kind);
}

bench::BarChart MakeChart(const bench::ServeBenchReport& report) {
  bench::BarChart chart;
  // The title has room for 47 characters at its scale: the suite must not be cut off.
  chart.title = "ktls bench serve: " + SizeText(report.file_size) + ", TLS 1.3 AES-128-GCM";
  // The report's client description is a sentence; the subtitle has room for a word.
  const bool client_ktls = report.client.rfind("ktls", 0) == 0;
  chart.subtitle = "loopback, median of " + std::to_string(report.runs) +
                   " runs, client records opened by " + (client_ktls ? "ktls" : "OpenSSL");
  bench::BarPanel rate{"Throughput, GB/s (higher is better)", {}, {}, ""};
  bench::BarPanel cpu{"Server CPU seconds per GiB (lower is better)", {}, {}, ""};
  for (const bench::ServerResult& server : report.servers) {
    if (!server.ran) continue;
    rate.bars.push_back({server.name, server.gigabytes_per_second,
                         FormatFixed(server.gigabytes_per_second, 2) + " GB/s",
                         ColorOf(server.kind)});
    cpu.bars.push_back({server.name, server.server_cpu_seconds_per_gib,
                        FormatFixed(server.server_cpu_seconds_per_gib, 3) + " s",
                        ColorOf(server.kind)});
  }
  cpu.reference_line = kCpuTarget;
  cpu.reference_label = "target 0.6";
  chart.panels = {rate, cpu};
  if (!report.load.empty()) {
    bench::BarPanel rps{"Requests/s, " + std::to_string(report.load.front().connections) +
                            " keep-alive connections, " +
                            FormatFixed(static_cast<double>(report.small_file_size) / 1024, 0) +
                            " KiB (higher is better)",
                        {},
                        {},
                        ""};
    bench::BarPanel rss{"Server peak RSS under that load, MiB (lower is better)", {}, {}, ""};
    for (const bench::LoadResult& load : report.load) {
      if (!load.ran) continue;
      rps.bars.push_back({load.name, load.requests_per_second,
                          FormatFixed(load.requests_per_second, 0) + " req/s", ColorOf(load.kind)});
      const double mib = static_cast<double>(load.server_peak_rss_bytes) / kMiB;
      rss.bars.push_back({load.name, mib, FormatFixed(mib, 1) + " MiB", ColorOf(load.kind)});
    }
    chart.panels.push_back(rps);
    chart.panels.push_back(rss);
  }
  return chart;
}

// One level, like mkdir(1) without -p; an existing directory is fine.
void MakeDirectory(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    Fail("cannot create " + path + ": " + std::strerror(errno));
  }
}

// The default work directory is a fixed name in a shared /tmp, and it holds a private
// key and the configurations of servers run as this user: one that someone else made
// first (or a link to elsewhere) is refused rather than used.
void CheckPrivate(const std::string& path) {
  struct stat info {};
  if (lstat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != geteuid() ||
      (info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    Fail(path +
         " is not a directory of yours that only you can write to; remove it or "
         "choose another with --work-dir");
  }
}

std::string DefaultWorkDir() {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ktls-bench-serve-" +
         std::to_string(getuid());
}

void Run(const Flags& flags) {
  bench::ServeBenchOptions options;
  char self[4096];
  const ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length <= 0) Fail("cannot find this program (/proc/self/exe)");
  options.ktls_binary.assign(self, static_cast<size_t>(length));
  options.nginx = flags.nginx;
  options.file_size = ParseSize(!flags.size.empty() ? flags.size : flags.quick ? "64M" : "1G");
  options.runs = flags.quick ? 1 : flags.runs;
  options.tls_client = flags.client == "openssl" ? bench::FetchTransport::kTlsOpenSsl
                                                 : bench::FetchTransport::kTlsKtls;
  options.connections =
      flags.no_load ? 0 : (flags.quick ? std::min(flags.connections, 100) : flags.connections);
  options.load_seconds = flags.quick ? std::min(flags.load_seconds, 2.0) : flags.load_seconds;
  if (!flags.servers.empty()) {
    options.servers.clear();
    for (const std::string& name : flags.servers) {
      bool known = false;
      for (ServerKind kind : {ServerKind::kNginxPlain, ServerKind::kNginxOpenSsl,
                              ServerKind::kNginxKtls, ServerKind::kKtlsServe}) {
        if (bench::ServerName(kind) != name) continue;
        known = true;
        // Named twice, measured once.
        if (std::find(options.servers.begin(), options.servers.end(), kind) ==
            options.servers.end()) {
          options.servers.push_back(kind);
        }
      }
      if (!known) Fail("unknown server '" + name + "' (plaintext, nginx, nginx+ktls, ktls-serve)");
    }
  }
  options.work_dir = flags.work_dir.empty() ? DefaultWorkDir() : flags.work_dir;
  MakeDirectory(options.work_dir, 0700);
  if (flags.work_dir.empty()) CheckPrivate(options.work_dir);
  // Before the benchmark, not after its minutes of work: a result that cannot be written
  // is lost.
  if (!flags.out_dir.empty()) MakeDirectory(flags.out_dir, 0755);
  // Progress on stderr: stdout carries the table or the JSON.
  options.progress = [](const std::string& line) { std::fprintf(stderr, "  %s\n", line.c_str()); };

  std::string error;
  Result<bench::ServeBenchReport> report = bench::RunServeBenchmark(options, &error);
  if (!report.ok()) Fail(error);

  std::string json_path;
  std::string png_path;
  if (!flags.out_dir.empty()) {
    json_path = flags.out_dir + "/bench-serve.json";
    png_path = flags.out_dir + "/bench-serve.png";
    std::ofstream json_file(json_path);
    WriteJson(json_file, *report);
    std::ofstream png_file(png_path, std::ios::binary);
    png_file << bench::RenderBarChartPng(MakeChart(*report));
    // Closed first: what is still buffered can fail too (a full disk).
    json_file.close();
    png_file.close();
    if (!json_file || !png_file) Fail("cannot write " + json_path + " / " + png_path);
  }
  if (flags.json) {
    WriteJson(std::cout, *report);
  } else {
    PrintHuman(*report, json_path, png_path);
  }
}

}  // namespace

void RegisterBenchServeCommand(CLI::App& bench) {
  auto flags = std::make_shared<Flags>();
  CLI::App* command = bench.add_subcommand(
      "serve", "HTTPS file serving: ktls serve and nginx+ktls vs nginx+OpenSSL and plaintext");
  command->add_option("--size", flags->size, "Size of the big file (default 1G)");
  command->add_option("--runs", flags->runs, "Timed downloads per server; the median is reported")
      ->check(CLI::Range(1, 99));
  command
      ->add_option("--client", flags->client,
                   "Who opens the TLS records on the client: ktls (RX offload) or openssl")
      ->check(CLI::IsMember({"ktls", "openssl"}));
  command
      ->add_option("--servers", flags->servers,
                   "Subset of: plaintext nginx nginx+ktls ktls-serve (default: all)")
      ->delimiter(',');
  command
      ->add_option("--connections", flags->connections,
                   "Keep-alive clients in the many-connections run (default 1000)")
      ->check(CLI::Range(1, 20000));
  command
      ->add_option("--load-seconds", flags->load_seconds,
                   "Length of the many-connections run per server (default 10)")
      ->check(CLI::Range(0.5, 600.0));
  command->add_flag("--no-load", flags->no_load, "Skip the many-connections run");
  command->add_option("--work-dir", flags->work_dir,
                      "Files, certificate, configurations and logs (default: "
                      "$TMPDIR/ktls-bench-serve-UID, kept for the next run)");
  command->add_option("--out", flags->out_dir,
                      "Directory for bench-serve.json and bench-serve.png, created if missing "
                      "(default: .)");
  command->add_option("--nginx", flags->nginx, "nginx binary (default: nginx from PATH)");
  command->add_flag("--json", flags->json, "Print the JSON document instead of the table");
  command->add_flag("--quick", flags->quick,
                    "Smoke run: 64 MiB, one run, at most 100 connections for 2 s");
  command->callback([flags] { Run(*flags); });
}

}  // namespace ktls::tool
