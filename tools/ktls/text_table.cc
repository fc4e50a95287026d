#include "tools/ktls/text_table.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace ktls::tool {
namespace {

void Pad(std::ostream& out, size_t count) {
  for (size_t i = 0; i < count; ++i) out << ' ';
}

}  // namespace

std::string FormatFixed(double value, int decimals) {
  if (!std::isfinite(value)) return "-";
  std::array<char, 64> text{};
  std::snprintf(text.data(), text.size(), "%.*f", decimals, value);
  return text.data();
}

size_t DisplayWidth(const std::string& text) {
  // Count every byte that does not continue a multi-byte sequence.
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  }));
}

void TextTable::Print(std::ostream& out) const {
  std::vector<size_t> widths(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) widths[i] = DisplayWidth(columns_[i].title);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  auto print_row = [&](auto cell_at) {
    std::string line;
    for (size_t i = 0; i < columns_.size(); ++i) {
      const std::string& cell = cell_at(i);
      const std::string pad(widths[i] - DisplayWidth(cell), ' ');
      if (i > 0) line += "  ";
      line += columns_[i].align == Align::kRight ? pad + cell : cell + pad;
    }
    // Empty trailing cells would leave blanks at the end of the line.
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << '\n';
  };
  print_row([&](size_t i) -> const std::string& { return columns_[i].title; });
  static const std::string kEmpty;
  for (const auto& row : rows_) {
    print_row([&](size_t i) -> const std::string& { return i < row.size() ? row[i] : kEmpty; });
  }
}

void PrintKeyValues(std::ostream& out,
                    const std::vector<std::pair<std::string, std::string>>& lines) {
  size_t width = 0;
  for (const auto& [key, value] : lines) width = std::max(width, DisplayWidth(key));
  for (const auto& [key, value] : lines) {
    out << key << ':';
    Pad(out, width - DisplayWidth(key) + 1);
    out << value << '\n';
  }
}

}  // namespace ktls::tool
