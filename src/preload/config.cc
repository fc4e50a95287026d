#include "preload/config.h"

#include <cstdlib>
#include <cstring>

namespace ktls::preload {
namespace {

bool Is(const char* value, const char* expected) {
  return value != nullptr && std::strcmp(value, expected) == 0;
}

Config Load() {
  Config config;
  const char* mode = std::getenv("KTLS_PRELOAD_MODE");
  if (Is(mode, "sw")) config.mode = Mode::kSoftware;
  if (Is(mode, "kernel")) config.mode = Mode::kKernel;
  const char* directions = std::getenv("KTLS_PRELOAD_DIRECTIONS");
  if (Is(directions, "tx")) config.allow_rx = false;
  if (Is(directions, "rx")) config.allow_tx = false;
  const char* verbose = std::getenv("KTLS_PRELOAD_VERBOSE");
  config.verbose = verbose != nullptr && *verbose != '\0' && !Is(verbose, "0");
  if (const char* file = std::getenv("KTLS_STATS_FILE")) config.stats_file = file;
  if (const char* budget = std::getenv("KTLS_PRELOAD_EXIT_FLUSH_MS")) {
    char* end = nullptr;
    const long ms = std::strtol(budget, &end, 10);
    if (end != budget && *end == '\0' && ms >= 0) {
      config.exit_flush_budget = std::chrono::milliseconds(ms);
    }
  }
  return config;
}

}  // namespace

const Config& GetConfig() {
  // Leaked: read again at exit, after static destructors have run.
  static const Config* config = new Config(Load());
  return *config;
}

}  // namespace ktls::preload
