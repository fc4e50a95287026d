#include "control/knobs.h"

#include "control/registry.h"

namespace ktls::control {

// Both structs hold only atomics, so they are trivially destructible and safe to use
// from threads that outlive main().
Knobs& KnobsWithoutStartupConfig() {
  static Knobs knobs;
  return knobs;
}

Knobs& GetKnobs() {
  // The object exists before the configuration is loaded into it, so the registry can
  // write through KnobsWithoutStartupConfig() while this initialiser runs; concurrent
  // first callers wait here until the load has finished.
  static Knobs* const knobs = [] {
    Knobs* loaded = &KnobsWithoutStartupConfig();
    LoadStartupConfig();
    return loaded;
  }();
  return *knobs;
}

Stats& GetStats() {
  static Stats stats;
  return stats;
}

}  // namespace ktls::control
