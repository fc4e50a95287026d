#include "server/http_date.h"

#include <array>
#include <cstdio>

#include "server/http_text.h"

namespace ktls::server {
namespace {

constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::optional<int> Digits(std::string_view text) {
  std::optional<uint64_t> n = ParseDecimal(text);
  if (!n || *n > 9999) return std::nullopt;
  return static_cast<int>(*n);
}

}  // namespace

std::string FormatHttpDate(std::time_t time) {
  struct tm tm = {};
  gmtime_r(&time, &tm);
  // Names come from our tables, not strftime, so the locale cannot change them.
  char text[40];
  std::snprintf(text, sizeof(text), "%.3s, %02d %.3s %04d %02d:%02d:%02d GMT",
                kDays[static_cast<size_t>(tm.tm_wday) % 7].data(), tm.tm_mday,
                kMonths[static_cast<size_t>(tm.tm_mon) % 12].data(), tm.tm_year + 1900, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return text;
}

std::optional<std::time_t> ParseHttpDate(std::string_view text) {
  // "Sun, 06 Nov 1994 08:49:37 GMT": fixed positions, 29 characters.
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  struct tm tm = {};
  int month = -1;
  for (size_t i = 0; i < kMonths.size(); ++i) {
    if (text.substr(8, 3) == kMonths[i]) month = static_cast<int>(i);
  }
  const std::optional<int> day = Digits(text.substr(5, 2));
  const std::optional<int> year = Digits(text.substr(12, 4));
  const std::optional<int> hour = Digits(text.substr(17, 2));
  const std::optional<int> minute = Digits(text.substr(20, 2));
  const std::optional<int> second = Digits(text.substr(23, 2));
  if (month < 0 || !day || !year || !hour || !minute || !second || *day < 1 || *day > 31 ||
      *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  tm.tm_mday = *day;
  tm.tm_mon = month;
  tm.tm_year = *year - 1900;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  return timegm(&tm);
}

}  // namespace ktls::server
