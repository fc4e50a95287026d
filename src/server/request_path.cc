#include "server/request_path.h"

#include "server/http_text.h"

namespace ktls::server {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The path of an absolute-form target: what follows the authority.
std::string_view StripSchemeAndAuthority(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() &&
        EqualsIgnoreCase(target.substr(0, scheme.size()), scheme)) {
      const std::string_view rest = target.substr(scheme.size());
      const size_t slash = rest.find_first_of("/?#");
      if (slash == std::string_view::npos || rest[slash] != '/') return "/";
      return rest.substr(slash);
    }
  }
  return target;
}

}  // namespace

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int high = HexValue(in[i + 1]);
    const int low = HexValue(in[i + 2]);
    if (high < 0 || low < 0) return false;
    const char c = static_cast<char>(high * 16 + low);
    if (c == '\0') return false;
    out->push_back(c);
    i += 2;
  }
  return true;
}

TargetPath DecodeTargetPath(std::string_view target) {
  TargetPath result;
  std::string_view path = StripSchemeAndAuthority(target);
  path = path.substr(0, path.find_first_of("?#"));
  if (path.empty() || path.front() != '/') {
    result.error_status = 400;
    return result;
  }
  std::string decoded;
  if (!PercentDecode(path, &decoded)) {
    result.error_status = 400;
    return result;
  }
  std::string_view rest = decoded;
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      result.error_status = 403;
      result.relative.clear();
      return result;
    }
    if (!result.relative.empty()) result.relative.push_back('/');
    result.relative.append(segment);
  }
  return result;
}

}  // namespace ktls::server
