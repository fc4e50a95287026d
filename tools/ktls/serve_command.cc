// ktls serve: an HTTPS/1.1 static file server whose records are sealed and opened by
// ktls (src/server/). Without arguments it serves a small demo site with a
// self-signed certificate, both kept in a per-user state directory.
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "server/engine_counters.h"
#include "server/listen_address.h"
#include "server/self_signed_cert.h"
#include "server/server.h"
#include "tools/ktls/commands.h"
#include "tools/ktls/demo_site.h"

namespace ktls::tool {
namespace {

constexpr char kDefaultListen[] = "127.0.0.1:8443";

struct Flags {
  std::string root;
  std::string listen = kDefaultListen;
  int port = -1;  // overrides the port of --listen when set
  std::string cert_file;
  std::string key_file;
  int threads = 0;  // 0: one per CPU
  double idle_timeout = 15;
  double shutdown_timeout = 10;
  size_t max_header_bytes = 8192;
  bool access_log = false;
};

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "ktls serve: " << message << "\n";
  throw CLI::RuntimeError(1);
}

server::Clock::duration Seconds(double seconds) {
  return std::chrono::duration_cast<server::Clock::duration>(
      std::chrono::duration<double>(seconds));
}

void PrintSummary(const server::Server& server, const server::EngineCounters& before,
                  double seconds) {
  const server::ServerStats& s = server.stats();
  const server::EngineCounters after = server::ReadEngineCounters();
  auto load = [](const std::atomic<uint64_t>& counter) { return counter.load(); };
  std::printf("ktls serve: stopped after %.1f s\n", seconds);
  std::printf(
      "  connections: accepted=%llu handshakes=%llu tls1.3=%llu tls1.2=%llu "
      "handshake_failures=%llu offload_failures=%llu\n",
      static_cast<unsigned long long>(load(s.connections)),
      static_cast<unsigned long long>(load(s.handshakes)),
      static_cast<unsigned long long>(load(s.tls13)),
      static_cast<unsigned long long>(load(s.tls12)),
      static_cast<unsigned long long>(load(s.handshake_failures)),
      static_cast<unsigned long long>(load(s.offload_failures)));
  std::printf(
      "  requests: total=%llu 2xx=%llu 3xx=%llu 4xx=%llu 5xx=%llu timeouts=%llu "
      "post_handshake_closes=%llu forced_at_shutdown=%llu\n",
      static_cast<unsigned long long>(load(s.requests)),
      static_cast<unsigned long long>(load(s.responses_by_class[2])),
      static_cast<unsigned long long>(load(s.responses_by_class[3])),
      static_cast<unsigned long long>(load(s.responses_by_class[4])),
      static_cast<unsigned long long>(load(s.responses_by_class[5])),
      static_cast<unsigned long long>(load(s.timeouts)),
      static_cast<unsigned long long>(load(s.post_handshake_closes)),
      static_cast<unsigned long long>(load(s.forced_closes)));
  std::printf("  bytes: body=%llu total=%llu (plaintext handed to ktls)\n",
              static_cast<unsigned long long>(load(s.body_bytes)),
              static_cast<unsigned long long>(load(s.bytes_sent)));
  std::printf(
      "  tls records (kern.ipc.tls.stats): sealed=%llu opened=%llu sessions=%llu "
      "failed_crypto=%llu corrupted_records=%llu\n",
      static_cast<unsigned long long>(after.records_sealed - before.records_sealed),
      static_cast<unsigned long long>(after.records_opened - before.records_opened),
      static_cast<unsigned long long>(after.sessions - before.sessions),
      static_cast<unsigned long long>(after.failed_crypto - before.failed_crypto),
      static_cast<unsigned long long>(after.corrupted_records - before.corrupted_records));
  std::fflush(stdout);
}

void Serve(const Flags& flags) {
  // SIGINT and SIGTERM are taken by sigwait below; block them before any thread starts
  // so that every thread (ours and the library's) inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::string error;
  server::ServerOptions options;
  const bool demo = flags.root.empty();
  const bool self_signed = flags.cert_file.empty();
  if (flags.cert_file.empty() != flags.key_file.empty()) {
    Fail("--cert and --key go together");
  }
  Result<server::ListenAddress> listen = server::ParseListenAddress(flags.listen);
  if (!listen.ok()) Fail("bad --listen address '" + flags.listen + "' (want ADDR:PORT)");
  options.listen = *listen;
  if (flags.port >= 0) server::SetPort(&options.listen, static_cast<uint16_t>(flags.port));
  if (demo || self_signed) {
    Result<DemoPaths> paths = ChooseDemoPaths(&error);
    if (!paths.ok()) Fail(error);
    if (demo) {
      if (!PrepareDemoSite(*paths, &error).ok()) Fail(error);
      options.root = paths->site_dir;
    }
    if (self_signed) {
      Result<server::CertificateFiles> files =
          server::EnsureSelfSignedCertificate(paths->cert_file, paths->key_file);
      if (!files.ok()) {
        Fail("cannot create a certificate in " + paths->state_dir + ": " +
             std::strerror(files.error()));
      }
      options.tls.cert_file = files->cert_file;
      options.tls.key_file = files->key_file;
      if (files->created) {
        std::printf(
            "ktls serve: created a self-signed certificate (EC P-256) for localhost, "
            "127.0.0.1 and ::1: %s (key %s, mode 0600)\n",
            files->cert_file.c_str(), files->key_file.c_str());
      }
    }
  }
  if (!demo) options.root = flags.root;
  if (!self_signed) {
    options.tls.cert_file = flags.cert_file;
    options.tls.key_file = flags.key_file;
  }

  options.threads = flags.threads > 0
                        ? flags.threads
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.limits.max_header_bytes = flags.max_header_bytes;
  options.idle_timeout = Seconds(flags.idle_timeout);
  options.shutdown_timeout = Seconds(flags.shutdown_timeout);
  options.access_log = flags.access_log;

  const server::EngineCounters before = server::ReadEngineCounters();
  server::Server server(options);
  if (!server.Start(&error).ok()) Fail(error);
  const auto started = std::chrono::steady_clock::now();

  const std::string origin = "https://" + server::DialableAddress(server.address());
  std::printf(
      "ktls serve: serving %s on %s/ (%d thread%s; records sealed and opened by "
      "ktls; Ctrl-C to stop)\n",
      server.root().path().c_str(), origin.c_str(), options.threads,
      options.threads == 1 ? "" : "s");
  const std::string path = demo ? "/hello.txt" : "/";
  if (self_signed) {
    std::printf("  try: curl --cacert %s %s%s\n", options.tls.cert_file.c_str(), origin.c_str(),
                path.c_str());
  } else {
    std::printf("  try: curl %s%s\n", origin.c_str(), path.c_str());
  }
  if (demo) {
    std::printf(
        "       curl --cacert %s -O %s/random-1MiB.bin && sha256sum -c <(curl -s "
        "--cacert %s %s/SHA256SUMS)\n",
        options.tls.cert_file.c_str(), origin.c_str(), options.tls.cert_file.c_str(),
        origin.c_str());
  }
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::printf(
      "ktls serve: %s: no longer accepting; finishing responses in flight (up to "
      "%.1f s)\n",
      signal_number == SIGINT ? "SIGINT" : "SIGTERM", flags.shutdown_timeout);
  std::fflush(stdout);
  server.Stop();
  // A second signal does not wait for the deadline.
  std::thread([signals] {
    int again = 0;
    sigwait(&signals, &again);
    std::fprintf(stderr, "ktls serve: second signal, exiting now\n");
    std::_Exit(1);
  }).detach();
  server.Wait();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  PrintSummary(server, before, seconds);
}

}  // namespace

