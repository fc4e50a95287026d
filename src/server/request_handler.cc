#include "server/request_handler.h"

#include <string>

#include "server/http_date.h"
#include "server/http_range.h"
#include "server/mime_types.h"
#include "server/request_path.h"

namespace ktls::server {
namespace {

// If-Range (RFC 9110 §13.1.5): the range applies only while the representation is the
// one the client saw. We have no entity tags, so only an exact date match keeps it.
bool IfRangeHolds(const Request& request, std::time_t modified) {
  if (!request.if_range) return true;
  const std::optional<std::time_t> date = ParseHttpDate(*request.if_range);
  return date && *date == modified;
}

Response Refuse(const Request& request, int status, bool keep_alive) {
  Response response = MakeErrorResponse(status, keep_alive, request.version_minor);
  response.send_body = request.method != "HEAD";
  return response;
}

}  // namespace

Response HandleRequest(const Request& request, const DocumentRoot& root) {
  const bool head = request.method == "HEAD";
  if (request.method != "GET" && !head) {
    // A body we will not read would be taken for the next request: close after.
    Response response = Refuse(request, 405, request.keep_alive && !request.has_body());
    response.fields.emplace_back("Allow", "GET, HEAD");
    return response;
  }
  if (request.has_body()) return Refuse(request, 413, false);

  const TargetPath target = DecodeTargetPath(request.target);
  if (target.error_status != 0) return Refuse(request, target.error_status, request.keep_alive);
  ResolvedFile file = root.Resolve(target.relative);
  if (file.status != 200) return Refuse(request, file.status, request.keep_alive);

  Response response;
  response.keep_alive = request.keep_alive;
  response.version_minor = request.version_minor;
  response.send_body = !head;
  const std::time_t modified = file.st.st_mtim.tv_sec;
  const uint64_t size = static_cast<uint64_t>(file.st.st_size);
  response.fields.emplace_back("Content-Type", std::string(MimeTypeFor(file.path)));
  response.fields.emplace_back("Last-Modified", FormatHttpDate(modified));
  response.fields.emplace_back("Accept-Ranges", "bytes");

  if (request.if_modified_since) {
    const std::optional<std::time_t> since = ParseHttpDate(*request.if_modified_since);
    if (since && modified <= *since) {
      response.status = 304;
      response.send_body = false;
      return response;
    }
  }

  response.file_length = size;
  if (request.range && IfRangeHolds(request, modified)) {
    const RangeDecision range = EvaluateRange(*request.range, size);
    if (range.kind == RangeKind::kUnsatisfiable) {
      Response refused = Refuse(request, 416, request.keep_alive);
      refused.fields.emplace_back("Content-Range", "bytes */" + std::to_string(size));
      return refused;
    }
    if (range.kind == RangeKind::kPartial) {
      response.status = 206;
      response.file_offset = range.first;
      response.file_length = range.length;
      response.fields.emplace_back("Content-Range",
                                   "bytes " + std::to_string(range.first) + "-" +
                                       std::to_string(range.first + range.length - 1) + "/" +
                                       std::to_string(size));
    }
  }
  response.file = std::move(file.fd);
  return response;
}

}  // namespace ktls::server
