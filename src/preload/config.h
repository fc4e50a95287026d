// How the interposer behaves, from the environment (`ktls run` sets these):
//
//   KTLS_PRELOAD_MODE        auto (default): the kernel's TLS ULP when it has one, our
//                            software records otherwise, neither with
//                            kern.ipc.tls.enable=0; sw: always ours; kernel: never
//                            ours (every call goes to the kernel unchanged).
//   KTLS_PRELOAD_DIRECTIONS  both (default), tx or rx: TLS_TX / TLS_RX for the other
//                            direction fail with ENOPROTOOPT, so the TLS library keeps
//                            that direction in user space.
//   KTLS_PRELOAD_VERBOSE     1: print a one-line summary to stderr at exit.
//   KTLS_STATS_FILE          write the same counters as name=value lines to this file
//                            at exit ("%p" in the name becomes the process id).
//   KTLS_PRELOAD_EXIT_FLUSH_MS  how long exit may wait for queued records to reach the
//                            kernel (default 10000).
//
// kern.ipc.tls.ifnet.permitted is not consulted: on FreeBSD it admits NIC offload,
// which has no counterpart here. The Linux kernel's own TLS ULP is this interposer's
// "hardware" path, chosen by KTLS_PRELOAD_MODE.
#pragma once

#include <chrono>
#include <string>

namespace ktls::preload {

enum class Mode { kAuto, kSoftware, kKernel };

struct Config {
  Mode mode = Mode::kAuto;
  bool allow_tx = true;
  bool allow_rx = true;
  bool verbose = false;
  std::string stats_file;
  std::chrono::milliseconds exit_flush_budget{10000};
};

// Read once: at load time (lifecycle.cc), before the program can change its environment.
const Config& GetConfig();

}  // namespace ktls::preload
