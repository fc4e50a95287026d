// ktls: inspect and measure the ktls library on this host.
#include <CLI/CLI.hpp>

#include "tools/ktls/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"ktls: FreeBSD ktls(4) semantics on Linux; host probe and benchmarks", "ktls"};
  app.set_version_flag("--version", KTLS_VERSION_STRING);
  app.require_subcommand(1);

  ktls::tool::RegisterProbeCommand(app);

  CLI::App* bench = app.add_subcommand("bench", "Measure throughput");
  bench->require_subcommand(1);
  ktls::tool::RegisterBenchCryptoCommand(*bench);

  CLI11_PARSE(app, argc, argv);
  return 0;
}
