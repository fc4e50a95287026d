#include "bench/keepalive_load.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string_view>
#include <vector>

#include "bench/openssl_error.h"
#include "bench/response_head.h"
#include "bench/sigpipe_block.h"
#include "bench/socket_address.h"
#include "server/tls_context.h"

namespace ktls::bench {

using Clock = std::chrono::steady_clock;

// --- LatencyHistogram ------------------------------------------------------------------

size_t LatencyHistogram::BucketOf(uint64_t value) {
  constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  if (value < kSub) return static_cast<size_t>(value);
  const int exponent = 63 - std::countl_zero(value);  // >= kSubBits
  const uint64_t sub = (value >> (exponent - kSubBits)) & (kSub - 1);
  return (static_cast<size_t>(exponent - kSubBits + 1) << kSubBits) + static_cast<size_t>(sub);
}

uint64_t LatencyHistogram::LowestIn(size_t bucket) {
  constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  if (bucket < kSub) return bucket;
  const int exponent = static_cast<int>(bucket >> kSubBits) + kSubBits - 1;
  const uint64_t sub = bucket & (kSub - 1);
  return (kSub + sub) << (exponent - kSubBits);
}

void LatencyHistogram::Record(uint64_t value) {
  ++buckets_[BucketOf(value)];
  ++count_;
  max_ = std::max(max_, value);
}

uint64_t LatencyHistogram::Percentile(double fraction) const {
  if (count_ == 0) return 0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  // The rank of the wanted value, 1-based: the smallest one covering the fraction.
  const auto rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t bucket = 0; bucket < kBuckets; ++bucket) {
    seen += buckets_[bucket];
    if (seen < rank) continue;
    const uint64_t low = LowestIn(bucket);
    const uint64_t width = bucket + 1 < kBuckets ? LowestIn(bucket + 1) - low : 1;
    return std::min(max_, low + (width - 1) / 2);
  }
  return max_;
}

