// Counters the event loops of one server share; read for the shutdown summary.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace ktls::server {

struct ServerStats {
  std::atomic<uint64_t> connections{0};  // accepted
  std::atomic<uint64_t> handshakes{0};   // finished and offloaded
  std::atomic<uint64_t> tls12{0};
  std::atomic<uint64_t> tls13{0};
  std::atomic<uint64_t> handshake_failures{0};  // refused by OpenSSL or cut short
  std::atomic<uint64_t> offload_failures{0};    // keys OpenSSL negotiated but ktls refused
  std::atomic<uint64_t> requests{0};            // responses completely handed to ktls
  std::array<std::atomic<uint64_t>, 6> responses_by_class{};  // [2] = 2xx, ...
  std::atomic<uint64_t> bytes_sent{0};  // plaintext accepted by ktls: heads + bodies
  std::atomic<uint64_t> body_bytes{0};
  std::atomic<uint64_t> timeouts{0};               // closed for idleness or a slow request
  std::atomic<uint64_t> post_handshake_closes{0};  // handshake records after the hand-over
  std::atomic<uint64_t> forced_closes{0};          // still busy at the shutdown deadline

  void Add(std::atomic<uint64_t>& counter, uint64_t n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
};

}  // namespace ktls::server
