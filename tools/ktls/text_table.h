// Column-aligned plain-text output for people: tables and "key: value" lists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace ktls::tool {

class TextTable {
 public:
  enum class Align : uint8_t { kLeft, kRight };
  struct Column {
    std::string title;
    Align align = Align::kLeft;
  };

  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

  // A row with fewer cells than columns is padded with empty cells.
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void Print(std::ostream& out) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Prints "key: value" lines with the values lined up in one column.
void PrintKeyValues(std::ostream& out,
                    const std::vector<std::pair<std::string, std::string>>& lines);

// `value` with `decimals` digits after the point, for a table cell; "-" when it is not a
// finite number (a ratio to a baseline that did not run).
std::string FormatFixed(double value, int decimals);

// Display width of UTF-8 text: code points, which is right for what we print.
size_t DisplayWidth(const std::string& text);

}  // namespace ktls::tool