namespace {

// --- helpers -----------------------------------------------------------------------------

constexpr size_t kReadBuffer = size_t{64} * 1024;
constexpr size_t kMaxHead = size_t{16} * 1024;
constexpr int kMaxEvents = 256;
// Stalled connections are looked for this often; io_timeout is seconds long.
constexpr auto kTimeoutScan = std::chrono::milliseconds(100);
// A failed connect is retried after this times the number of failures in a row.
constexpr auto kRetryDelay = std::chrono::milliseconds(10);
// Connects saved up while a turn was busy are spent in bursts of at most this many
// milliseconds' worth.
constexpr double kConnectBurstMs = 8;

Status EnsureDescriptors(int connections, std::string* error) {
  const auto needed = static_cast<rlim_t>(connections) + 64;
  struct rlimit limit = {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    const int getrlimit_error = errno;
    *error = std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(getrlimit_error);
    return Status::Error(getrlimit_error);
  }
  if (limit.rlim_cur >= needed) return Status::Ok();
  if (limit.rlim_max != limit.rlim_cur) {
    // As far as needed, not to the hard limit: RLIM_INFINITY would be refused (it is
    // above fs.nr_open).
    struct rlimit raised = limit;
    raised.rlim_cur = std::min(limit.rlim_max, needed);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur >= needed) return Status::Ok();
  *error = std::to_string(connections) + " connections need " + std::to_string(needed) +
           " file descriptors, but RLIMIT_NOFILE allows " + std::to_string(limit.rlim_cur) +
           " (hard limit " + std::to_string(limit.rlim_max) + "; raise it with ulimit -Hn)";
  return Status::Error(EMFILE);
}

Result<server::SslCtxPtr> MakeClientContext(const KeepAliveOptions& options, std::string* error) {
  server::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) {
    *error = "SSL_CTX_new: " + OpenSslError();
    return Status::Error(ENOMEM);
  }
  if (SSL_CTX_set_min_proto_version(ctx.get(), options.tls_min_version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), options.tls_max_version) != 1) {
    *error = "TLS version range refused: " + OpenSslError();
    return Status::Error(EINVAL);
  }
  if (!options.tls13_ciphersuites.empty() &&
      SSL_CTX_set_ciphersuites(ctx.get(), options.tls13_ciphersuites.c_str()) != 1) {
    *error = "TLS 1.3 ciphersuites '" + options.tls13_ciphersuites + "': " + OpenSslError();
    return Status::Error(EINVAL);
  }
  if (!options.tls12_cipher_list.empty() &&
      SSL_CTX_set_cipher_list(ctx.get(), options.tls12_cipher_list.c_str()) != 1) {
    *error = "TLS 1.2 cipher list '" + options.tls12_cipher_list + "': " + OpenSslError();
    return Status::Error(EINVAL);
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  // Every connection does a full handshake, as a new client would.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  // Read ahead: a 64 KiB body in 16 KiB records then takes a few reads, not two per
  // record (header, then body).
  SSL_CTX_set_read_ahead(ctx.get(), 1);
  SSL_CTX_set_default_read_buffer_len(ctx.get(), size_t{2} * SSL3_RT_MAX_PACKET_SIZE);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

// --- the run ---------------------------------------------------------------------------

enum class Phase : uint8_t {
  kIdle,        // not open; waiting in the connect queue
  kConnecting,  // non-blocking connect in progress
  kHandshake,   // TLS handshake
  kSend,        // request partly written
  kHead,        // reading the response head
  kBody,        // reading the body
  kParked,      // established, but max_requests is taken by others
  kAbandoned,   // out of retries
};

struct Client {
  int fd = -1;
  SSL* ssl = nullptr;
  Phase phase = Phase::kIdle;
  uint32_t events = 0;       // the epoll interest registered
  int failures = 0;          // failed connects/handshakes in a row
  bool established = false;  // this connection finished its handshake
  bool established_once = false;
  bool compare_body = false;
  bool length_wrong = false;
  bool body_matches = true;
  ResponseHead response;
  uint64_t body_read = 0;
  size_t request_sent = 0;
  std::string head;
  Clock::time_point request_start;
  Clock::time_point next_attempt;
  Clock::time_point stall_deadline;
};

enum class Failure : uint8_t { kConnect, kTls };
enum class Error : uint8_t { kClosed, kBadResponse, kTimeout };

class LoadRun {
 public:
  LoadRun(const KeepAliveOptions& options, SSL_CTX* ctx, const SocketAddress& address)
      : options_(options),
        ctx_(ctx),
        address_(address),
        clients_(static_cast<size_t>(options.connections)),
        buffer_(kReadBuffer) {
    request_ = "GET " + options.path + " HTTP/1.1\r\nHost: " + options.host_header + "\r\n\r\n";
    if (!options.expected_body.empty()) {
      expected_size_ = options.expected_body.size();
    } else {
      expected_size_ = options.expected_body_size;
    }
  }
  ~LoadRun() {
    for (size_t slot = 0; slot < clients_.size(); ++slot) Close(slot);
    if (epoll_ >= 0) close(epoll_);
  }
  LoadRun(const LoadRun&) = delete;
  LoadRun& operator=(const LoadRun&) = delete;

  Status Init(std::string* error) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) {
      const int epoll_error = errno;
      *error = std::string("epoll_create1: ") + std::strerror(epoll_error);
      return Status::Error(epoll_error);
    }
    return Status::Ok();
  }

  KeepAliveResult Run() {
    const Clock::time_point start = Clock::now();
    const Clock::time_point deadline = start + options_.duration;
    for (size_t slot = 0; slot < clients_.size(); ++slot) {
      clients_[slot].next_attempt = start;
      queue_.push_back(slot);
    }
    start_ = start;
    Clock::time_point next_scan = start + kTimeoutScan;
    const double rate = std::max(1, options_.connects_per_ms);
    double tokens = rate;
    Clock::time_point last_refill = start;
    struct epoll_event events[kMaxEvents];
    Clock::time_point now = start;
    while (now < deadline && !Finished()) {
      // A token bucket: a turn busy with handshakes and bodies may take many
      // milliseconds, and the rate is per millisecond, not per turn.
      const double ms = std::chrono::duration<double, std::milli>(now - last_refill).count();
      tokens = std::min(rate * kConnectBurstMs, tokens + rate * ms);
      last_refill = now;
      if (!queue_.empty() && tokens >= 1) OpenSome(now, &tokens);
      if (!parked_.empty()) Unpark(now);
      auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
      wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(kTimeoutScan));
      if (!queue_.empty()) wait = std::min(wait, std::chrono::milliseconds(1));
      const int n = epoll_wait(epoll_, events, kMaxEvents, static_cast<int>(wait.count()));
      now = Clock::now();
      for (int i = 0; i < n; ++i) {
        // A turn with many handshakes can take long; the deadline is checked per event.
        if (i > 0) now = Clock::now();
        if (now >= deadline) break;
        Drive(static_cast<size_t>(events[i].data.u64), events[i].events, now);
      }
      if (n > 0) now = Clock::now();
      if (now >= next_scan) {
        ExpireStalled(now);
        next_scan = now + kTimeoutScan;
      }
    }
    result_.elapsed_seconds = std::chrono::duration<double>(now - start).count();
    if (result_.elapsed_seconds > 0) {
      result_.requests_per_second = static_cast<double>(result_.requests) / result_.elapsed_seconds;
    }
    if (full_reached_) {
      const double steady = result_.elapsed_seconds - result_.ramp_seconds;
      if (steady > 0) {
        result_.steady_requests_per_second =
            static_cast<double>(result_.requests - requests_at_full_) / steady;
      }
    }
    result_.latency_p50_us = latency_.Percentile(0.50);
    result_.latency_p90_us = latency_.Percentile(0.90);
    result_.latency_p99_us = latency_.Percentile(0.99);
    result_.latency_max_us = latency_.max();
    for (size_t slot = 0; slot < clients_.size(); ++slot) Close(slot);
    return result_;
  }

 private:
  bool Finished() const {
    if (options_.max_requests > 0 && result_.requests >= options_.max_requests) return true;
    // Every client gave up connecting.
    return open_ == 0 && queue_.empty();
  }

  void NoteError(const std::string& what) {
    if (result_.first_error.empty()) result_.first_error = what;
  }

  // Opens queued clients whose retry time has come, one token each.
  void OpenSome(Clock::time_point now, double* tokens) {
    // Open() may queue its client again (a failed connect), so the queue is rebuilt.
    std::vector<size_t> waiting;
    waiting.swap(queue_);
    for (const size_t slot : waiting) {
      if (*tokens >= 1 && clients_[slot].next_attempt <= now) {
        *tokens -= 1;
        Open(slot, now);
      } else {
        queue_.push_back(slot);
      }
    }
  }

  void Open(size_t slot, Clock::time_point now) {
    Client& c = clients_[slot];
    const int fd = socket(address_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      NoteError(std::string("socket: ") + std::strerror(errno));
      Failed(slot, Failure::kConnect, now);
      return;
    }
    const int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    c.fd = fd;
    c.stall_deadline = now + options_.io_timeout;
    ++open_;
    result_.peak_open_connections = std::max(result_.peak_open_connections, open_);
    struct epoll_event event = {};
    event.events = EPOLLOUT;
    event.data.u64 = slot;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0) {
      NoteError(std::string("epoll_ctl: ") + std::strerror(errno));
      Failed(slot, Failure::kConnect, now);
      return;
    }
    c.events = EPOLLOUT;
    if (connect(fd, reinterpret_cast<const struct sockaddr*>(&address_.addr), address_.len) == 0) {
      Connected(slot, now);
    } else if (errno == EINPROGRESS || errno == EINTR) {
      c.phase = Phase::kConnecting;
    } else {
      NoteError(std::string("connect: ") + std::strerror(errno));
      Failed(slot, Failure::kConnect, now);
    }
  }

  void Close(size_t slot) {
    Client& c = clients_[slot];
    if (c.ssl != nullptr) {
      SSL_free(c.ssl);
      c.ssl = nullptr;
    }
    if (c.fd >= 0) {
      close(c.fd);  // also leaves the epoll set
      c.fd = -1;
      --open_;
    }
    if (c.established) --established_now_;
    c.established = false;
    c.events = 0;
    c.phase = Phase::kIdle;
  }

  // A connect or handshake failed: retry later, or give the client up.
  void Failed(size_t slot, Failure failure, Clock::time_point now) {
    Client& c = clients_[slot];
    Close(slot);
    ++(failure == Failure::kConnect ? result_.errors.connect : result_.errors.tls);
    ++c.failures;
    if (c.failures > options_.connect_retries) {
      c.phase = Phase::kAbandoned;
      ++result_.slots_abandoned;
      return;
    }
    ++result_.connect_retries;
    c.next_attempt = now + kRetryDelay * c.failures;
    queue_.push_back(slot);
  }

  // An established connection failed with a request in flight: count it, replace it.
  void Drop(size_t slot, Error error, Clock::time_point now) {
    Client& c = clients_[slot];
    switch (error) {
      case Error::kClosed:
        ++result_.errors.closed;
        NoteError("connection closed or reset with a request in flight");
        break;
      case Error::kBadResponse:
        ++result_.errors.bad_response;
        NoteError("bad response head or unrequested bytes");
        break;
      case Error::kTimeout:
        ++result_.errors.timeouts;
        NoteError("request without progress for the I/O timeout");
        break;
    }
    if (c.phase == Phase::kSend || c.phase == Phase::kHead || c.phase == Phase::kBody) {
      --in_flight_;
    }
    Reconnect(slot, now);
  }

  void Reconnect(size_t slot, Clock::time_point now) {
    Close(slot);
    clients_[slot].next_attempt = now;
    queue_.push_back(slot);
  }

  void SetInterest(size_t slot, uint32_t events) {
    Client& c = clients_[slot];
    if (c.events == events) return;
    struct epoll_event event = {};
    event.events = events;
    event.data.u64 = slot;
    // Can fail only for lack of kernel memory; the connection then waits on its old
    // interest, stalls, and the timeout scan counts and replaces it.
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &event);
    c.events = events;
  }

  void Drive(size_t slot, uint32_t events, Clock::time_point now) {
    Client& c = clients_[slot];
    switch (c.phase) {
      case Phase::kConnecting: {
        int error = 0;
        socklen_t len = sizeof(error);
        if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
        if (error != 0) {
          NoteError(std::string("connect: ") + std::strerror(error));
          Failed(slot, Failure::kConnect, now);
        } else if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
          Connected(slot, now);
        }
        break;
      }
      case Phase::kHandshake:
        Handshake(slot, now);
        break;
      case Phase::kSend:
        Send(slot, now);
        break;
      case Phase::kHead:
      case Phase::kBody:
        Receive(slot, now);
        break;
      case Phase::kParked:
        // Nothing is expected on an idle connection: the server closed it.
        if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0) Reconnect(slot, now);
        break;
      case Phase::kIdle:
      case Phase::kAbandoned:
        break;
    }
  }

  void Connected(size_t slot, Clock::time_point now) {
    Client& c = clients_[slot];
    c.stall_deadline = now + options_.io_timeout;
    if (!options_.tls) {
      Established(slot, now);
      return;
    }
    c.ssl = SSL_new(ctx_);
    if (c.ssl == nullptr || SSL_set_fd(c.ssl, c.fd) != 1 ||
        (!options_.sni.empty() && SSL_set_tlsext_host_name(c.ssl, options_.sni.c_str()) != 1)) {
      NoteError("SSL_new: " + OpenSslError());
      Failed(slot, Failure::kTls, now);
      return;
    }
    SSL_set_connect_state(c.ssl);
    c.phase = Phase::kHandshake;
    Handshake(slot, now);
  }

  void Handshake(size_t slot, Clock::time_point now) {
    Client& c = clients_[slot];
    ERR_clear_error();
    const int rc = SSL_do_handshake(c.ssl);
    if (rc == 1) {
      Established(slot, now);
      return;
    }
    const int error = SSL_get_error(c.ssl, rc);
    if (error == SSL_ERROR_WANT_READ) {
      SetInterest(slot, EPOLLIN);
    } else if (error == SSL_ERROR_WANT_WRITE) {
      SetInterest(slot, EPOLLOUT);
    } else {
      const int saved = errno;
      std::string reason = OpenSslError();
      if (error == SSL_ERROR_SYSCALL) {
        reason = saved == 0 ? "connection closed by the server" : std::strerror(saved);
      }
      NoteError("TLS handshake: " + reason);
      ERR_clear_error();
      Failed(slot, Failure::kTls, now);
    }
  }

  void Established(size_t slot, Clock::time_point now) {
    Client& c = clients_[slot];
    c.failures = 0;
    if (c.established_once) ++result_.reconnects;
    c.established_once = true;
    c.established = true;
    ++result_.connections_established;
    if (++established_now_ == options_.connections && !full_reached_) {
      full_reached_ = true;
      result_.ramp_seconds = std::chrono::duration<double>(now - start_).count();
      requests_at_full_ = result_.requests;
    }
    c.compare_body = !options_.expected_body.empty();
    SetInterest(slot, EPOLLIN);
    StartRequest(slot, now);
  }

  void StartRequest(size_t slot, Clock::time_point now) {
    Client& c = clients_[slot];
    if (options_.max_requests > 0 && result_.requests + in_flight_ >= options_.max_requests) {
      c.phase = Phase::kParked;
      SetInterest(slot, EPOLLRDHUP);
      parked_.push_back(slot);
      return;
    }
    ++in_flight_;
    c.phase = Phase::kSend;
    c.request_sent = 0;
    c.request_start = now;
    c.stall_deadline = now + options_.io_timeout;
    Send(slot, now);
  }

  // Parked clients take the requests that failed ones gave back.
  void Unpark(Clock::time_point now) {
    while (!parked_.empty() && result_.requests + in_flight_ < options_.max_requests) {
      const size_t slot = parked_.back();
      parked_.pop_back();
      if (clients_[slot].phase != Phase::kParked) continue;
      SetInterest(slot, EPOLLIN);
      StartRequest(slot, now);
    }
  }

  void Send(size_t slot, Clock::time_point now) {
    Client& c = clients_[slot];
    if (options_.tls) {
      ERR_clear_error();
      // Without partial writes, SSL_write takes the whole request or retries it whole.
      const int rc = SSL_write(c.ssl, request_.data(), static_cast<int>(request_.size()));
      if (rc <= 0) {
        WaitForSsl(slot, rc, now);
        return;
      }
      c.request_sent = request_.size();
    } else {
      while (c.request_sent < request_.size()) {
        const ssize_t n = send(c.fd, request_.data() + c.request_sent,
                               request_.size() - c.request_sent, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            SetInterest(slot, EPOLLOUT);
          } else {
            Drop(slot, Error::kClosed, now);
          }
          return;
        }
        c.request_sent += static_cast<size_t>(n);
      }
    }
    c.phase = Phase::kHead;
    c.head.clear();
    c.body_read = 0;
    c.response = ResponseHead();
    c.length_wrong = false;
    c.body_matches = true;
    SetInterest(slot, EPOLLIN);
    // The response cannot be here yet, except for records OpenSSL already buffered.
    if (options_.tls && SSL_has_pending(c.ssl) == 1) Receive(slot, now);
  }

  // After an SSL_read or SSL_write of an established connection returned `rc` <= 0: wait
  // for what OpenSSL needs (a TLS 1.3 read may have to write, and the other way round),
  // or replace the connection if it failed.
  void WaitForSsl(size_t slot, int rc, Clock::time_point now) {
    const int error = SSL_get_error(clients_[slot].ssl, rc);
    ERR_clear_error();
    if (error == SSL_ERROR_WANT_READ) {
      SetInterest(slot, EPOLLIN);
    } else if (error == SSL_ERROR_WANT_WRITE) {
      SetInterest(slot, EPOLLOUT);
    } else {
      Drop(slot, Error::kClosed, now);
    }
  }

  // Reads until the socket (and OpenSSL) has nothing more. A completed response starts
  // the next request, whose answer epoll then announces.
  void Receive(size_t slot, Clock::time_point now) {
    Client& c = clients_[slot];
    for (;;) {
      ssize_t n = 0;
      if (options_.tls) {
        ERR_clear_error();
        const int rc = SSL_read(c.ssl, buffer_.data(), static_cast<int>(buffer_.size()));
        if (rc <= 0) {
          WaitForSsl(slot, rc, now);
          return;
        }
        n = rc;
      } else {
        n = recv(c.fd, buffer_.data(), buffer_.size(), 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
        if (n <= 0) {
          Drop(slot, Error::kClosed, now);
          return;
        }
      }
      c.stall_deadline = now + options_.io_timeout;
      if (!Consume(slot, std::string_view(buffer_.data(), static_cast<size_t>(n)))) return;
      if (c.phase != Phase::kHead && c.phase != Phase::kBody) return;
    }
  }

  // Feeds received bytes to the response in progress. False when the client moved on
  // (its response finished or it failed); the bytes must then all have been used.
  bool Consume(size_t slot, std::string_view data) {
    Client& c = clients_[slot];
    if (c.phase == Phase::kBody) return ConsumeBody(slot, data);
    // The head usually arrives whole in one read (ktls serve writes it as its own
    // record); it is only copied when it does not.
    std::string_view head = data;
    size_t end = std::string_view::npos;
    if (c.head.empty()) {
      end = data.find("\r\n\r\n");
      if (end == std::string_view::npos) c.head.assign(data);
    } else {
      const size_t searched = c.head.size() >= 3 ? c.head.size() - 3 : 0;
      c.head.append(data);
      head = c.head;
      end = c.head.find("\r\n\r\n", searched);
    }
    if (end == std::string_view::npos) {
      if (c.head.size() <= kMaxHead) return true;
      Drop(slot, Error::kBadResponse, Clock::now());
      return false;
    }
    if (!ParseResponseHead(head.substr(0, end), &c.response) || c.response.chunked ||
        !c.response.content_length.has_value()) {
      Drop(slot, Error::kBadResponse, Clock::now());
      return false;
    }
    c.length_wrong = c.response.status == 200 && expected_size_.has_value() &&
                     *c.response.content_length != *expected_size_;
    c.phase = Phase::kBody;
    // `head` may point into c.head: it is cleared only after the last use.
    const bool more = ConsumeBody(slot, head.substr(end + 4));
    if (more) c.head.clear();
    return more;
  }

  bool ConsumeBody(size_t slot, std::string_view data) {
    Client& c = clients_[slot];
    const uint64_t length = *c.response.content_length;
    const uint64_t take = std::min<uint64_t>(length - c.body_read, data.size());
    if (c.compare_body && c.response.status == 200 && !c.length_wrong && c.body_matches) {
      c.body_matches = std::memcmp(options_.expected_body.data() + c.body_read, data.data(),
                                   static_cast<size_t>(take)) == 0;
    }
    c.body_read += take;
    if (take < data.size()) {
      // Bytes past the body of the only request outstanding.
      Drop(slot, Error::kBadResponse, Clock::now());
      return false;
    }
    if (c.body_read < length) return true;
    FinishResponse(slot);
    return false;
  }

  void FinishResponse(size_t slot) {
    Client& c = clients_[slot];
    const Clock::time_point now = Clock::now();
    --in_flight_;
    if (c.response.status != 200) {
      ++result_.errors.http_status;
      NoteError("HTTP status " + std::to_string(c.response.status));
    } else if (c.length_wrong) {
      ++result_.errors.body_length;
      NoteError("Content-Length " + std::to_string(*c.response.content_length) + ", expected " +
                std::to_string(*expected_size_));
    } else if (!c.body_matches) {
      ++result_.errors.body_mismatch;
      NoteError("body differs from the expected bytes");
    } else {
      ++result_.requests;
      result_.body_bytes += *c.response.content_length;
      if (c.compare_body) ++result_.bodies_compared;
      const auto latency =
          std::chrono::duration_cast<std::chrono::microseconds>(now - c.request_start);
      latency_.Record(static_cast<uint64_t>(latency.count()));
    }
    if (c.response.status == 200 && !options_.compare_every_body) c.compare_body = false;
    if (c.response.close) {
      ++result_.server_closes;
      Reconnect(slot, now);
      return;
    }
    StartRequest(slot, now);
  }

  void ExpireStalled(Clock::time_point now) {
    for (size_t slot = 0; slot < clients_.size(); ++slot) {
      Client& c = clients_[slot];
      if (c.fd < 0 || c.phase == Phase::kParked || now < c.stall_deadline) continue;
      switch (c.phase) {
        case Phase::kConnecting:
          NoteError("connect timed out");
          Failed(slot, Failure::kConnect, now);
          break;
        case Phase::kHandshake:
          NoteError("TLS handshake timed out");
          Failed(slot, Failure::kTls, now);
          break;
        default:
          Drop(slot, Error::kTimeout, now);
          break;
      }
    }
  }

  const KeepAliveOptions& options_;
  SSL_CTX* ctx_;
  const SocketAddress address_;
  std::string request_;
  std::optional<uint64_t> expected_size_;
  int epoll_ = -1;
  std::vector<Client> clients_;
  std::vector<size_t> queue_;   // clients waiting to connect, in order
  std::vector<size_t> parked_;  // established clients without a request to make
  std::vector<char> buffer_;
  int open_ = 0;
  int established_now_ = 0;
  uint64_t in_flight_ = 0;
  Clock::time_point start_;
  bool full_reached_ = false;
  uint64_t requests_at_full_ = 0;  // completed when every client was first established
  KeepAliveResult result_;
  LatencyHistogram latency_;
};

}  // namespace

Result<KeepAliveResult> RunKeepAliveLoad(const KeepAliveOptions& options, std::string* error) {
  if (options.connections <= 0 || options.path.empty() || options.path.front() != '/' ||
      options.host_header.find_first_of("\r\n") != std::string::npos ||
      options.path.find_first_of(" \r\n") != std::string::npos) {
    *error = "bad options: want connections > 0, a path starting with '/' and no CR/LF";
    return Status::Error(EINVAL);
  }
  KTLS_RETURN_IF_ERROR(EnsureDescriptors(options.connections, error));
  Result<SocketAddress> address = ResolveAddress(options.host, options.port, error);
  if (!address.ok()) return address.status();
  server::SslCtxPtr ctx;
  if (options.tls) {
    Result<server::SslCtxPtr> made = MakeClientContext(options, error);
    if (!made.ok()) return made.status();
    ctx = std::move(made).value();
  }
  SigpipeBlock sigpipe;
  LoadRun run(options, ctx.get(), *address);
  KTLS_RETURN_IF_ERROR(run.Init(error));
  return run.Run();
}

}  // namespace ktls::bench
