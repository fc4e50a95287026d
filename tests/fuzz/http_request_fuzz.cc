// libFuzzer target for the pure HTTP pieces of `ktls serve`: whatever a client sends,
// the head parser, the target decoder, the range evaluator and the date parser must
// neither crash nor read past their input, and a complete head never claims more
// bytes than it was given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/http_date.h"
#include "server/http_range.h"
#include "server/http_request.h"
#include "server/request_path.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy without spare capacity, so ASan catches any read past the end.
  const std::string input(reinterpret_cast<const char*>(data), size);
  ktls::server::RequestLimits limits;
  limits.max_header_bytes = 4096;
  limits.max_fields = 32;
  const ktls::server::ParseResult parsed = ktls::server::ParseRequest(input, limits);
  if (parsed.consumed > input.size()) std::abort();
  if (parsed.status == ktls::server::ParseStatus::kComplete) {
    const ktls::server::Request& request = parsed.request;
    const ktls::server::TargetPath path = ktls::server::DecodeTargetPath(request.target);
    if (path.error_status == 0 && path.relative.find("..") != std::string::npos) {
      // ".." may appear inside a name ("a..b") but never as a whole segment.
      const std::string wrapped = "/" + path.relative + "/";
      if (wrapped.find("/../") != std::string::npos) std::abort();
    }
    if (request.range) {
      const uint64_t file_size = size * 97;
      const ktls::server::RangeDecision range =
          ktls::server::EvaluateRange(*request.range, file_size);
      if (range.kind == ktls::server::RangeKind::kPartial &&
          (range.length == 0 || range.first + range.length > file_size)) {
        std::abort();
      }
    }
    if (request.if_modified_since) (void)ktls::server::ParseHttpDate(*request.if_modified_since);
  }
  return 0;
}
