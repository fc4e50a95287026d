// Content-Type by file name extension: a small fixed table of what static sites
// serve. Unknown extensions are application/octet-stream (never sniffed).
#pragma once

#include <string_view>

namespace ktls::server {

// "text/html; charset=utf-8" for "site/index.html"; case-insensitive extension.
std::string_view MimeTypeFor(std::string_view path);

}  // namespace ktls::server
