#include "bench/serve_benchmark.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>
#include <tuple>

#include "bench/body_pattern.h"
#include "bench/keepalive_load.h"
#include "bench/median.h"
#include "bench/nginx_config.h"
#include "bench/server_process.h"
#include "bench/socket_address.h"
#include "control/export/segment_reader.h"
#include "server/self_signed_cert.h"

namespace ktls::bench {
namespace {

constexpr char kAddress[] = "127.0.0.1";
constexpr char kBigFile[] = "big.bin";
constexpr char kSmallFile[] = "small.bin";
constexpr uint64_t kBigSeed = 0x6b746c73'62656e63ULL;
constexpr uint64_t kSmallSeed = 0x736d616c'6c66696cULL;
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// `name` as given if it has a slash, else the first match in PATH; empty if none.
std::string FindExecutable(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  dirs += ":/usr/sbin:/sbin";  // nginx lives in sbin, which a user's PATH may lack
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

bool IsNginx(ServerKind kind) {
  return kind != ServerKind::kKtlsServe;
}
bool IsTls(ServerKind kind) {
  return kind != ServerKind::kNginxPlain;
}

std::string Description(ServerKind kind) {
  switch (kind) {
    case ServerKind::kNginxPlain:
      return "nginx, plain HTTP, sendfile (the ceiling)";
    case ServerKind::kNginxOpenSsl:
      return "nginx, HTTPS, OpenSSL in user space";
    case ServerKind::kNginxKtls:
      return "nginx under `ktls run`, Options KTLS + sendfile";
    case ServerKind::kKtlsServe:
      return "ktls serve (OpenSSL handshake, ktls sendfile)";
  }
  return "";
}

struct Setup {
  std::string root;
  std::string cert_file;
  std::string key_file;
  std::string nginx;  // resolved path, empty when not installed
};

Status MakeDirectory(const std::string& path, std::string* error) {
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    const int mkdir_error = errno;
    *error = "mkdir " + path + ": " + std::strerror(mkdir_error);
    return Status::Error(mkdir_error);
  }
  return Status::Ok();
}

Result<Setup> Prepare(const ServeBenchOptions& options, std::string* error) {
  Setup setup;
  setup.root = options.work_dir + "/www";
  KTLS_RETURN_IF_ERROR(MakeDirectory(setup.root, error));
  for (auto [name, size, seed] : {std::tuple{kBigFile, options.file_size, kBigSeed},
                                  std::tuple{kSmallFile, options.small_file_size, kSmallSeed}}) {
    const std::string path = setup.root + "/" + name;
    struct stat existing {};
    if (stat(path.c_str(), &existing) == 0 && static_cast<uint64_t>(existing.st_size) == size) {
      continue;  // same seed and size: same bytes; reuse it (1 GiB takes a while to write)
    }
    Status written = WritePatternFile(path, size, seed);
    if (!written.ok()) {
      *error = "writing " + path + ": " + std::strerror(written.error());
      return written;
    }
  }
  Result<server::CertificateFiles> cert = server::EnsureSelfSignedCertificate(
      options.work_dir + "/cert.pem", options.work_dir + "/key.pem");
  if (!cert.ok()) {
    *error = std::string("self-signed certificate: ") + std::strerror(cert.error());
    return cert.status();
  }
  setup.cert_file = cert->cert_file;
  setup.key_file = cert->key_file;
  setup.nginx = FindExecutable(options.nginx);
  return setup;
}

Result<ServerCommand> MakeCommand(ServerKind kind, const ServeBenchOptions& options,
                                  const Setup& setup, uint16_t port, std::string* error) {
  ServerCommand command;
  command.address = kAddress;
  command.port = port;
  const std::string dir = options.work_dir + "/" + ServerName(kind);
  KTLS_RETURN_IF_ERROR(MakeDirectory(dir, error));
  command.log_path = dir + "/server.log";
  const std::string workers = std::to_string(options.load_workers);
  if (kind == ServerKind::kKtlsServe) {
    command.argv = {options.ktls_binary,      "serve",     setup.root,      "--listen",
                    HostPort(kAddress, port), "--cert",    setup.cert_file, "--key",
                    setup.key_file,           "--threads", workers};
    return command;
  }
  KTLS_RETURN_IF_ERROR(MakeDirectory(dir + "/tmp", error));
  NginxSite site;
  site.work_dir = dir;
  site.root = setup.root;
  site.address = kAddress;
  site.port = port;
  site.workers = options.load_workers;
  site.worker_connections = std::max(1024, options.connections + 64);
  site.tls = IsTls(kind);
  site.cert_file = setup.cert_file;
  site.key_file = setup.key_file;
  site.ktls = kind == ServerKind::kNginxKtls;
  const std::string conf = dir + "/nginx.conf";
  std::ofstream conf_file(conf);
  conf_file << NginxConfig(site);
  conf_file.close();
  if (!conf_file) {
    *error = "cannot write " + conf;
    return Status::Error(EIO);
  }
  if (kind == ServerKind::kNginxKtls) command.argv = {options.ktls_binary, "run", "--"};
  for (const std::string& arg : {setup.nginx, std::string("-p"), dir, std::string("-e"),
                                 dir + "/error.log", std::string("-c"), conf}) {
    command.argv.push_back(arg);
  }
  return command;
}

// TLS 1.3 records sealed by ktls in the server's processes, from their exports.
uint64_t RecordsSealedByKtls(pid_t root) {
  std::vector<pid_t> pids = DescendantsOf(root);
  pids.push_back(root);
  uint64_t records = 0;
  for (pid_t pid : pids) {
    Result<control::shm::ProcessExport> snapshot = control::shm::ReadExport(pid);
    if (!snapshot.ok()) continue;
    for (const char* name : {"kern.ipc.tls.stats.ocf.tls13_gcm_encrypts",
                             "kern.ipc.tls.stats.ocf.tls13_chacha20_encrypts"}) {
      if (const auto* entry = control::shm::FindEntry(*snapshot, name)) records += entry->value;
    }
  }
  return records;
}

struct RunningServer {
  ServerResult* result;
  std::unique_ptr<ServerProcess> process;
  uint16_t port = 0;
};

FetchOptions FetchFor(const ServeBenchOptions& options, const RunningServer& server) {
  FetchOptions fetch;
  fetch.address = kAddress;
  fetch.port = server.port;
  fetch.path = std::string("/") + kBigFile;
  fetch.transport = IsTls(server.result->kind) ? options.tls_client : FetchTransport::kPlain;
  return fetch;
}

Status StartServers(const ServeBenchOptions& options, const Setup& setup, ServeBenchReport* report,
                    std::vector<RunningServer>* running, std::string* error) {
  auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  // RunningServer points into report->servers: reserved so that it never moves.
  report->servers.reserve(options.servers.size());
  for (ServerKind kind : options.servers) {
    ServerResult& result = report->servers.emplace_back();
    result.kind = kind;
    result.name = ServerName(kind);
    result.description = Description(kind);
    if (IsNginx(kind) && setup.nginx.empty()) {
      result.skipped = "nginx not found (" + options.nginx + ")";
      say(result.name + ": skipped, " + result.skipped);
      continue;
    }
    // A port someone else grabs between FreePort and the server's bind: try again.
    std::string start_error;
    for (int attempt = 0; attempt < 3 && !result.ran; ++attempt) {
      Result<uint16_t> port = FreePort(kAddress);
      if (!port.ok()) {
        *error = std::string("no free port: ") + std::strerror(port.error());
        return port.status();
      }
      Result<ServerCommand> command = MakeCommand(kind, options, setup, *port, error);
      if (!command.ok()) return command.status();
      Result<std::unique_ptr<ServerProcess>> process =
          ServerProcess::Start(*command, std::chrono::seconds(15), &start_error);
      if (process.ok()) {
        running->push_back({&result, std::move(*process), *port});
        result.ran = true;
      }
    }
    if (!result.ran) {
      *error = result.name + " did not start: " + start_error;
      return Status::Error(ECHILD);
    }
    say(result.name + ": started on " + HostPort(kAddress, running->back().port));
  }
  return Status::Ok();
}

// Peak RSS of a server's process tree while something else runs: sampled every 100 ms on
// a thread of its own (RSS is a level, not a counter, so it has to be watched).
class RssWatcher {
 public:
  explicit RssWatcher(pid_t root)
      : thread_([this, root] {
          while (!stop_.load()) {
            peak_ = std::max(peak_.load(), SampleProcessTree(root).rss_bytes);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }) {}
  ~RssWatcher() { Stop(); }
  RssWatcher(const RssWatcher&) = delete;
  RssWatcher& operator=(const RssWatcher&) = delete;
  uint64_t Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return peak_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> peak_{0};
  std::thread thread_;
};

// Many keep-alive clients fetching the small file from each TLS server in turn.
Status RunLoad(const ServeBenchOptions& options, std::vector<RunningServer>& running,
               ServeBenchReport* report, std::string* error) {
  std::string expected(options.small_file_size, '\0');
  FillPattern(kSmallSeed, 0,
              std::span(reinterpret_cast<uint8_t*>(expected.data()), expected.size()));
  for (RunningServer& server : running) {
    const ServerKind kind = server.result->kind;
    if (!IsTls(kind)) continue;
    LoadResult& load = report->load.emplace_back();
    load.kind = kind;
    load.name = server.result->name;
    load.connections = options.connections;
    KeepAliveOptions client;
    client.host = kAddress;
    client.port = server.port;
    client.path = std::string("/") + kSmallFile;
    client.connections = options.connections;
    client.duration = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(options.load_seconds));
    client.expected_body = expected;  // every connection's first body is compared
    if (options.progress) {
      char line[160];
      std::snprintf(line, sizeof(line), "%s: %d keep-alive connections for %g s", load.name.c_str(),
                    options.connections, options.load_seconds);
      options.progress(line);
    }
    const ProcessUsage before = server.process->Usage();
    RssWatcher watcher(server.process->pid());
    Result<KeepAliveResult> result = RunKeepAliveLoad(client, error);
    load.server_peak_rss_bytes = watcher.Stop();
    const ProcessUsage after = server.process->Usage();
    if (!result.ok()) {
      *error = load.name + ": many-connections run: " + *error;
      return result.status();
    }
    load.ran = true;
    load.requests = result->requests;
    load.requests_per_second = result->requests_per_second;
    load.errors = result->errors.total();
    load.first_error = result->first_error;
    load.connections_established = result->connections_established;
    load.latency_p50_ms = static_cast<double>(result->latency_p50_us) / 1000;
    load.latency_p99_ms = static_cast<double>(result->latency_p99_us) / 1000;
    load.server_cpu_seconds = after.cpu_seconds - before.cpu_seconds;
    if (options.progress) {
      char line[200];
      std::snprintf(line, sizeof(line), "%s: %.0f req/s, %llu errors, peak RSS %.1f MiB",
                    load.name.c_str(), load.requests_per_second,
                    static_cast<unsigned long long>(load.errors),
                    static_cast<double>(load.server_peak_rss_bytes) / (1024.0 * 1024.0));
      options.progress(line);
    }
  }
  return Status::Ok();
}

}  // namespace

std::string ServerName(ServerKind kind) {
  switch (kind) {
    case ServerKind::kNginxPlain:
      return "plaintext";
    case ServerKind::kNginxOpenSsl:
      return "nginx";
    case ServerKind::kNginxKtls:
      return "nginx+ktls";
    case ServerKind::kKtlsServe:
      return "ktls-serve";
  }
  return "";
}

Result<ServeBenchReport> RunServeBenchmark(const ServeBenchOptions& options, std::string* error) {
  auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  ServeBenchReport report;
  report.file_size = options.file_size;
  report.runs = options.runs;
  report.small_file_size = options.small_file_size;
  report.client = options.tls_client == FetchTransport::kTlsKtls
                      ? "ktls (OpenSSL handshake, records opened by ktls)"
                      : "OpenSSL (records opened in user space)";
  say("preparing " + options.work_dir);
  Result<Setup> setup = Prepare(options, error);
  if (!setup.ok()) return setup.status();

  // Every server started is stopped when `running` goes, on the error returns below too
  // (~ServerProcess); if this process dies instead, the kernel stops them.
  std::vector<RunningServer> running;
  KTLS_RETURN_IF_ERROR(StartServers(options, *setup, &report, &running, error));

  // One checked download per server first: every byte against the pattern, and the
  // file in the page cache before anything is timed.
  for (RunningServer& server : running) {
    FetchOptions fetch = FetchFor(options, server);
    fetch.pattern_seed = kBigSeed;
    Result<FetchResult> checked = FetchOnce(fetch, error);
    if (!checked.ok()) {
      *error = server.result->name + ": checked download failed: " + *error;
      return checked.status();
    }
    server.result->protocol = checked->protocol;
    server.result->client_rx_offloaded = checked->rx_offloaded;
    say(server.result->name + ": checked " + std::to_string(checked->body_bytes) + " bytes (" +
        checked->protocol + ")");
  }

  // Timed runs, round-robin over the servers, so drift on a noisy machine spreads evenly.
  for (int run = 0; run < options.runs; ++run) {
    for (RunningServer& server : running) {
      FetchOptions fetch = FetchFor(options, server);
      const ProcessUsage before = server.process->Usage();
      const double client_before = ProcessCpuSeconds();
      Result<FetchResult> fetched = FetchOnce(fetch, error);
      const double client_after = ProcessCpuSeconds();
      const ProcessUsage after = server.process->Usage();
      if (!fetched.ok()) {
        *error = server.result->name + ": run " + std::to_string(run + 1) + ": " + *error;
        return fetched.status();
      }
      RunSample sample;
      sample.seconds = fetched->seconds;
      if (fetched->seconds > 0) {
        sample.gigabytes_per_second =
            static_cast<double>(fetched->body_bytes) / fetched->seconds / 1e9;
      }
      sample.server_cpu_seconds = after.cpu_seconds - before.cpu_seconds;
      sample.client_cpu_seconds = client_after - client_before;
      server.result->samples.push_back(sample);
      char line[160];
      std::snprintf(line, sizeof(line), "%s: run %d/%d %.2f GB/s, server %.2f CPU-s",
                    server.result->name.c_str(), run + 1, options.runs, sample.gigabytes_per_second,
                    sample.server_cpu_seconds);
      say(line);
    }
  }
  const double gib = static_cast<double>(options.file_size) / kGiB;
  for (RunningServer& server : running) {
    ServerResult& result = *server.result;
    std::vector<double> rates;
    std::vector<double> server_cpu;
    std::vector<double> client_cpu;
    for (const RunSample& sample : result.samples) {
      rates.push_back(sample.gigabytes_per_second);
      server_cpu.push_back(sample.server_cpu_seconds / gib);
      client_cpu.push_back(sample.client_cpu_seconds / gib);
    }
    result.gigabytes_per_second = Median(rates);
    result.server_cpu_seconds_per_gib = Median(server_cpu);
    result.client_cpu_seconds_per_gib = Median(client_cpu);
  }
  // Exports are refreshed every 200 ms: wait for the last transfer to show.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  for (RunningServer& server : running) {
    server.result->records_sealed_by_ktls = RecordsSealedByKtls(server.process->pid());
  }

  if (options.connections > 0) KTLS_RETURN_IF_ERROR(RunLoad(options, running, &report, error));

  for (RunningServer& server : running) server.process->Stop();
  return report;
}

}  // namespace ktls::bench
