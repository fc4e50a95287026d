// ktls: inspect and measure the ktls library on this host.
#include <CLI/CLI.hpp>

#include "tools/ktls/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"ktls: FreeBSD ktls(4) semantics on Linux; host probe and benchmarks", "ktls"};
  app.set_version_flag("--version", KTLS_VERSION_STRING);
  app.require_subcommand(1);

  ktls::tool::RegisterProbeCommand(app);
  ktls::tool::RegisterRunCommand(app);
  ktls::tool::RegisterServeCommand(app);
  ktls::tool::RegisterSysctlCommand(app);
  ktls::tool::RegisterStatCommand(app);
  ktls::tool::RegisterIfconfigCommand(app);

  CLI::App* bench = app.add_subcommand("bench", "Measure throughput");
  bench->require_subcommand(1);
  ktls::tool::RegisterBenchCryptoCommand(*bench);

  const int parsed_argc = ktls::tool::SetAsideRunArguments(argc, argv);
  CLI11_PARSE(app, parsed_argc, argv);
  return 0;
}
