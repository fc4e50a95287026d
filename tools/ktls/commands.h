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

}  // namespace ktls::tool
