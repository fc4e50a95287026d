#include "server/http_request.h"

#include <algorithm>
#include <cctype>

#include "server/http_text.h"

namespace ktls::server {
namespace {

constexpr int kBadRequest = 400;
constexpr int kHeadersTooLarge = 431;
constexpr int kVersionNotSupported = 505;

ParseResult Error(int status) {
  ParseResult result;
  result.status = ParseStatus::kError;
  result.error_status = status;
  return result;
}

// RFC 9110 §5.5: field values are visible characters, obs-text, spaces and tabs.
bool IsFieldValue(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || u >= 0x20 ? u != 0x7f : false;
  });
}

bool IsTarget(std::string_view target) {
  return !target.empty() && std::all_of(target.begin(), target.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

// "HTTP/1.1" -> 1; nullopt for anything that is not HTTP-version syntax; -1 for a
// well-formed version other than 1.0 and 1.1.
std::optional<int> VersionMinor(std::string_view version) {
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      !std::isdigit(static_cast<unsigned char>(version[5])) ||
      !std::isdigit(static_cast<unsigned char>(version[7]))) {
    return std::nullopt;
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) return -1;
  return version[7] - '0';
}

// Content-Length: digits, or a list of identical values (RFC 9110 §8.6).
std::optional<uint64_t> ParseContentLength(std::string_view value) {
  std::optional<uint64_t> result;
  for (std::string_view item : SplitList(value)) {
    std::optional<uint64_t> n = ParseDecimal(item);
    if (!n || (result && *result != *n)) return std::nullopt;
    result = n;
  }
  return result;
}

// One line without its terminator: the text before '\n' (and a '\r' right before it).
struct Line {
  std::string_view text;
  size_t next = 0;  // offset after the '\n'
};

std::optional<Line> NextLine(std::string_view buffer, size_t from) {
  const size_t lf = buffer.find('\n', from);
  if (lf == std::string_view::npos) return std::nullopt;
  size_t end = lf;
  if (end > from && buffer[end - 1] == '\r') --end;
  return Line{buffer.substr(from, end - from), lf + 1};
}

}  // namespace

ParseResult ParseRequest(std::string_view buffer, const RequestLimits& limits) {
  // Leading empty lines are skipped (RFC 9112 §2.2).
  size_t pos = 0;
  std::optional<Line> line;
  for (;;) {
    line = NextLine(buffer, pos);
    if (!line) break;
    if (!line->text.empty()) break;
    pos = line->next;
  }
  // The head ends with the first empty line after the request line.
  size_t end = std::string_view::npos;
  if (line) {
    for (size_t at = line->next;;) {
      std::optional<Line> field = NextLine(buffer, at);
      if (!field) break;
      if (field->text.empty()) {
        end = field->next;
        break;
      }
      at = field->next;
    }
  }
  if (end == std::string_view::npos) {
    return buffer.size() > limits.max_header_bytes ? Error(kHeadersTooLarge) : ParseResult{};
  }
  if (end > limits.max_header_bytes) return Error(kHeadersTooLarge);

  ParseResult result;
  Request& request = result.request;
  // Request line: method SP request-target SP HTTP-version.
  const std::string_view request_line = line->text;
  if (request_line.find('\r') != std::string_view::npos) return Error(kBadRequest);
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return Error(kBadRequest);
  request.method = request_line.substr(0, sp1);
  request.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::optional<int> minor = VersionMinor(request_line.substr(sp2 + 1));
  if (!IsToken(request.method) || !IsTarget(request.target) || !minor) {
    return Error(kBadRequest);
  }
  if (*minor < 0) return Error(kVersionNotSupported);
  request.version_minor = *minor;
  request.keep_alive = *minor == 1;

  size_t fields = 0;
  size_t hosts = 0;
  bool have_length = false;
  bool close = false;
  for (size_t at = line->next; at < end;) {
    const Line field = *NextLine(buffer, at);
    at = field.next;
    if (field.text.empty()) break;
    if (++fields > limits.max_fields) return Error(kHeadersTooLarge);
    // Obsolete line folding and whitespace before the colon are refused (§5.1, §5.2).
    const size_t colon = field.text.find(':');
    if (colon == std::string_view::npos) return Error(kBadRequest);
    const std::string_view name = field.text.substr(0, colon);
    const std::string_view value = TrimWhitespace(field.text.substr(colon + 1));
    if (!IsToken(name) || !IsFieldValue(value)) return Error(kBadRequest);

    if (EqualsIgnoreCase(name, "host")) {
      ++hosts;
      request.host = value;
    } else if (EqualsIgnoreCase(name, "content-length")) {
      const std::optional<uint64_t> length = ParseContentLength(value);
      if (!length || (have_length && *length != request.content_length)) {
        return Error(kBadRequest);
      }
      have_length = true;
      request.content_length = *length;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      request.chunked = true;
    } else if (EqualsIgnoreCase(name, "connection")) {
      for (std::string_view option : SplitList(value)) {
        if (EqualsIgnoreCase(option, "close")) close = true;
        if (EqualsIgnoreCase(option, "keep-alive")) request.keep_alive = true;
      }
    } else if (EqualsIgnoreCase(name, "range")) {
      // Two Range fields make no sense together; the request then gets the whole file.
      request.range = request.range ? std::optional<std::string_view>("") : value;
    } else if (EqualsIgnoreCase(name, "if-range")) {
      request.if_range = value;
    } else if (EqualsIgnoreCase(name, "if-modified-since")) {
      request.if_modified_since = value;
    }
  }
  // Request smuggling defences (RFC 9112 §6.1, §6.3): a length and a transfer coding
  // together, or a transfer coding HTTP/1.0 does not know.
  if (request.chunked && (have_length || *minor == 0)) return Error(kBadRequest);
  if (*minor == 1 && hosts != 1) return Error(kBadRequest);
  if (hosts > 1) return Error(kBadRequest);
  if (close) request.keep_alive = false;
  result.status = ParseStatus::kComplete;
  result.consumed = end;
  return result;
}

}  // namespace ktls::server
