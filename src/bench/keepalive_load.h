// The client of `ktls bench serve`'s many-connections run: N keep-alive HTTP/1.1 clients
// (TLS through OpenSSL in user space, or plain TCP) fetching one file again and again,
// all driven by one thread with epoll, until a deadline or a request count. It reports
// requests/s, errors by kind and latency percentiles; the server's own cost is measured
// separately (process_usage.h).
//
// One thread is enough on purpose: the server shares the machine's cores with the
// client, so the client should spend as little CPU as it can (no thread switches, one
// read buffer, bodies compared only where asked).
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"

namespace ktls::bench {

struct KeepAliveOptions {
  std::string host = "127.0.0.1";  // IPv4/IPv6 literal or a name, resolved once
  uint16_t port = 0;
  bool tls = true;
  // The client SSL_CTX. No certificate verification: the benchmark runs on loopback
  // against a self-signed certificate.
  int tls_min_version = TLS1_3_VERSION;
  int tls_max_version = TLS1_3_VERSION;
  std::string tls13_ciphersuites = "TLS_AES_128_GCM_SHA256";  // empty: OpenSSL's default
  std::string tls12_cipher_list;                              // empty: OpenSSL's default
  std::string sni = "localhost";                              // empty: no SNI
  std::string host_header = "localhost";
  std::string path = "/";
  int connections = 1000;
  std::chrono::steady_clock::duration duration = std::chrono::seconds(5);
  uint64_t max_requests = 0;  // stop once this many completed; 0: only the deadline
  // At most this many new connections per millisecond (a token bucket; bursts of at
  // most 8 ms' worth), so that 1000 clients do not overflow the server's listen backlog
  // at once (a dropped SYN costs a second).
  int connects_per_ms = 16;
  // A slot whose connect or handshake fails this many times in a row more is given up.
  int connect_retries = 3;
  // A connection that makes no progress for this long is closed and counted (timeout);
  // a peer that stops responding costs that connection only.
  std::chrono::steady_clock::duration io_timeout = std::chrono::seconds(10);
  // The Content-Length a 200 response must have; unset: any.
  std::optional<uint64_t> expected_body_size;
  // When not empty, the body bytes are compared with it (and its size is the expected
  // size): the first response of every connection, or every response.
  std::string expected_body;
  bool compare_every_body = false;
};

// Latencies in fixed memory: log-linear buckets, 32 per power of two, so a percentile is
// known within about 3% (exact below 32).
class LatencyHistogram {
 public:
  void Record(uint64_t value);
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  // The value below which `fraction` (0..1) of the recorded ones lie: the middle of its
  // bucket, clamped to the largest value seen. 0 when empty.
  uint64_t Percentile(double fraction) const;

 private:
  static constexpr int kSubBits = 5;
  static constexpr size_t kBuckets = size_t{64 - kSubBits + 1} << kSubBits;
  static size_t BucketOf(uint64_t value);
  static uint64_t LowestIn(size_t bucket);

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

struct KeepAliveErrors {
  uint64_t connect = 0;        // TCP connects refused, reset or timed out (every attempt)
  uint64_t tls = 0;            // handshakes failed or timed out (every attempt)
  uint64_t http_status = 0;    // responses whose status was not 200
  uint64_t bad_response = 0;   // unparsable head, no Content-Length, unrequested bytes
  uint64_t body_length = 0;    // 200 with a Content-Length other than the expected one
  uint64_t body_mismatch = 0;  // body bytes different from the expected ones
  uint64_t closed = 0;         // reset or closed by the server with a request in flight
  uint64_t timeouts = 0;       // requests without progress for io_timeout

  uint64_t total() const {
    return connect + tls + http_status + bad_response + body_length + body_mismatch + closed +
           timeouts;
  }
};

struct KeepAliveResult {
  uint64_t requests = 0;    // 200 responses with the expected length (and bytes)
  uint64_t body_bytes = 0;  // of those requests
  uint64_t bodies_compared = 0;
  double elapsed_seconds = 0;
  double requests_per_second = 0;
  // Until every client was established at once (0: never), and the rate of requests
  // completed after that moment: the run without its ramp.
  double ramp_seconds = 0;
  double steady_requests_per_second = 0;
  uint64_t connections_established = 0;  // connected (and handshaken, with TLS)
  uint64_t connect_retries = 0;          // attempts repeated after a failed one
  uint64_t slots_abandoned = 0;          // clients that ran out of retries
  uint64_t reconnects = 0;               // connections replaced after being established
  uint64_t server_closes = 0;            // responses with Connection: close
  int peak_open_connections = 0;
  KeepAliveErrors errors;
  // From send to last body byte of each counted request, microseconds.
  uint64_t latency_p50_us = 0;
  uint64_t latency_p90_us = 0;
  uint64_t latency_p99_us = 0;
  uint64_t latency_max_us = 0;
  std::string first_error;  // a description of the first error seen, for the report
};

// Runs the load until the deadline (requests still in flight then are not counted),
// until max_requests completed, or until every client gave up connecting. Raises the
// soft RLIMIT_NOFILE (as far as the hard limit allows) when connections + 64 descriptors
// do not fit, and leaves it raised.
// SIGPIPE is blocked in the calling thread while it runs (OpenSSL writes with write(2)).
// Errors, with `error` saying what: EINVAL for bad options or ones OpenSSL refuses,
// ENOENT for a host that does not resolve, EMFILE when the descriptor limit cannot
// hold the connections, errno of epoll_create1.
Result<KeepAliveResult> RunKeepAliveLoad(const KeepAliveOptions& options, std::string* error);

}  // namespace ktls::bench
