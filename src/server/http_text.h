// The small pieces of HTTP syntax (RFC 9110 §5.6) the request parser, the range parser
// and the date parser share. Pure functions over string_view.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace ktls::server {

// token = 1*tchar
bool IsToken(std::string_view text);
// Without leading and trailing spaces and tabs.
std::string_view TrimWhitespace(std::string_view text);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// The non-empty, trimmed elements of a comma-separated list (#rule).
std::vector<std::string_view> SplitList(std::string_view text);
// 1*DIGIT as an unsigned integer; nullopt for anything else or on overflow.
std::optional<uint64_t> ParseDecimal(std::string_view text);

}  // namespace ktls::server
