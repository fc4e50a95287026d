// One client connection, as a non-blocking state machine driven by its event loop:
//
//   kHandshake    OpenSSL's SSL_accept on the plain socket
//     -> hand both directions' keys to ktls (OffloadAfterHandshake), free the SSL
//   kReadRequest  ktls_recvmsg, one record at a time, until a request head is whole
//   kSendHead     ktls_write of the status line and fields (small bodies ride along)
//   kSendBody     ktls_sendfile of the file range
//     -> kReadRequest again (keep-alive, pipelined requests are served in order)
//   kCloseNotify  a close_notify alert record, then shutdown(SHUT_WR)
//   kLinger       reads and drops until the client closes, so a reset from unread
//                 input cannot destroy the end of the response in flight
//   kDone         the loop closes the socket (ktls_close)
//
// Records other than application data: close_notify is answered with close_notify;
// other alerts close at once. A handshake record after the hand-over (a TLS 1.3
// KeyUpdate, or TLS 1.2 renegotiation) cannot be honoured, since ktls takes keys once
// per direction: the connection ends with close_notify.
//
// Deadlines: the handshake and each request head must complete within
// `header_timeout` of their start; between requests, and while a response is stuck,
// `idle_timeout` without progress ends the connection.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "server/document_root.h"
#include "server/http_request.h"
#include "server/http_response.h"
#include "server/server_stats.h"

namespace ktls::server {

using Clock = std::chrono::steady_clock;

struct ConnectionConfig {
  SSL_CTX* ssl_ctx = nullptr;
  const DocumentRoot* root = nullptr;
  RequestLimits limits;
  Clock::duration idle_timeout = std::chrono::seconds(15);
  Clock::duration header_timeout = std::chrono::seconds(15);
  Clock::duration linger_timeout = std::chrono::seconds(2);
  bool access_log = false;
};

class Connection {
 public:
  enum class State : uint8_t {
    kHandshake,
    kReadRequest,
    kSendHead,
    kSendBody,
    kCloseNotify,
    kLinger,
    kDone,
  };
  enum class Progress : uint8_t {
    kWaiting,  // needs the socket to become readable or writable
    kYielded,  // used its share of the loop; drive it again soon
    kDone,     // close it
  };

  // Takes ownership of `fd`, a non-blocking accepted TCP socket.
  Connection(int fd, std::string peer, const ConnectionConfig& config, ServerStats& stats,
             Clock::time_point now);
  ~Connection();  // ktls_close
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Progress Drive(Clock::time_point now);
  // The server stops: idle connections end now, busy ones after their response.
  void BeginShutdown(Clock::time_point now);
  // Past its deadline; the loop then calls OnExpired() and closes it.
  bool Expired(Clock::time_point now) const { return now >= deadline_; }
  // Between requests or within a slow request head, a best-effort close_notify; for
  // every other state, nothing more is sent.
  void OnExpired();
  int fd() const { return fd_; }
  State state() const { return state_; }

 private:
  enum class Step : uint8_t { kContinue, kWait, kYield };

  Step Handshake(Clock::time_point now);
  Step ReadRequest(Clock::time_point now);
  Step SendHead(Clock::time_point now);
  Step SendBody(Clock::time_point now);
  Step CloseNotify(Clock::time_point now);
  Step Linger();
  // A complete request head is in `in_`, or the parser refused it.
  void Respond(const ParseResult& parsed, Clock::time_point now);
  void FinishResponse(Clock::time_point now);
  void StartClosing(Clock::time_point now);
  void Fail() { state_ = State::kDone; }

  int fd_;
  std::string peer_;
  const ConnectionConfig& config_;
  ServerStats& stats_;
  SSL* ssl_ = nullptr;
  State state_ = State::kHandshake;
  Clock::time_point deadline_;
  bool stopping_ = false;

  std::string in_;  // received plaintext not yet consumed
  Clock::time_point request_started_;
  Response response_;
  std::string head_;  // serialized head (plus a small body)
  size_t head_sent_ = 0;
  uint64_t body_sent_ = 0;    // of response_.file_length
  std::string log_line_;      // "GET /x HTTP/1.1", for the access log
  uint64_t drive_bytes_ = 0;  // sent during the current Drive()
  int drive_responses_ = 0;   // responses started during the current Drive()
};

}  // namespace ktls::server
