// The kern.ipc.tls.* knobs and counters of this process, with FreeBSD's names and
// defaults. Sessions read knobs when they are created (as FreeBSD does), so a change
// affects new sessions only.
#pragma once

#include <atomic>
#include <cstdint>

#include "control/counter.h"

namespace ktls::control {

struct Knobs {
  // kern.ipc.tls.enable: new sessions may be created. FreeBSD's source default is 0;
  // ours is 1, because linking this library is already the operator's opt-in.
  std::atomic<bool> enable{true};
  std::atomic<bool> rx_enable{true};              // kern.ipc.tls.rx_enable
  std::atomic<bool> cbc_enable{true};             // kern.ipc.tls.cbc_enable
  std::atomic<uint32_t> maxlen{16384};            // kern.ipc.tls.maxlen (tunable)
  std::atomic<uint32_t> ifnet_permitted{0};       // kern.ipc.tls.ifnet.permitted
  std::atomic<uint32_t> ifnet_max_rexmit_pct{2};  // kern.ipc.tls.ifnet_max_rexmit_pct
  std::atomic<int32_t> bind_threads{0};           // kern.ipc.tls.bind_threads (tunable)
  // Crypto worker threads; 0 means one per CPU. (FreeBSD sizes its pool to mp_ncpus;
  // this knob, kern.ipc.tls.sw_threads, is ours.)
  std::atomic<int32_t> sw_threads{0};
  // Bytes at or above which one write is sealed on the worker pool (ours).
  std::atomic<uint32_t> sw_parallel_min{262144};
  std::atomic<bool> sw_buffer_cache{true};  // kern.ipc.tls.sw_buffer_cache (tunable)
  std::atomic<int32_t> mb_use_ext_pgs{1};   // kern.ipc.mb_use_ext_pgs
};

struct ModeCounters {
  Counter gcm;
  Counter cbc;
  Counter chacha20;
};

struct OcfCounters {
  Counter tls10_cbc_encrypts;
  Counter tls11_cbc_encrypts;
  Counter tls11_cbc_decrypts;
  Counter tls12_gcm_encrypts;
  Counter tls12_gcm_decrypts;
  Counter tls12_chacha20_encrypts;
  Counter tls12_chacha20_decrypts;
  Counter tls13_gcm_encrypts;
  Counter tls13_gcm_decrypts;
  Counter tls13_chacha20_encrypts;
  Counter tls13_chacha20_decrypts;
  Counter inplace;
  Counter separate_output;
  Counter retries;
};

// Linux's /proc/net/tls_stat counters, for sockets driven through the Linux kTLS ABI.
struct LinuxTlsCounters {
  Counter curr_tx_sw;           // TlsCurrTxSw
  Counter curr_rx_sw;           // TlsCurrRxSw
  Counter curr_tx_device;       // TlsCurrTxDevice
  Counter curr_rx_device;       // TlsCurrRxDevice
  Counter tx_sw;                // TlsTxSw
  Counter rx_sw;                // TlsRxSw
  Counter tx_device;            // TlsTxDevice
  Counter rx_device;            // TlsRxDevice
  Counter decrypt_error;        // TlsDecryptError
  Counter rx_device_resync;     // TlsRxDeviceResync
  Counter decrypt_retry;        // TlsDecryptRetry
  Counter rx_no_pad_violation;  // TlsRxNoPadViolation
  Counter rx_rekey_ok;          // TlsRxRekeyOk
  Counter rx_rekey_error;       // TlsRxRekeyError
  Counter tx_rekey_ok;          // TlsTxRekeyOk
  Counter tx_rekey_error;       // TlsTxRekeyError
  Counter rx_rekey_received;    // TlsRxRekeyReceived
};

struct Stats {
  Counter offload_total;  // kern.ipc.tls.stats.offload_total
  Counter enable_calls;
  Counter active;             // gauge: live sessions
  Counter corrupted_records;  // fatal RX header errors
  Counter failed_crypto;      // records that failed to open (or seal)
  Counter switch_to_ifnet;
  Counter switch_to_sw;
  Counter switch_failed;
  Counter sw_tx_inqueue;  // gauge: records queued for worker sealing
  Counter sw_rx_inqueue;  // gauge
  Counter sw_tx_pending;  // gauge: records parked waiting for earlier ones
  Counter threads;        // gauge: crypto worker threads
  Counter ifnet_disable_ok;
  Counter ifnet_disable_failed;
  Counter destroy_task;
  Counter tasks_active;  // kern.ipc.tls.tasks_active
  OcfCounters ocf;       // kern.ipc.tls.stats.ocf.*
  ModeCounters sw;       // kern.ipc.tls.sw.{gcm,cbc,chacha20}: active sessions
  ModeCounters ifnet;    // kern.ipc.tls.ifnet.*
  ModeCounters toe;      // kern.ipc.tls.toe.*
  Counter ifnet_reset;   // kern.ipc.tls.ifnet.reset
  Counter ifnet_reset_dropped;
  Counter ifnet_reset_failed;
  LinuxTlsCounters linux_tls;
};

// The process-wide instances. Defaults are loaded once from the environment and config
// file (see registry.h) before first use.
Knobs& GetKnobs();
Stats& GetStats();

// The same Knobs object as GetKnobs(), without loading the start-up configuration first.
// Only for the registry, which LoadStartupConfig() itself writes through (calling
// GetKnobs() there would re-enter its one-time initialisation). Everything else uses
// GetKnobs().
Knobs& KnobsWithoutStartupConfig();

}  // namespace ktls::control
