#include "server/connection.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "ktls/freebsd.h"
#include "openssl/freebsd_offload.h"
#include "server/request_handler.h"

namespace ktls::server {
namespace {

constexpr size_t kRecordBuffer = TLS_MAX_MSG_SIZE_V10_2;
// Bodies up to this size are sent in the same write as the head: one record instead of
// two for small objects.
constexpr uint64_t kCoalesceLimit = 8192;
// One Drive() call moves at most this much (or this many responses) before letting the
// loop serve other connections.
constexpr uint64_t kDriveByteBudget = uint64_t{1} << 20;
constexpr int kDriveResponseBudget = 32;
constexpr size_t kSendfileChunk = size_t{1} << 20;
constexpr uint8_t kAlertLevelWarning = 1;
constexpr uint8_t kAlertCloseNotify = 0;

bool WouldBlock(int error) {
  return error == EAGAIN || error == EWOULDBLOCK;
}

struct Received {
  ssize_t size = 0;
  int error = 0;     // errno when size < 0
  bool end = false;  // the peer closed the connection
  uint8_t type = 0;  // record type
};

// One record (or the first part of a larger one) through ktls_recvmsg.
Received ReceiveRecord(int fd, char* buffer, size_t len) {
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(struct tls_get_record))] = {};
  struct iovec iov = {buffer, len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  Received received;
  received.size = ktls_recvmsg(fd, &msg, 0);
  if (received.size < 0) {
    received.error = errno;
    return received;
  }
  bool typed = false;
  for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr;
       cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level == IPPROTO_TCP && cmsg->cmsg_type == TLS_GET_RECORD) {
      struct tls_get_record info;
      std::memcpy(&info, CMSG_DATA(cmsg), sizeof(info));
      received.type = info.tls_type;
      typed = true;
    }
  }
  // End of stream is a read of 0 bytes without a record.
  received.end = received.size == 0 && !typed;
  return received;
}

// A close_notify alert as one record. 0, or -1 with errno.
int SendCloseNotify(int fd) {
  uint8_t alert[2] = {kAlertLevelWarning, kAlertCloseNotify};
  alignas(struct cmsghdr) char control[CMSG_SPACE(1)] = {};
  struct iovec iov = {alert, sizeof(alert)};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = IPPROTO_TCP;
  cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
  cmsg->cmsg_len = CMSG_LEN(1);
  *CMSG_DATA(cmsg) = TLS_RLTYPE_ALERT;
  return ktls_sendmsg(fd, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

thread_local char record_buffer[kRecordBuffer];

}  // namespace

Connection::Connection(int fd, std::string peer, const ConnectionConfig& config, ServerStats& stats,
                       Clock::time_point now)
    : fd_(fd),
      peer_(std::move(peer)),
      config_(config),
      stats_(stats),
      deadline_(now + config.header_timeout) {}

Connection::~Connection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  ktls_close(fd_);
}

Connection::Progress Connection::Drive(Clock::time_point now) {
  drive_bytes_ = 0;
  drive_responses_ = 0;
  for (;;) {
    Step step = Step::kContinue;
    switch (state_) {
      case State::kHandshake:
        step = Handshake(now);
        break;
      case State::kReadRequest:
        step = ReadRequest(now);
        break;
      case State::kSendHead:
        step = SendHead(now);
        break;
      case State::kSendBody:
        step = SendBody(now);
        break;
      case State::kCloseNotify:
        step = CloseNotify(now);
        break;
      case State::kLinger:
        step = Linger();
        break;
      case State::kDone:
        return Progress::kDone;
    }
    if (step == Step::kWait) return state_ == State::kDone ? Progress::kDone : Progress::kWaiting;
    if (step == Step::kYield) return Progress::kYielded;
  }
}

void Connection::BeginShutdown(Clock::time_point now) {
  stopping_ = true;
  switch (state_) {
    case State::kHandshake:
      Fail();
      break;
    case State::kReadRequest:
      // A request already begun may still complete (within its deadline).
      if (in_.empty()) StartClosing(now);
      break;
    case State::kSendHead:
    case State::kSendBody:
      response_.keep_alive = false;
      break;
    default:
      break;
  }
}

