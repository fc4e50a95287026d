// HTTP dates (RFC 9110 §5.6.7). Only the preferred IMF-fixdate form is produced and
// parsed ("Sun, 06 Nov 1994 08:49:37 GMT"); fields in the obsolete forms are treated as
// absent, which only costs a conditional request its shortcut.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace ktls::server {

std::string FormatHttpDate(std::time_t time);
std::optional<std::time_t> ParseHttpDate(std::string_view text);

}  // namespace ktls::server
