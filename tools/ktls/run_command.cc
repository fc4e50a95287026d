// ktls run: runs a program with libktls-preload.so loaded and OpenSSL configured to
// ask for kernel TLS, so an unmodified OpenSSL 3 program gets its records sealed and
// opened by this library on a kernel without the TLS ULP.
#include <limits.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tools/ktls/commands.h"
#include "tools/ktls/exec_target.h"
#include "tools/ktls/openssl_ktls_config.h"

namespace ktls::tool {
namespace {

constexpr char kPreloadName[] = "libktls-preload.so";

// Exit codes as env(1) and nice(1) use them.
constexpr int kOwnFailure = 125;
constexpr int kCannotRun = 126;
constexpr int kNotFound = 127;

struct Flags {
  bool tx_only = false;
  bool rx_only = false;
  bool verbose = false;
  std::vector<std::string> command;
};

// The program's own arguments, set aside before CLI11 sees the command line.
std::vector<std::string>& ProgramArguments() {
  static std::vector<std::string> arguments;
  return arguments;
}

[[noreturn]] void Fail(int code, const std::string& message) {
  std::cerr << "ktls run: " << message << "\n";
  throw CLI::RuntimeError(code);
}

std::string ExecutableDirectory() {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return "";
  std::string exe(path, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

// KTLS_PRELOAD_LIBRARY, else next to this binary: the installed layout
// (bin/../LIBDIR), then the build tree.
std::string FindPreload() {
  if (const char* path = std::getenv("KTLS_PRELOAD_LIBRARY"); path != nullptr && *path) {
    return path;
  }
  const std::string dir = ExecutableDirectory();
  const std::string candidates[] = {
      dir + "/../" KTLS_INSTALL_LIBDIR "/" + kPreloadName,
      dir + "/../lib/" + kPreloadName,
      dir + "/" KTLS_BUILD_TREE_PRELOAD_DIR "/" + kPreloadName,
  };
  for (const std::string& candidate : candidates) {
    char resolved[PATH_MAX];
    if (realpath(candidate.c_str(), resolved) != nullptr && access(resolved, R_OK) == 0) {
      return resolved;
    }
  }
  return "";
}

// Ours goes first: it must see the calls before any other interposer hides them.
std::string PreloadList(const std::string& library) {
  const char* existing = std::getenv("LD_PRELOAD");
  if (existing == nullptr || *existing == '\0') return library;
  if (std::strstr(existing, library.c_str()) != nullptr) return existing;
  return library + ":" + existing;
}

void Run(const Flags& flags) {
  if (flags.command.empty()) Fail(kOwnFailure, "no command given");
  const std::string library = FindPreload();
  if (library.empty()) {
    Fail(kOwnFailure, std::string("cannot find ") + kPreloadName +
                          " next to this program (set KTLS_PRELOAD_LIBRARY)");
  }
  const ExecTarget target = InspectExecTarget(flags.command[0]);
  if (target.path.empty()) Fail(kNotFound, flags.command[0] + ": command not found");
  if (!target.problem.empty()) {
    Fail(kCannotRun, "cannot load the interposer into " + target.path + ": " + target.problem);
  }
  const OpensslKtlsConfig config = MakeOpensslKtlsConfig();
  std::string error;
  const std::string config_path = WriteOpensslKtlsConfig(config, &error);
  if (config_path.empty()) Fail(kOwnFailure, error);

  const char* directions = flags.tx_only ? "tx" : flags.rx_only ? "rx" : "both";
  setenv("LD_PRELOAD", PreloadList(library).c_str(), 1);
  setenv("OPENSSL_CONF", config_path.c_str(), 1);
  setenv("KTLS_PRELOAD_DIRECTIONS", directions, 1);
  if (flags.verbose) {
    setenv("KTLS_PRELOAD_VERBOSE", "1", 1);
    std::cerr << "ktls run: preloading " << library << "\n"
              << "ktls run: OPENSSL_CONF=" << config_path << " (Options = KTLS over "
              << (config.base.empty() ? "OpenSSL's defaults" : config.base) << ")\n"
              << "ktls run: directions: " << directions << "\n";
  }
  std::vector<char*> argv;
  for (const std::string& arg : flags.command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execv(target.path.c_str(), argv.data());
  const int exec_error = errno;
  Fail(exec_error == ENOENT ? kNotFound : kCannotRun,
       target.path + ": " + std::strerror(exec_error));
}

}  // namespace

int SetAsideRunArguments(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "run") != 0) return argc;
  for (int i = 2; i < argc; ++i) {
    const bool separator = std::strcmp(argv[i], "--") == 0;
    if (!separator && argv[i][0] == '-') continue;  // an option of `run` itself
    for (int j = separator ? i + 1 : i; j < argc; ++j) ProgramArguments().push_back(argv[j]);
    return i;
  }
  return argc;
}

void RegisterRunCommand(CLI::App& app) {
  auto flags = std::make_shared<Flags>();
  CLI::App* run = app.add_subcommand(
      "run",
      "Run a program with kTLS emulation: OpenSSL's kernel TLS calls handled here.\n"
      "Usage: ktls run [--tx-only|--rx-only] [-v] [--] COMMAND [ARGS...]");
  auto* tx = run->add_flag("--tx-only", flags->tx_only,
                           "Offload only transmission (TLS_RX stays in the TLS library)");
  auto* rx = run->add_flag("--rx-only", flags->rx_only,
                           "Offload only reception (TLS_TX stays in the TLS library)");
  tx->excludes(rx);
  run->add_flag("-v,--verbose", flags->verbose,
                "Explain the setup; each process prints a summary at exit");
  run->add_option("command", flags->command,
                  "The program and its arguments (given to it unparsed)");
  run->footer(
      "Environment: KTLS_PRELOAD_MODE=auto|sw|kernel (auto: the kernel's TLS when "
      "it has it), KTLS_STATS_FILE=path (%p: pid), KTLS_PRELOAD_LIBRARY=path.");
  run->callback([flags] {
    Flags resolved = *flags;
    if (!ProgramArguments().empty()) resolved.command = ProgramArguments();
    Run(resolved);
  });
}

}  // namespace ktls::tool