Connection::Step Connection::Handshake(Clock::time_point now) {
  if (ssl_ == nullptr) {
    ssl_ = SSL_new(config_.ssl_ctx);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
      stats_.Add(stats_.handshake_failures);
      Fail();
      return Step::kContinue;
    }
  }
  ERR_clear_error();
  const int accepted = SSL_accept(ssl_);
  if (accepted != 1) {
    const int error = SSL_get_error(ssl_, accepted);
    ERR_clear_error();
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return Step::kWait;
    stats_.Add(stats_.handshake_failures);
    Fail();
    return Step::kContinue;
  }
  const bool tls13 = SSL_version(ssl_) == TLS1_3_VERSION;
  const Status offloaded = openssl::OffloadAfterHandshake(ssl_, fd_);
  if (!offloaded.ok()) {
    stats_.Add(stats_.offload_failures);
    if (config_.access_log) {
      std::fprintf(stderr, "%s: ktls offload failed: %s\n", peer_.c_str(),
                   std::strerror(offloaded.error()));
    }
    Fail();
    return Step::kContinue;
  }
  stats_.Add(stats_.handshakes);
  stats_.Add(tls13 ? stats_.tls13 : stats_.tls12);
  // From here on the record layer is ktls's. Marking the SSL as shut down keeps a TLS
  // 1.2 session resumable; SSL_free neither writes nor closes the descriptor.
  SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(ssl_);
  ssl_ = nullptr;
  state_ = State::kReadRequest;
  request_started_ = now;
  deadline_ = now + config_.header_timeout;
  if (stopping_) StartClosing(now);
  return Step::kContinue;
}

Connection::Step Connection::ReadRequest(Clock::time_point now) {
  for (;;) {
    if (!in_.empty()) {
      const ParseResult parsed = ParseRequest(in_, config_.limits);
      if (parsed.status != ParseStatus::kIncomplete) {
        if (drive_responses_ >= kDriveResponseBudget) return Step::kYield;
        Respond(parsed, now);
        return Step::kContinue;
      }
    } else if (stopping_) {
      StartClosing(now);
      return Step::kContinue;
    }
    const Received record = ReceiveRecord(fd_, record_buffer, sizeof(record_buffer));
    if (record.size < 0) {
      if (WouldBlock(record.error)) return Step::kWait;
      Fail();
      return Step::kContinue;
    }
    if (record.end) {
      Fail();  // the client closed; a partial request gets no answer
      return Step::kContinue;
    }
    switch (record.type) {
      case TLS_RLTYPE_APP:
        if (in_.empty() && record.size > 0) {
          request_started_ = now;
          deadline_ = now + config_.header_timeout;
        }
        in_.append(record_buffer, static_cast<size_t>(record.size));
        break;
      case TLS_RLTYPE_ALERT:
        // close_notify is answered in kind; any other alert ends the connection.
        if (record.size >= 2 && static_cast<uint8_t>(record_buffer[1]) == kAlertCloseNotify) {
          StartClosing(now);
        } else {
          Fail();
        }
        return Step::kContinue;
      case TLS_RLTYPE_HANDSHAKE:
        stats_.Add(stats_.post_handshake_closes);
        StartClosing(now);
        return Step::kContinue;
      default:
        Fail();
        return Step::kContinue;
    }
  }
}

void Connection::Respond(const ParseResult& parsed, Clock::time_point now) {
  ++drive_responses_;
  if (parsed.status == ParseStatus::kError) {
    response_ = MakeErrorResponse(parsed.error_status, false, 1);
    log_line_ = "-";
    in_.clear();
  } else {
    const Request& request = parsed.request;
    log_line_.assign(request.method).append(" ").append(request.target);
    log_line_.append(request.version_minor == 0 ? " HTTP/1.0" : " HTTP/1.1");
    response_ = HandleRequest(request, *config_.root);
    in_.erase(0, parsed.consumed);  // `request` points into in_: last use above
  }
  if (stopping_) response_.keep_alive = false;
  head_ = SerializeHead(response_, std::time(nullptr));
  head_sent_ = 0;
  body_sent_ = 0;
  if (response_.send_body && !response_.file.valid()) {
    head_.append(response_.body);
  } else if (response_.send_body && response_.file_length > 0 &&
             response_.file_length <= kCoalesceLimit) {
    const size_t head_size = head_.size();
    const size_t length = static_cast<size_t>(response_.file_length);
    head_.resize(head_size + length);
    const ssize_t n = pread(response_.file.get(), head_.data() + head_size, length,
                            static_cast<off_t>(response_.file_offset));
    if (n != static_cast<ssize_t>(length)) {
      Fail();  // the file changed under us; the head promised a length
      return;
    }
    body_sent_ = response_.file_length;
  }
  state_ = State::kSendHead;
  deadline_ = now + config_.idle_timeout;
}

