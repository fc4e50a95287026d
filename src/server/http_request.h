// HTTP/1.1 request heads (RFC 9112 §2-§6), parsed from the bytes received so far.
// Pure: no I/O, no allocation beyond the result, so it can be fuzzed and unit-tested.
// The request's string_views point into the buffer given to ParseRequest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ktls::server {

struct RequestLimits {
  size_t max_header_bytes = 8192;  // request line + fields + the empty line
  size_t max_fields = 100;
};

struct Request {
  std::string_view method;
  std::string_view target;
  int version_minor = 1;  // HTTP/1.<minor>; only 0 and 1 are accepted
  std::string_view host;
  std::optional<std::string_view> range;
  std::optional<std::string_view> if_range;
  std::optional<std::string_view> if_modified_since;
  uint64_t content_length = 0;
  bool chunked = false;    // Transfer-Encoding present: a body of unknown length
  bool keep_alive = true;  // what the client asked for (version default + Connection)

  bool has_body() const { return chunked || content_length > 0; }
};

enum class ParseStatus : uint8_t {
  kIncomplete,  // no full head yet and still within the limits: read more
  kComplete,    // `request` and `consumed` are set
  kError,       // `error_status` says which response to send; then close
};

struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  Request request;
  size_t consumed = 0;   // bytes of the head, including the empty line
  int error_status = 0;  // 400, 431 or 505
};

// Parses the head at the start of `buffer`. Leading empty lines are skipped (§2.2);
// lines may end in CRLF or a bare LF. Errors: 431 when the head exceeds the limits, 505
// for a version other than HTTP/1.0 and 1.1, 400 for anything malformed (obsolete line
// folding, whitespace before a colon, control characters, a missing or repeated Host in
// HTTP/1.1, conflicting Content-Length, Transfer-Encoding in HTTP/1.0).
ParseResult ParseRequest(std::string_view buffer, const RequestLimits& limits);

}  // namespace ktls::server
