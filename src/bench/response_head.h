// The head of an HTTP/1.x response, as far as the benchmark's clients need it: the
// status, the body's length, and whether the server ends the connection after it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ktls::bench {

struct ResponseHead {
  int status = 0;
  std::optional<uint64_t> content_length;
  bool close = false;    // the server ends the connection after this response
  bool chunked = false;  // a Transfer-Encoding: the body's length is not Content-Length
};

// `head` is the status line and the fields, without the final CRLF CRLF. False when it is
// not an HTTP/1.x response head: a malformed status line or field, or a Content-Length
// that is not one number that fits 64 bits (or is given twice).
bool ParseResponseHead(std::string_view head, ResponseHead* out);

}  // namespace ktls::bench