void RegisterServeCommand(CLI::App& app) {
  auto flags = std::make_shared<Flags>();
  CLI::App* serve = app.add_subcommand(
      "serve", "HTTPS/1.1 static file server on ktls (no DIR: a built-in demo on " +
                   std::string(kDefaultListen) + ")");
  serve->add_option("DIR", flags->root, "Directory to serve (default: the built-in demo site)")
      ->check(CLI::ExistingDirectory);
  serve->add_option("--listen", flags->listen, "Address to listen on, ADDR:PORT or [ADDR6]:PORT")
      ->capture_default_str();
  serve->add_option("--port", flags->port, "Port, overriding --listen's (0: any free port)")
      ->check(CLI::Range(0, 65535));
  serve->add_option("--cert", flags->cert_file, "Certificate chain, PEM (default: self-signed)")
      ->check(CLI::ExistingFile);
  serve->add_option("--key", flags->key_file, "Private key, PEM")->check(CLI::ExistingFile);
  serve->add_option("--threads", flags->threads, "Event loops (default: one per CPU)")
      ->check(CLI::Range(1, 256));
  serve
      ->add_option("--idle-timeout", flags->idle_timeout,
                   "Seconds a handshake or request head may take, and an idle or stalled "
                   "connection may last")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve
      ->add_option("--shutdown-timeout", flags->shutdown_timeout,
                   "Seconds responses in flight may take after SIGINT/SIGTERM")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve
      ->add_option("--max-header-bytes", flags->max_header_bytes,
                   "Largest request head (431 beyond)")
      ->check(CLI::Range(size_t{256}, size_t{1} << 20))
      ->capture_default_str();
  serve->add_flag("--access-log", flags->access_log, "One line per response on stderr");
  serve->callback([flags] { Serve(*flags); });
}

}  // namespace ktls::tool
