// A response as the connection sends it: a head, then either a small in-memory body or
// a byte range of an open file (sent with ktls_sendfile).
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/unique_fd.h"

namespace ktls::server {

struct Response {
  int status = 200;
  // Fields besides Date, Server, Content-Length and Connection, which SerializeHead adds.
  std::vector<std::pair<std::string_view, std::string>> fields;
  std::string body;  // in-memory body (error pages), when `file` is not set
  UniqueFd file;
  uint64_t file_offset = 0;
  uint64_t file_length = 0;
  bool send_body = true;  // false for HEAD and 304: fields describe a body never sent
  bool keep_alive = true;
  int version_minor = 1;  // of the request: HTTP/1.0 needs an explicit keep-alive

  uint64_t body_length() const { return file.valid() ? file_length : body.size(); }
};

std::string_view ReasonPhrase(int status);

// The status line and fields, ending with the empty line.
std::string SerializeHead(const Response& response, std::time_t now);

// A short text/plain page for an error status.
Response MakeErrorResponse(int status, bool keep_alive, int version_minor);

}  // namespace ktls::server
