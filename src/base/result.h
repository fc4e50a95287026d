// Typed results without exceptions. Errors are errno values, because every public
// entry point of this library ends in a system-call-shaped API that reports errno.
#pragma once

#include <cassert>
#include <optional>
#include <utility>

namespace ktls {

class [[nodiscard]] Status {
 public:
  static Status Ok() { return Status(); }
  static Status Error(int errno_value) { return Status(errno_value); }

  bool ok() const { return errno_ == 0; }
  // The errno value; 0 when ok().
  int error() const { return errno_; }

 private:
  Status() = default;
  explicit Status(int errno_value) : errno_(errno_value) { assert(errno_value != 0); }
  int errno_ = 0;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : error_(status.error()) { assert(!status.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  int error() const { return error_; }
  Status status() const { return ok() ? Status::Ok() : Status::Error(error_); }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }

 private:
  std::optional<T> value_;
  int error_ = 0;
};

}  // namespace ktls

// Returns the error of a failed Status-returning expression from the enclosing function.
#define KTLS_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::ktls::Status ktls_status_ = (expr);        \
    if (!ktls_status_.ok()) return ktls_status_; \
  } while (false)
