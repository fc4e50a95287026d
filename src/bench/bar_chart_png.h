// The PNG bar chart of `ktls bench serve`: panels of horizontal bars (one panel per metric,
// one bar per server) drawn with a built-in bitmap font and written as an 8-bit RGB PNG.
// Self-contained (its own deflate, CRC-32 and Adler-32) so the bench needs no image library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ktls::bench {

struct Bar {
  std::string label;       // left of the bar, e.g. "nginx + ktls"
  double value = 0;        // bar length; negative, NaN and infinite values draw no bar
  std::string value_text;  // at the bar's end, e.g. "4.21 GB/s"
  // Which BarColor() to use; unset: the bar's position in its panel. Set it when panels
  // list different subsets, so one server keeps its color everywhere.
  std::optional<size_t> color = std::nullopt;
};

struct BarPanel {
  std::string title;  // e.g. "Throughput, GB/s (higher is better)"
  std::vector<Bar> bars;
  std::optional<double> reference_line;  // a dashed vertical line at this value
  std::string reference_label;           // drawn under the bars at the line
};

struct BarChart {
  std::string title;
  std::string subtitle;
  std::vector<BarPanel> panels;  // stacked top to bottom, bars scaled per panel
};

// The PNG file's bytes: 900 pixels wide, as tall as the panels and their bars need. Each
// panel scales its bars to its largest value (or its reference line, if larger). Text outside
// printable ASCII is drawn as '?' (a few common symbols such as 'µ' and '×' map to ASCII
// look-alikes); text that does not fit is cut and ends in "..".
std::string RenderBarChartPng(const BarChart& chart);

struct Rgb {
  uint8_t r = 0;
  uint8_t g = 0;
  uint8_t b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

// Bar `index` of every panel has this color, so one server keeps its color across panels.
Rgb BarColor(size_t index);
// Only the reference line uses this color (text and axes are grays).
inline constexpr Rgb kReferenceLineColor{0, 0, 0};
inline constexpr Rgb kBackgroundColor{255, 255, 255};

// The built-in font: kGlyphRows rows of kGlyphColumns pixels, bit 4 the leftmost column.
// Rows 0-6 stand on the baseline, rows 7-8 are descenders.
inline constexpr int kGlyphColumns = 5;
inline constexpr int kGlyphRows = 9;
// The glyph of a printable ASCII character; anything else gets '?'.
std::span<const uint8_t, kGlyphRows> GlyphFor(char c);

}  // namespace ktls::bench
