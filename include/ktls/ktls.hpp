// C++ interface to ktls: an owning socket type with typed results, over the C API of
// <ktls/freebsd.h>. Errors are std::error_code values in std::generic_category(), the
// same errno values the C calls report.
#ifndef KTLS_KTLS_HPP_
#define KTLS_KTLS_HPP_

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <system_error>
#include <utility>

#include "ktls/freebsd.h"

namespace ktls {

enum class Mode : int {
  kNone = TCP_TLS_MODE_NONE,
  kSw = TCP_TLS_MODE_SW,
  kIfnet = TCP_TLS_MODE_IFNET,
  kToe = TCP_TLS_MODE_TOE,
};

// One received record, or the first part of one when the buffer was smaller.
struct Record {
  uint8_t type = 0;
  uint8_t version_major = 0;
  uint8_t version_minor = 0;
  size_t size = 0;         // bytes placed in the caller's buffer
  bool complete = false;   // the whole record was consumed (MSG_EOR)
};

// A value or the errno that prevented it.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(std::error_code error) : error_(error) {}  // NOLINT(google-explicit-constructor)

  explicit operator bool() const { return !error_; }
  const T& value() const { return value_; }
  const T& operator*() const { return value_; }
  const T* operator->() const { return &value_; }
  std::error_code error() const { return error_; }

 private:
  T value_{};
  std::error_code error_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(std::error_code error) : error_(error) {}  // NOLINT(google-explicit-constructor)
  explicit operator bool() const { return !error_; }
  std::error_code error() const { return error_; }

 private:
  std::error_code error_;
};

namespace detail {
inline std::error_code LastError() { return std::error_code(errno, std::generic_category()); }
inline Result<void> Check(int rc) {
  if (rc < 0) return LastError();
  return {};
}
inline Result<size_t> Count(ssize_t n) {
  if (n < 0) return LastError();
  return static_cast<size_t>(n);
}
}  // namespace detail

// Owns a connected TCP socket descriptor; closing it flushes records still queued.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) noexcept : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { Reset(); }

  int fd() const { return fd_; }
  // Gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }

  // Hands one direction's keys over (once per direction).
  Result<void> EnableTransmit(const struct tls_enable& en) {
    return detail::Check(ktls_setsockopt(fd_, IPPROTO_TCP, TCP_TXTLS_ENABLE, &en, sizeof(en)));
  }
  Result<void> EnableReceive(const struct tls_enable& en) {
    return detail::Check(ktls_setsockopt(fd_, IPPROTO_TCP, TCP_RXTLS_ENABLE, &en, sizeof(en)));
  }
  Result<Mode> TransmitMode() const { return GetMode(TCP_TXTLS_MODE); }
  Result<Mode> ReceiveMode() const { return GetMode(TCP_RXTLS_MODE); }
  Result<void> SetTransmitMode(Mode mode) {
    const int value = static_cast<int>(mode);
    return detail::Check(ktls_setsockopt(fd_, IPPROTO_TCP, TCP_TXTLS_MODE, &value, sizeof(value)));
  }

  // Application data; the socket layer chooses the record boundaries.
  Result<size_t> Write(std::span<const std::byte> data) {
    return detail::Count(ktls_write(fd_, data.data(), data.size()));
  }
  // Exactly one record of `type` (split only if larger than the maximum record size).
  Result<size_t> SendRecord(uint8_t type, std::span<const std::byte> data) {
    alignas(struct cmsghdr) char control[CMSG_SPACE(1)] = {};
    struct iovec iov = {const_cast<std::byte*>(data.data()), data.size()};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = IPPROTO_TCP;
    cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
    cmsg->cmsg_len = CMSG_LEN(1);
    *CMSG_DATA(cmsg) = type;
    return detail::Count(ktls_sendmsg(fd_, &msg, 0));
  }
  Result<size_t> SendFile(int file_fd, off_t* offset, size_t count) {
    return detail::Count(ktls_sendfile(fd_, file_fd, offset, count));
  }

  // Plaintext of the next record (application data or not), without its type.
  Result<size_t> Read(std::span<std::byte> buffer) {
    return detail::Count(ktls_read(fd_, buffer.data(), buffer.size()));
  }
  // The next record with its type. A zero-size complete record is an empty record;
  // end of stream is reported as size 0 with type 0.
  Result<Record> ReceiveRecord(std::span<std::byte> buffer) {
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(struct tls_get_record))] = {};
    struct iovec iov = {buffer.data(), buffer.size()};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ktls_recvmsg(fd_, &msg, 0);
    if (n < 0) return detail::LastError();
    Record record;
    record.size = static_cast<size_t>(n);
    record.complete = (msg.msg_flags & MSG_EOR) != 0;
    for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr;
         cmsg = CMSG_NXTHDR(&msg, cmsg)) {
      if (cmsg->cmsg_level == IPPROTO_TCP && cmsg->cmsg_type == TLS_GET_RECORD) {
        struct tls_get_record info;
        std::memcpy(&info, CMSG_DATA(cmsg), sizeof(info));
        record.type = info.tls_type;
        record.version_major = info.tls_vmajor;
        record.version_minor = info.tls_vminor;
      }
    }
    return record;
  }

  Result<void> Shutdown(int how) { return detail::Check(ktls_shutdown(fd_, how)); }
  Result<void> Close() { return detail::Check(ktls_close(std::exchange(fd_, -1))); }

 private:
  Result<Mode> GetMode(int option) const {
    int value = 0;
    socklen_t len = sizeof(value);
    if (ktls_getsockopt(fd_, IPPROTO_TCP, option, &value, &len) < 0) return detail::LastError();
    return static_cast<Mode>(value);
  }
  void Reset() {
    if (fd_ >= 0) ktls_close(std::exchange(fd_, -1));
  }

  int fd_ = -1;
};

}  // namespace ktls

#endif  // KTLS_KTLS_HPP_
