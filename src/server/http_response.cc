#include "server/http_response.h"

#include "server/http_date.h"

namespace ktls::server {

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string SerializeHead(const Response& response, std::time_t now) {
  std::string head;
  head.reserve(256);
  head.append("HTTP/1.1 ").append(std::to_string(response.status)).push_back(' ');
  head.append(ReasonPhrase(response.status)).append("\r\n");
  head.append("Date: ").append(FormatHttpDate(now)).append("\r\n");
  head.append("Server: ktls-serve\r\n");
  for (const auto& [name, value] : response.fields) {
    head.append(name).append(": ").append(value).append("\r\n");
  }
  // 304 has no body and so no length (RFC 9110 §8.6 permits one, curl does not need it).
  if (response.status != 304) {
    head.append("Content-Length: ").append(std::to_string(response.body_length())).append("\r\n");
  }
  if (!response.keep_alive) {
    head.append("Connection: close\r\n");
  } else if (response.version_minor == 0) {
    head.append("Connection: keep-alive\r\n");
  }
  head.append("\r\n");
  return head;
}

Response MakeErrorResponse(int status, bool keep_alive, int version_minor) {
  Response response;
  response.status = status;
  response.keep_alive = keep_alive;
  response.version_minor = version_minor;
  response.fields.emplace_back("Content-Type", "text/plain; charset=utf-8");
  response.body = std::to_string(status) + " " + std::string(ReasonPhrase(status)) + "\n";
  return response;
}

}  // namespace ktls::server
