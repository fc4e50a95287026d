#include "bench/response_head.h"

#include <string_view>

#include "server/http_text.h"

namespace ktls::bench {

bool ParseResponseHead(std::string_view head, ResponseHead* out) {
  *out = ResponseHead();
  size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.1 200 OK": version, a space, three digits, then a space or the end.
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.") || status_line[8] != ' ') {
    return false;
  }
  const std::optional<uint64_t> status = server::ParseDecimal(status_line.substr(9, 3));
  if (!status || (status_line.size() > 12 && status_line[12] != ' ')) return false;
  out->status = static_cast<int>(*status);
  // HTTP/1.1 keeps the connection open unless told otherwise; HTTP/1.0 the reverse.
  bool keep_alive = status_line[7] != '0';
  while (line_end != std::string_view::npos) {
    const size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string_view line = head.substr(start, line_end - start);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = server::TrimWhitespace(line.substr(colon + 1));
    if (server::EqualsIgnoreCase(name, "content-length")) {
      const std::optional<uint64_t> length = server::ParseDecimal(value);
      if (!length || out->content_length.has_value()) return false;
      out->content_length = length;
    } else if (server::EqualsIgnoreCase(name, "connection")) {
      for (std::string_view token : server::SplitList(value)) {
        if (server::EqualsIgnoreCase(token, "close")) keep_alive = false;
        if (server::EqualsIgnoreCase(token, "keep-alive")) keep_alive = true;
      }
    } else if (server::EqualsIgnoreCase(name, "transfer-encoding")) {
      out->chunked = true;
    }
  }
  out->close = !keep_alive;
  return true;
}

}  // namespace ktls::bench