Connection::Step Connection::SendHead(Clock::time_point now) {
  while (head_sent_ < head_.size()) {
    const ssize_t n = ktls_write(fd_, head_.data() + head_sent_, head_.size() - head_sent_);
    if (n < 0) {
      if (WouldBlock(errno)) return Step::kWait;
      Fail();
      return Step::kContinue;
    }
    head_sent_ += static_cast<size_t>(n);
    drive_bytes_ += static_cast<uint64_t>(n);
    stats_.Add(stats_.bytes_sent, static_cast<uint64_t>(n));
    deadline_ = now + config_.idle_timeout;
  }
  if (response_.send_body && response_.file.valid() && body_sent_ < response_.file_length) {
    state_ = State::kSendBody;
  } else {
    FinishResponse(now);
  }
  return Step::kContinue;
}

Connection::Step Connection::SendBody(Clock::time_point now) {
  while (body_sent_ < response_.file_length) {
    if (drive_bytes_ >= kDriveByteBudget) return Step::kYield;
    off_t offset = static_cast<off_t>(response_.file_offset + body_sent_);
    const size_t count =
        static_cast<size_t>(std::min<uint64_t>(response_.file_length - body_sent_, kSendfileChunk));
    const ssize_t n = ktls_sendfile(fd_, response_.file.get(), &offset, count);
    if (n < 0) {
      if (WouldBlock(errno)) return Step::kWait;
      Fail();
      return Step::kContinue;
    }
    if (n == 0) {
      Fail();  // the file shrank below the length the head announced
      return Step::kContinue;
    }
    body_sent_ += static_cast<uint64_t>(n);
    drive_bytes_ += static_cast<uint64_t>(n);
    stats_.Add(stats_.bytes_sent, static_cast<uint64_t>(n));
    deadline_ = now + config_.idle_timeout;
  }
  FinishResponse(now);
  return Step::kContinue;
}

void Connection::FinishResponse(Clock::time_point now) {
  const int status = response_.status;
  const uint64_t body = response_.send_body ? response_.body_length() : 0;
  const bool keep_alive = response_.keep_alive && !stopping_;
  stats_.Add(stats_.requests);
  stats_.Add(stats_.responses_by_class[static_cast<size_t>(std::clamp(status / 100, 0, 5))]);
  stats_.Add(stats_.body_bytes, body);
  if (config_.access_log) {
    std::fprintf(stderr, "%s \"%s\" %d %llu\n", peer_.c_str(), log_line_.c_str(), status,
                 static_cast<unsigned long long>(body));
  }
  response_ = Response();
  head_.clear();
  if (keep_alive) {
    state_ = State::kReadRequest;
    deadline_ = now + config_.idle_timeout;
    request_started_ = now;
  } else {
    StartClosing(now);
  }
}

void Connection::StartClosing(Clock::time_point now) {
  state_ = State::kCloseNotify;
  deadline_ = now + config_.linger_timeout;
}

Connection::Step Connection::CloseNotify(Clock::time_point now) {
  if (SendCloseNotify(fd_) != 0) {
    if (WouldBlock(errno)) return Step::kWait;
    Fail();
    return Step::kContinue;
  }
  // The FIN follows every record still queued in ktls.
  ktls_shutdown(fd_, SHUT_WR);
  state_ = State::kLinger;
  deadline_ = now + config_.linger_timeout;
  return Step::kContinue;
}

void Connection::OnExpired() {
  // A client waiting between requests, or too slow with one, learns that the server
  // ended the connection on purpose. Best effort: nothing waits for it.
  if (state_ == State::kReadRequest && SendCloseNotify(fd_) == 0) ktls_shutdown(fd_, SHUT_WR);
  state_ = State::kDone;
}

Connection::Step Connection::Linger() {
  for (;;) {
    const Received record = ReceiveRecord(fd_, record_buffer, sizeof(record_buffer));
    if (record.size < 0 && WouldBlock(record.error)) return Step::kWait;
    if (record.size < 0 || record.end) {
      Fail();
      return Step::kContinue;
    }
  }
}

}  // namespace ktls::server
