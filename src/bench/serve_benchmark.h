// `ktls bench serve`: the same large file served over loopback by each server in turn
// (plaintext nginx with sendfile as the ceiling, nginx with OpenSSL in user space, nginx
// under `ktls run` with KTLS and sendfile, and `ktls serve`), fetched by the same
// client, repeated and reduced to medians; then many keep-alive connections fetching a
// small file from `ktls serve` and nginx. The caller prints and plots the report.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "bench/file_fetch.h"

namespace ktls::bench {

enum class ServerKind { kNginxPlain, kNginxOpenSsl, kNginxKtls, kKtlsServe };

struct ServeBenchOptions {
  std::string ktls_binary;  // this tool, for `ktls serve` and `ktls run`
  std::string nginx = "nginx";
  std::string work_dir;  // files, certificates, configurations and logs (must exist)
  uint64_t file_size = 1ULL << 30;
  int runs = 3;
  // How the TLS cases' client opens records: ktls (RX offload) or OpenSSL.
  FetchTransport tls_client = FetchTransport::kTlsKtls;
  std::vector<ServerKind> servers = {ServerKind::kNginxPlain, ServerKind::kNginxOpenSsl,
                                     ServerKind::kNginxKtls, ServerKind::kKtlsServe};
  // The many-connections run; connections == 0 skips it.
  int connections = 1000;
  double load_seconds = 10;
  uint64_t small_file_size = uint64_t{64} * 1024;
  int load_workers = 2;  // nginx worker processes / ktls serve event loops
  std::function<void(const std::string&)> progress;  // one line per step
};

struct RunSample {
  double seconds = 0;
  double gigabytes_per_second = 0;  // 10^9 bytes per second
  double server_cpu_seconds = 0;
  double client_cpu_seconds = 0;
};

struct ServerResult {
  ServerKind kind{};
  std::string name;         // "plaintext", "nginx", "nginx+ktls", "ktls serve"
  std::string description;  // how it serves
  bool ran = false;
  std::string skipped;   // why not, when !ran
  std::string protocol;  // as negotiated: "plain", "TLSv1.3 TLS_AES_128_GCM_SHA256"
  bool client_rx_offloaded = false;
  uint64_t records_sealed_by_ktls = 0;  // server's TLS 1.3 records our engine sealed
  std::vector<RunSample> samples;
  // Medians over the samples.
  double gigabytes_per_second = 0;
  double server_cpu_seconds_per_gib = 0;
  double client_cpu_seconds_per_gib = 0;
};

struct LoadResult {
  ServerKind kind{};
  std::string name;
  bool ran = false;
  std::string skipped;
  int connections = 0;
  uint64_t requests = 0;
  double requests_per_second = 0;
  uint64_t errors = 0;
  std::string first_error;
  uint64_t connections_established = 0;
  double latency_p50_ms = 0;
  double latency_p99_ms = 0;
  uint64_t server_peak_rss_bytes = 0;  // sampled during the run, summed over processes
  double server_cpu_seconds = 0;
};

struct ServeBenchReport {
  uint64_t file_size = 0;
  int runs = 0;
  std::string client;            // which client fetched the TLS cases
  uint64_t small_file_size = 0;  // the many-connections run's file
  std::vector<ServerResult> servers;
  std::vector<LoadResult> load;
};

// Runs everything; a server that cannot start (nginx missing) is reported as skipped.
// Fails only when the setup fails (work directory, certificate, file) or a transfer
// breaks (wrong bytes, status, timeout), with `error` saying what happened.
Result<ServeBenchReport> RunServeBenchmark(const ServeBenchOptions& options, std::string* error);

std::string ServerName(ServerKind kind);

}  // namespace ktls::bench
