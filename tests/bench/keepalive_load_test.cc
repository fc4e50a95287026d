// The many-connections load generator against a real `ktls serve` in this process (TLS)
// and a small plaintext responder (plain TCP), plus the error paths: 404s, no listener,
// the request cap and the descriptor limit. No timing assertions beyond generous bounds.
#include "bench/keepalive_load.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "server/listen_address.h"
#include "server/server.h"
#include "test_site.h"

namespace ktls::bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

constexpr size_t kFileSize = size_t{64} * 1024;
// Whole runs must end well before this, whatever the machine's load.
constexpr auto kGenerousBound = seconds(20);

std::string RandomBytes(size_t size) {
  std::mt19937_64 random(42);
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random());
  return bytes;
}

// A plaintext HTTP/1.1 responder: one thread per connection, each answering every
// request head with the same 200 response; every `close_every`-th response on a
// connection says "Connection: close" (0: never).
class PlainResponder {
 public:
  PlainResponder(std::string body, int close_every) : body_(std::move(body)) {
    close_every_ = close_every;
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(address);
    if (bind(listener_, reinterpret_cast<struct sockaddr*>(&address), len) != 0 ||
        listen(listener_, 128) != 0 ||
        getsockname(listener_, reinterpret_cast<struct sockaddr*>(&address), &len) != 0) {
      ADD_FAILURE() << "listener: " << std::strerror(errno);
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~PlainResponder() {
    stop_ = true;
    acceptor_.join();
    for (std::thread& thread : connections_) thread.join();
    close(listener_);
  }
  PlainResponder(const PlainResponder&) = delete;
  PlainResponder& operator=(const PlainResponder&) = delete;

  uint16_t port() const { return port_; }
  uint64_t responses() const { return responses_; }

 private:
  void AcceptLoop() {
    while (!stop_) {
      struct pollfd ready = {listener_, POLLIN, 0};
      if (poll(&ready, 1, 50) <= 0) continue;
      const int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) connections_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    const struct timeval timeout = {0, 50'000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    std::string received;
    char buffer[4096];
    int served = 0;
    while (!stop_) {
      const size_t end = received.find("\r\n\r\n");
      if (end == std::string::npos) {
        const ssize_t n = read(fd, buffer, sizeof(buffer));
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) break;
        received.append(buffer, static_cast<size_t>(n));
        continue;
      }
      received.erase(0, end + 4);
      const bool close_now = close_every_ > 0 && ++served % close_every_ == 0;
      // Field names in other cases and an extra field: the client must tolerate both.
      std::string response = "HTTP/1.1 200 OK\r\nserver: plain-test\r\ncontent-length: " +
                             std::to_string(body_.size()) + "\r\n";
      if (close_now) response += "Connection: close\r\n";
      response += "\r\n" + body_;
      if (send(fd, response.data(), response.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(response.size())) {
        break;
      }
      ++responses_;
      if (close_now) break;
    }
    close(fd);
  }

  std::string body_;
  int close_every_ = 0;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> responses_{0};
  std::thread acceptor_;
  std::vector<std::thread> connections_;  // only the acceptor adds, only ~ joins
};

class KeepAliveLoadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    site_ = new TestSite("keepalive");
    body_ = new std::string(RandomBytes(kFileSize));
    std::ofstream(site_->root() + "/64k.bin", std::ios::binary) << *body_;
  }
  static void TearDownTestSuite() {
    delete site_;
    delete body_;
    site_ = nullptr;
    body_ = nullptr;
  }

  void SetUp() override {
    server_ = site_->StartServer(/*threads=*/2);
    ASSERT_NE(server_, nullptr);
  }

  KeepAliveOptions TlsOptions(int connections) const {
    KeepAliveOptions options;
    options.host = "127.0.0.1";
    options.port = server::PortOf(server_->address());
    options.path = "/64k.bin";
    options.connections = connections;
    options.duration = seconds(1);
    options.expected_body = *body_;
    return options;
  }

  static TestSite* site_;
  static std::string* body_;
  std::unique_ptr<server::Server> server_;
};

TestSite* KeepAliveLoadTest::site_ = nullptr;
std::string* KeepAliveLoadTest::body_ = nullptr;

// Plain TCP clients of `responder`, checking the first body of each connection.
KeepAliveOptions PlainOptions(const PlainResponder& responder, const std::string& body,
                              int connections) {
  KeepAliveOptions options;
  options.tls = false;
  options.port = responder.port();
  options.connections = connections;
  options.expected_body = body;
  return options;
}

// Runs the load and checks it ended within the generous bound.
KeepAliveResult RunBounded(const KeepAliveOptions& options) {
  std::string error;
  const Clock::time_point start = Clock::now();
  Result<KeepAliveResult> result = RunKeepAliveLoad(options, &error);
  EXPECT_LT(Clock::now() - start, kGenerousBound);
  EXPECT_TRUE(result.ok()) << error;
  return result.ok() ? *result : KeepAliveResult();
}

TEST_F(KeepAliveLoadTest, TlsConnectionsFetchTheFileWithoutErrors) {
  const KeepAliveResult result = RunBounded(TlsOptions(50));
  EXPECT_GT(result.requests, 0u);
  EXPECT_EQ(result.errors.total(), 0u) << result.first_error;
  EXPECT_EQ(result.connections_established, 50u);
  EXPECT_EQ(result.peak_open_connections, 50);
  EXPECT_EQ(result.reconnects, 0u);
  EXPECT_EQ(result.body_bytes, result.requests * kFileSize);
  // Each connection's first body was compared byte for byte (and matched, or it would
  // be an error).
  EXPECT_EQ(result.bodies_compared, 50u);
  EXPECT_GE(server_->stats().requests.load(), result.requests);
  EXPECT_EQ(server_->stats().handshakes.load(), 50u);
  EXPECT_GT(result.latency_p50_us, 0u);
  EXPECT_LE(result.latency_p50_us, result.latency_p99_us);
  EXPECT_LE(result.latency_p99_us, result.latency_max_us);
  EXPECT_GT(result.requests_per_second, 0);
}

TEST_F(KeepAliveLoadTest, ComparesEveryBodyWhenAsked) {
  KeepAliveOptions options = TlsOptions(4);
  options.compare_every_body = true;
  const KeepAliveResult result = RunBounded(options);
  EXPECT_GT(result.requests, 0u);
  EXPECT_EQ(result.errors.total(), 0u) << result.first_error;
  EXPECT_EQ(result.bodies_compared, result.requests);
}

TEST_F(KeepAliveLoadTest, WrongExpectedBodyIsAMismatch) {
  KeepAliveOptions options = TlsOptions(2);
  options.expected_body[1000] ^= 1;
  options.max_requests = 20;
  const KeepAliveResult result = RunBounded(options);
  // The first response of each connection is compared, and differs; later ones are not.
  EXPECT_EQ(result.errors.body_mismatch, 2u);
  EXPECT_EQ(result.requests, 20u);
}

TEST_F(KeepAliveLoadTest, WrongExpectedLengthIsCounted) {
  KeepAliveOptions options = TlsOptions(2);
  options.expected_body.clear();
  options.expected_body_size = kFileSize + 1;
  options.duration = std::chrono::milliseconds(300);
  const KeepAliveResult result = RunBounded(options);
  EXPECT_EQ(result.requests, 0u);
  EXPECT_GT(result.errors.body_length, 0u);
}

TEST_F(KeepAliveLoadTest, NotFoundCountsStatusErrors) {
  KeepAliveOptions options = TlsOptions(8);
  options.path = "/missing.bin";
  const KeepAliveResult result = RunBounded(options);
  EXPECT_EQ(result.requests, 0u);
  EXPECT_GT(result.errors.http_status, 0u);
  EXPECT_EQ(result.first_error, "HTTP status 404");
  EXPECT_EQ(result.errors.connect + result.errors.tls + result.errors.closed, 0u);
}

TEST_F(KeepAliveLoadTest, MaxRequestsStopsEarly) {
  KeepAliveOptions options = TlsOptions(10);
  options.duration = seconds(30);
  options.max_requests = 100;
  const KeepAliveResult result = RunBounded(options);
  EXPECT_EQ(result.requests, 100u);
  EXPECT_EQ(result.errors.total(), 0u) << result.first_error;
  EXPECT_LT(result.elapsed_seconds, 20);
}

TEST_F(KeepAliveLoadTest, Tls12WithAChosenCipher) {
  KeepAliveOptions options = TlsOptions(4);
  options.tls_min_version = TLS1_2_VERSION;
  options.tls_max_version = TLS1_2_VERSION;
  options.tls12_cipher_list = "ECDHE-ECDSA-AES256-GCM-SHA384";
  options.duration = std::chrono::milliseconds(500);
  const KeepAliveResult result = RunBounded(options);
  EXPECT_GT(result.requests, 0u);
  EXPECT_EQ(result.errors.total(), 0u) << result.first_error;
  EXPECT_EQ(server_->stats().tls12.load(), 4u);
}

TEST(KeepAliveLoad, PlainTcpKeepAlive) {
  const std::string body = RandomBytes(kFileSize);
  PlainResponder responder(body, /*close_every=*/0);
  KeepAliveOptions options = PlainOptions(responder, body, /*connections=*/8);
  options.duration = seconds(1);
  const KeepAliveResult result = RunBounded(options);
  EXPECT_GT(result.requests, 0u);
  EXPECT_EQ(result.errors.total(), 0u) << result.first_error;
  EXPECT_EQ(result.connections_established, 8u);
  EXPECT_EQ(result.bodies_compared, 8u);
  EXPECT_GE(responder.responses(), result.requests);
}

TEST(KeepAliveLoad, ConnectionCloseReconnects) {
  const std::string body = RandomBytes(1000);
  PlainResponder responder(body, /*close_every=*/3);
  KeepAliveOptions options = PlainOptions(responder, body, /*connections=*/4);
  options.duration = seconds(10);
  options.max_requests = 60;
  const KeepAliveResult result = RunBounded(options);
  EXPECT_EQ(result.requests, 60u);
  EXPECT_EQ(result.errors.total(), 0u) << result.first_error;
  EXPECT_GE(result.server_closes, 15u);
  EXPECT_GE(result.reconnects, 10u);
  // Every new connection compares its first body again (but the last few may have had
  // no request left to make).
  EXPECT_LE(result.bodies_compared, result.connections_established);
  EXPECT_GE(result.bodies_compared + 4, result.connections_established);
}

TEST(KeepAliveLoad, NoListenerCountsConnectErrorsAndEnds) {
  // A bound socket that does not listen: connects to its port are refused.
  const int bound = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(address);
  ASSERT_EQ(bind(bound, reinterpret_cast<struct sockaddr*>(&address), len), 0);
  ASSERT_EQ(getsockname(bound, reinterpret_cast<struct sockaddr*>(&address), &len), 0);

  KeepAliveOptions options;
  options.port = ntohs(address.sin_port);
  options.connections = 10;
  options.connect_retries = 2;
  options.duration = seconds(3);
  const KeepAliveResult result = RunBounded(options);
  close(bound);
  EXPECT_EQ(result.requests, 0u);
  EXPECT_EQ(result.errors.connect, 30u);  // three attempts each
  EXPECT_EQ(result.connect_retries, 20u);
  EXPECT_EQ(result.slots_abandoned, 10u);
  EXPECT_EQ(result.connections_established, 0u);
  EXPECT_NE(result.first_error.find("refused"), std::string::npos) << result.first_error;
  EXPECT_LE(result.elapsed_seconds, 3.5);
}

TEST(KeepAliveLoad, BadOptionsAreRefused) {
  std::string error;
  KeepAliveOptions options;
  options.path = "no-slash";
  EXPECT_EQ(RunKeepAliveLoad(options, &error).error(), EINVAL);
  options.path = "/";
  options.tls13_ciphersuites = "TLS_NO_SUCH_SUITE";
  EXPECT_EQ(RunKeepAliveLoad(options, &error).error(), EINVAL);
  EXPECT_NE(error.find("TLS_NO_SUCH_SUITE"), std::string::npos) << error;
  options.tls13_ciphersuites.clear();
  options.host = "no-such-host.invalid";
  EXPECT_EQ(RunKeepAliveLoad(options, &error).error(), ENOENT);
}

TEST(KeepAliveLoad, TooFewDescriptorsIsEmfile) {
  // Lowering the hard limit cannot be undone, so it happens in a child.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const struct rlimit low = {200, 200};
    if (setrlimit(RLIMIT_NOFILE, &low) != 0) _exit(2);
    std::string error;
    KeepAliveOptions options;
    options.connections = 1000;
    Result<KeepAliveResult> result = RunKeepAliveLoad(options, &error);
    _exit(!result.ok() && result.error() == EMFILE &&
                  error.find("RLIMIT_NOFILE") != std::string::npos
              ? 0
              : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram histogram;
  for (uint64_t value = 1; value <= 20; ++value) histogram.Record(value);
  EXPECT_EQ(histogram.count(), 20u);
  EXPECT_EQ(histogram.Percentile(0.5), 10u);
  EXPECT_EQ(histogram.Percentile(1.0), 20u);
  EXPECT_EQ(histogram.Percentile(0.0), 1u);
  EXPECT_EQ(histogram.max(), 20u);
}

TEST(LatencyHistogram, LargeValuesWithinThreePercent) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.Percentile(0.99), 0u);
  for (uint64_t value = 1; value <= 100'000; ++value) histogram.Record(value * 10);
  const double p50 = static_cast<double>(histogram.Percentile(0.50));
  const double p99 = static_cast<double>(histogram.Percentile(0.99));
  EXPECT_NEAR(p50, 500'000, 500'000 * 0.03);
  EXPECT_NEAR(p99, 990'000, 990'000 * 0.03);
  EXPECT_EQ(histogram.Percentile(1.0), 1'000'000u);
  histogram.Record(uint64_t{1} << 62);
  EXPECT_EQ(histogram.max(), uint64_t{1} << 62);
  EXPECT_EQ(histogram.Percentile(1.0), uint64_t{1} << 62);
}

}  // namespace
}  // namespace ktls::bench
