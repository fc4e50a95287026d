// Every subcommand of `ktls` registers itself on the parent command through one of
// these; main() only builds the command tree and runs it.
#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace ktls::tool {

// ktls probe: what this host offers (CPU, crypto libraries, kernel TLS).
void RegisterProbeCommand(CLI::App& app);

// ktls bench crypto: record engine throughput against the raw crypto libraries.
void RegisterBenchCryptoCommand(CLI::App& bench);

// ktls bench serve: HTTPS file serving end to end, ktls vs nginx and the plaintext ceiling.
void RegisterBenchServeCommand(CLI::App& bench);

// ktls run: a program with the LD_PRELOAD interposer and OpenSSL's kTLS switched on.
void RegisterRunCommand(CLI::App& app);
// The program's arguments must reach it unparsed (`ktls run -- prog -v --x`): sets
// them aside and returns how many leading arguments CLI11 should parse.
int SetAsideRunArguments(int argc, char** argv);

// ktls serve: an HTTPS static file server whose records ktls seals and opens.
void RegisterServeCommand(CLI::App& app);

// ktls sysctl: kern.ipc.tls.* of the processes using ktls; sets run-time knobs in them.
void RegisterSysctlCommand(CLI::App& app);

// ktls stat: the offloaded sockets of those processes; --linux: /proc/net/tls_stat.
void RegisterStatCommand(CLI::App& app);

// ktls ifconfig: interfaces' TLS offload features, and switching them.
void RegisterIfconfigCommand(CLI::App& app);

}  // namespace ktls::tool
