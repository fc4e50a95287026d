// Turns a request-target into a path relative to the document root, or a refusal.
// Pure: the file system is consulted later (document_root.h).
//
// The target's path is percent-decoded first, then split on '/', so an encoded slash
// or dot ("..%2F", "%2e%2e") cannot hide a segment. Any ".." segment is refused with 403
// rather than normalized: no legitimate link needs one. "." and empty segments vanish.
#pragma once

#include <string>
#include <string_view>

namespace ktls::server {

struct TargetPath {
  int error_status = 0;  // 0, or 400 (malformed) or 403 (traversal)
  std::string relative;  // "dir/file.txt"; empty for the root
};

// Accepts origin-form ("/a/b?q") and absolute-form ("https://host/a/b") targets.
TargetPath DecodeTargetPath(std::string_view target);

// Percent-decoding of a path (RFC 3986 §2.1). False for a '%' not followed by two hex
// digits, or for an encoded NUL.
bool PercentDecode(std::string_view in, std::string* out);

}  // namespace ktls::server
