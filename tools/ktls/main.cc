// ktls: inspect, operate and measure the ktls library on this host.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "tools/ktls/commands.h"

namespace {

int RunTool(int argc, char** argv) {
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
  ktls::tool::RegisterBenchServeCommand(*bench);

  const int parsed_argc = ktls::tool::SetAsideRunArguments(argc, argv);
  CLI11_PARSE(app, parsed_argc, argv);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // CLI11 reports usage errors itself; anything else escaping a command (bad_alloc,
  // a library's exception) still ends with a message and a failure status.
  try {
    return RunTool(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ktls: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "ktls: unexpected error\n");
  }
  return 1;
}
