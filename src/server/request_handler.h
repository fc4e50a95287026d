// What to answer to one parsed request: method and body checks, path resolution under
// the document root, conditional and range requests. The file is opened here; the
// connection only sends what the Response says.
#pragma once

#include <ctime>

#include "server/document_root.h"
#include "server/http_request.h"
#include "server/http_response.h"

namespace ktls::server {

// Order of checks: method (405 with Allow), request body (413: this server takes none,
// and the connection closes because the body is left unread), target (400 / 403),
// file (403 / 404), If-Modified-Since (304), Range with If-Range (206 / 416 / 200).
Response HandleRequest(const Request& request, const DocumentRoot& root);

}  // namespace ktls::server
