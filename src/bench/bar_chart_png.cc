#include "bench/bar_chart_png.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <utility>

namespace ktls::bench {
namespace {

// 5x9 glyphs for ASCII 32..126, one row per byte (bit 4 is the leftmost column), rows 0-6
// above the baseline and 7-8 for descenders. Drawn for this chart: '0' is slashed and 'l'
// has a flat top serif, so they differ from 'O' and from '1' (which has a flag).
constexpr std::array<std::array<uint8_t, kGlyphRows>, 95> kFont{{
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // ' '
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00, 0x00},  // '!'
    {0x0A, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // '"'
    {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A, 0x00, 0x00},  // '#'
    {0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04, 0x00, 0x00},  // '$'
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00, 0x00},  // '%'
    {0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D, 0x00, 0x00},  // '&'
    {0x04, 0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // '\''
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00, 0x00},  // '('
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00, 0x00},  // ')'
    {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00, 0x00, 0x00},  // '*'
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00, 0x00, 0x00},  // '+'
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08, 0x00},  // ','
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00, 0x00, 0x00},  // '-'
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C, 0x00, 0x00},  // '.'
    {0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10, 0x00, 0x00},  // '/'
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E, 0x00, 0x00},  // '0'
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00, 0x00},  // '1'
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F, 0x00, 0x00},  // '2'
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E, 0x00, 0x00},  // '3'
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02, 0x00, 0x00},  // '4'
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E, 0x00, 0x00},  // '5'
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E, 0x00, 0x00},  // '6'
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00, 0x00},  // '7'
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E, 0x00, 0x00},  // '8'
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C, 0x00, 0x00},  // '9'
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00, 0x00, 0x00},  // ':'
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08, 0x00, 0x00},  // ';'
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00, 0x00},  // '<'
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00, 0x00, 0x00},  // '='
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00, 0x00},  // '>'
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00, 0x00},  // '?'
    {0x0E, 0x11, 0x17, 0x15, 0x17, 0x10, 0x0F, 0x00, 0x00},  // '@'
    {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0x00, 0x00},  // 'A'
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E, 0x00, 0x00},  // 'B'
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E, 0x00, 0x00},  // 'C'
    {0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E, 0x00, 0x00},  // 'D'
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F, 0x00, 0x00},  // 'E'
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10, 0x00, 0x00},  // 'F'
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F, 0x00, 0x00},  // 'G'
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0x00, 0x00},  // 'H'
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00, 0x00},  // 'I'
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C, 0x00, 0x00},  // 'J'
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00, 0x00},  // 'K'
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F, 0x00, 0x00},  // 'L'
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00, 0x00},  // 'M'
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00, 0x00},  // 'N'
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0x00, 0x00},  // 'O'
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10, 0x00, 0x00},  // 'P'
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D, 0x00, 0x00},  // 'Q'
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11, 0x00, 0x00},  // 'R'
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E, 0x00, 0x00},  // 'S'
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00},  // 'T'
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0x00, 0x00},  // 'U'
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00, 0x00},  // 'V'
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A, 0x00, 0x00},  // 'W'
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11, 0x00, 0x00},  // 'X'
    {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00},  // 'Y'
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F, 0x00, 0x00},  // 'Z'
    {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E, 0x00, 0x00},  // '['
    {0x10, 0x10, 0x08, 0x04, 0x02, 0x01, 0x01, 0x00, 0x00},  // '\\'
    {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E, 0x00, 0x00},  // ']'
    {0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // '^'
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F, 0x00},  // '_'
    {0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // '`'
    {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F, 0x00, 0x00},  // 'a'
    {0x10, 0x10, 0x1E, 0x11, 0x11, 0x11, 0x1E, 0x00, 0x00},  // 'b'
    {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E, 0x00, 0x00},  // 'c'
    {0x01, 0x01, 0x0F, 0x11, 0x11, 0x11, 0x0F, 0x00, 0x00},  // 'd'
    {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E, 0x00, 0x00},  // 'e'
    {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08, 0x00, 0x00},  // 'f'
    {0x00, 0x00, 0x0F, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E},  // 'g'
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00},  // 'h'
    {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E, 0x00, 0x00},  // 'i'
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},  // 'j'
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00, 0x00},  // 'k'
    {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00, 0x00},  // 'l'
    {0x00, 0x00, 0x1A, 0x15, 0x15, 0x15, 0x15, 0x00, 0x00},  // 'm'
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00},  // 'n'
    {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E, 0x00, 0x00},  // 'o'
    {0x00, 0x00, 0x1E, 0x11, 0x11, 0x11, 0x1E, 0x10, 0x10},  // 'p'
    {0x00, 0x00, 0x0F, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x01},  // 'q'
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00, 0x00},  // 'r'
    {0x00, 0x00, 0x0F, 0x10, 0x0E, 0x01, 0x1E, 0x00, 0x00},  // 's'
    {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06, 0x00, 0x00},  // 't'
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D, 0x00, 0x00},  // 'u'
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00, 0x00},  // 'v'
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A, 0x00, 0x00},  // 'w'
    {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x00, 0x00},  // 'x'
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E},  // 'y'
    {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F, 0x00, 0x00},  // 'z'
    {0x03, 0x04, 0x04, 0x08, 0x04, 0x04, 0x03, 0x00, 0x00},  // '{'
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00},  // '|'
    {0x18, 0x04, 0x04, 0x02, 0x04, 0x04, 0x18, 0x00, 0x00},  // '}'
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00, 0x00},  // '~'
}};

// Text colors are grays and the reference line is pure black, so no bar color (below) is
// ever used by anything but its bars.
constexpr Rgb kTextColor{0x22, 0x22, 0x22};
constexpr Rgb kSubtleColor{0x66, 0x66, 0x66};
constexpr Rgb kAxisColor{0xAA, 0xAA, 0xAA};
constexpr Rgb kRuleColor{0xDD, 0xDD, 0xDD};

// Tableau 10: distinct and readable for the few servers a benchmark compares.
constexpr std::array<Rgb, 10> kPalette{{
    {0x4E, 0x79, 0xA7},
    {0xF2, 0x8E, 0x2B},
    {0xE1, 0x57, 0x59},
    {0x76, 0xB7, 0xB2},
    {0x59, 0xA1, 0x4F},
    {0xED, 0xC9, 0x48},
    {0xB0, 0x7A, 0xA1},
    {0xFF, 0x9D, 0xA7},
    {0x9C, 0x75, 0x5F},
    {0xBA, 0xB0, 0xAC},
}};

// Layout, in pixels. Text is the font scaled: a character is (kGlyphColumns + 1) * scale
// wide including its gap, and kGlyphRows * scale tall including descenders.
constexpr int kWidth = 900;
constexpr int kMargin = 24;
constexpr int kTitleScale = 3;
constexpr int kTextScale = 2;
constexpr int kBarHeight = 26;
constexpr int kBarGap = 10;
constexpr int kLabelGap = 12;  // between a label and its bar, and a bar and its value
constexpr int kMaxLabelChars = 24;
constexpr int kMaxValueChars = 16;
constexpr int kPanelGap = 18;
constexpr int kDash = 6;  // the reference line: kDash pixels drawn, kDash / 2 skipped

constexpr int CharWidth(int scale) {
  return (kGlyphColumns + 1) * scale;
}
constexpr int LineHeight(int scale) {
  return kGlyphRows * scale;
}
constexpr int CharsThatFit(int pixels, int scale) {
  return std::max(0, pixels / CharWidth(scale));
}

// One code point of UTF-8 at `*pos` (advanced past it); malformed bytes decode to
// U+FFFD one at a time.
uint32_t NextCodePoint(std::string_view text, size_t* pos) {
  auto lead = static_cast<unsigned char>(text[(*pos)++]);
  if (lead < 0x80) return lead;
  int more = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : -1;
  if (more < 0) return 0xFFFD;
  uint32_t code = lead & (0x3F >> more);
  for (int i = 0; i < more; ++i) {
    if (*pos >= text.size() || (static_cast<unsigned char>(text[*pos]) & 0xC0) != 0x80) {
      return 0xFFFD;
    }
    code = code << 6 | (static_cast<unsigned char>(text[(*pos)++]) & 0x3F);
  }
  return code;
}

// `text` in the font's characters. Units and labels may carry a few non-ASCII symbols
// ("µs", "2×"); those get look-alikes, anything else '?'.
std::string Drawable(std::string_view text) {
  std::string out;
  for (size_t pos = 0; pos < text.size();) {
    uint32_t code = NextCodePoint(text, &pos);
    if (code >= 32 && code < 127) {
      out += static_cast<char>(code);
    } else if (code < 32 || code == 0x7F || code == 0xA0) {
      out += ' ';
    } else if (code == 0xB5 || code == 0x3BC) {
      out += 'u';
    } else if (code == 0xD7) {
      out += 'x';
    } else if (code == 0xB1) {
      out += "+/-";
    } else if (code == 0x2013 || code == 0x2014 || code == 0x2212) {
      out += '-';
    } else if (code == 0x2026) {
      out += "...";
    } else {
      out += '?';
    }
  }
  return out;
}

// At most `max_chars` characters; longer text keeps its start and ends in "..".
std::string Fit(std::string text, int max_chars) {
  if (static_cast<int>(text.size()) <= max_chars) return text;
  if (max_chars < 3) return std::string(std::max(0, max_chars), '.');
  text.resize(max_chars - 2);
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text + "..";
}

int TextWidth(std::string_view text, int scale) {
  return static_cast<int>(text.size()) * CharWidth(scale);
}

class Canvas {
 public:
  Canvas(int width, int height)
      : width_(width), height_(height), pixels_(static_cast<size_t>(width) * height * 3, 0xFF) {}

  int width() const { return width_; }
  int height() const { return height_; }
  const std::vector<uint8_t>& pixels() const { return pixels_; }

  // Clipped to the canvas.
  void Fill(int x, int y, int w, int h, Rgb color) {
    int x0 = std::max(x, 0);
    int y0 = std::max(y, 0);
    int x1 = std::min(x + w, width_);
    int y1 = std::min(y + h, height_);
    for (int row = y0; row < y1; ++row) {
      uint8_t* p = &pixels_[(static_cast<size_t>(row) * width_ + x0) * 3];
      for (int col = x0; col < x1; ++col) {
        *p++ = color.r;
        *p++ = color.g;
        *p++ = color.b;
      }
    }
  }

  // `text` (already Drawable) with its cell's top-left corner at (x, y).
  void Text(int x, int y, std::string_view text, int scale, Rgb color) {
    for (char c : text) {
      std::span<const uint8_t, kGlyphRows> glyph = GlyphFor(c);
      for (int row = 0; row < kGlyphRows; ++row) {
        for (int col = 0; col < kGlyphColumns; ++col) {
          if ((glyph[row] >> (kGlyphColumns - 1 - col) & 1) != 0) {
            Fill(x + col * scale, y + row * scale, scale, scale, color);
          }
        }
      }
      x += CharWidth(scale);
    }
  }

 private:
  int width_;
  int height_;
  std::vector<uint8_t> pixels_;  // RGB, rows top to bottom
};

// Where things go horizontally; the same for every panel so bars line up.
struct Columns {
  int label_chars = 0;  // labels are right-aligned, ending kLabelGap before the bar
  int bar_left = 0;
  int bar_span = 0;  // the longest bar
};

Columns ColumnsFor(const BarChart& chart) {
  int label_chars = 0;
  int value_chars = 0;
  for (const BarPanel& panel : chart.panels) {
    for (const Bar& bar : panel.bars) {
      label_chars = std::max(label_chars, static_cast<int>(Drawable(bar.label).size()));
      value_chars = std::max(value_chars, static_cast<int>(Drawable(bar.value_text).size()));
    }
  }
  Columns columns;
  columns.label_chars = std::min(label_chars, kMaxLabelChars);
  columns.bar_left = kMargin + columns.label_chars * CharWidth(kTextScale) + kLabelGap;
  int value_width = std::min(value_chars, kMaxValueChars) * CharWidth(kTextScale);
  columns.bar_span = kWidth - kMargin - columns.bar_left - (value_width + kLabelGap);
  return columns;
}

bool HasReference(const BarPanel& panel) {
  return panel.reference_line.has_value() && std::isfinite(*panel.reference_line) &&
         *panel.reference_line >= 0;
}

// Value that spans the whole bar column: the panel's largest drawable value.
double PanelScale(const BarPanel& panel) {
  double scale = 0;
  for (const Bar& bar : panel.bars) {
    if (std::isfinite(bar.value)) scale = std::max(scale, bar.value);
  }
  if (HasReference(panel)) scale = std::max(scale, *panel.reference_line);
  return scale;
}

// Pixels from the bar column's left edge to `value`; values that cannot be drawn get 0,
// and any positive value at least 1 so it shows.
int Length(double value, double scale, int span) {
  if (!std::isfinite(value) || value <= 0 || scale <= 0) return 0;
  return std::clamp(static_cast<int>(std::lround(value / scale * span)), 1, span);
}

constexpr int kBarPitch = kBarHeight + kBarGap;
// Text centered on a bar: its capitals (the rows above the descenders) are what the eye
// centers.
constexpr int kCapRows = 7;
constexpr int kTextInBar = (kBarHeight - kCapRows * kTextScale) / 2;

int PanelHeight(const BarPanel& panel) {
  int rows = std::max<int>(panel.bars.size(), 1);  // an empty panel says "no data"
  int height = 1 + kBarGap + LineHeight(kTextScale) + kBarGap + rows * kBarPitch;
  if (HasReference(panel) && !panel.reference_label.empty()) height += LineHeight(kTextScale);
  return height;
}

int HeaderHeight(const BarChart& chart) {
  int height = kMargin;
  if (!chart.title.empty()) height += LineHeight(kTitleScale) + 4;
  if (!chart.subtitle.empty()) height += LineHeight(kTextScale) + 4;
  return height + kBarGap;
}

// Draws `panel` with its top at `top`.
void DrawPanel(Canvas* canvas, const BarPanel& panel, const Columns& columns, int top) {
  canvas->Fill(kMargin, top, kWidth - 2 * kMargin, 1, kRuleColor);
  int text_chars = CharsThatFit(kWidth - 2 * kMargin, kTextScale);
  canvas->Text(kMargin, top + 1 + kBarGap, Fit(Drawable(panel.title), text_chars), kTextScale,
               kTextColor);

  const int bars_top = top + 1 + kBarGap + LineHeight(kTextScale) + kBarGap;
  const int rows = std::max<int>(panel.bars.size(), 1);
  const int bars_bottom = bars_top + rows * kBarPitch - kBarGap;
  const double scale = PanelScale(panel);
  for (size_t i = 0; i < panel.bars.size(); ++i) {
    std::string label = Fit(Drawable(panel.bars[i].label), columns.label_chars);
    int y = bars_top + static_cast<int>(i) * kBarPitch;
    canvas->Text(columns.bar_left - kLabelGap - TextWidth(label, kTextScale), y + kTextInBar, label,
                 kTextScale, kTextColor);
    canvas->Fill(columns.bar_left, y, Length(panel.bars[i].value, scale, columns.bar_span),
                 kBarHeight, BarColor(panel.bars[i].color.value_or(i)));
  }
  if (panel.bars.empty()) {
    canvas->Text(columns.bar_left + kLabelGap, bars_top + kTextInBar, "(no data)", kTextScale,
                 kSubtleColor);
  }
  canvas->Fill(columns.bar_left - 1, bars_top - kBarGap / 2, 1, bars_bottom - bars_top + kBarGap,
               kAxisColor);

  if (HasReference(panel)) {
    // Over the bars, so it shows where each one stands against it.
    int x = columns.bar_left + Length(*panel.reference_line, scale, columns.bar_span) - 1;
    int end = bars_bottom + kBarGap / 2;
    for (int dash = bars_top - kBarGap / 2; dash < end; dash += kDash + kDash / 2) {
      canvas->Fill(x, dash, 2, std::min(kDash, end - dash), kReferenceLineColor);
    }
    std::string label = Fit(Drawable(panel.reference_label), text_chars);
    // Centered under the line, kept inside the margins.
    int label_left = std::clamp(x - TextWidth(label, kTextScale) / 2, kMargin,
                                kWidth - kMargin - TextWidth(label, kTextScale));
    canvas->Text(label_left, end + 2, label, kTextScale, kTextColor);
  }

  // Values last, on a background patch, so the reference line does not cross them.
  for (size_t i = 0; i < panel.bars.size(); ++i) {
    int y = bars_top + static_cast<int>(i) * kBarPitch;
    int left = columns.bar_left + Length(panel.bars[i].value, scale, columns.bar_span) + kLabelGap;
    std::string value =
        Fit(Drawable(panel.bars[i].value_text), CharsThatFit(kWidth - kMargin - left, kTextScale));
    if (value.empty()) continue;
    canvas->Fill(left - kLabelGap / 2, y, TextWidth(value, kTextScale) + kLabelGap / 2, kBarHeight,
                 kBackgroundColor);
    canvas->Text(left, y + kTextInBar, value, kTextScale, kTextColor);
  }
}

Canvas Draw(const BarChart& chart) {
  int height = HeaderHeight(chart);
  for (const BarPanel& panel : chart.panels) height += PanelHeight(panel) + kPanelGap;
  height += kMargin - kPanelGap / 2;
  Canvas canvas(kWidth, height);

  int y = kMargin;
  if (!chart.title.empty()) {
    std::string title = Fit(Drawable(chart.title), CharsThatFit(kWidth - 2 * kMargin, kTitleScale));
    canvas.Text(kMargin, y, title, kTitleScale, kTextColor);
    y += LineHeight(kTitleScale) + 4;
  }
  if (!chart.subtitle.empty()) {
    std::string subtitle =
        Fit(Drawable(chart.subtitle), CharsThatFit(kWidth - 2 * kMargin, kTextScale));
    canvas.Text(kMargin, y, subtitle, kTextScale, kSubtleColor);
  }

  y = HeaderHeight(chart);

  Columns columns = ColumnsFor(chart);
  for (const BarPanel& panel : chart.panels) {
    DrawPanel(&canvas, panel, columns, y);
    y += PanelHeight(panel) + kPanelGap;
  }
  return canvas;
}

// --- PNG encoding ---

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t n = 0; n < 256; ++n) {
    uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

// CRC-32 (ISO 3309), as PNG chunks carry.
uint32_t Crc32(std::string_view bytes) {
  uint32_t crc = 0xFFFFFFFF;
  for (char byte : bytes) crc = kCrcTable[(crc ^ static_cast<uint8_t>(byte)) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFF;
}

// Adler-32, the zlib stream's checksum of the uncompressed data.
uint32_t Adler32(const std::vector<uint8_t>& bytes) {
  constexpr uint32_t kMod = 65521;
  constexpr size_t kBlock = 5552;  // the most sums that cannot overflow 32 bits
  uint32_t a = 1;
  uint32_t b = 0;
  for (size_t start = 0; start < bytes.size(); start += kBlock) {
    size_t end = std::min(bytes.size(), start + kBlock);
    for (size_t i = start; i < end; ++i) {
      a += bytes[i];
      b += a;
    }
    a %= kMod;
    b %= kMod;
  }
  return b << 16 | a;
}

void AppendBigEndian32(std::string* out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

// Deflate writes bits from the least significant end of each byte.
class BitWriter {
 public:
  void Bits(uint32_t value, int count) {
    buffer_ |= static_cast<uint64_t>(value) << count_;
    count_ += count;
    while (count_ >= 8) {
      out_.push_back(static_cast<char>(buffer_ & 0xFF));
      buffer_ >>= 8;
      count_ -= 8;
    }
  }
  // Huffman codes go most significant bit first.
  void Code(uint32_t code, int length) {
    uint32_t reversed = 0;
    for (int i = 0; i < length; ++i) reversed |= ((code >> i) & 1) << (length - 1 - i);
    Bits(reversed, length);
  }
  std::string Finish() {
    if (count_ > 0) Bits(0, 8 - count_);
    return std::move(out_);
  }

 private:
  uint64_t buffer_ = 0;
  int count_ = 0;
  std::string out_;
};

// RFC 1951's fixed literal/length code.
void LiteralOrLength(BitWriter* out, int symbol) {
  if (symbol < 144) {
    out->Code(0x30 + symbol, 8);
  } else if (symbol < 256) {
    out->Code(0x190 + symbol - 144, 9);
  } else if (symbol < 280) {
    out->Code(symbol - 256, 7);
  } else {
    out->Code(0xC0 + symbol - 280, 8);
  }
}

constexpr std::array<uint16_t, 29> kLengthBase{3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                               15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                               67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr std::array<uint8_t, 29> kLengthExtra{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                               2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr std::array<uint16_t, 30> kDistanceBase{
    1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr std::array<uint8_t, 30> kDistanceExtra{0, 0, 0,  0,  1,  1,  2,  2,  3,  3,
                                                 4, 4, 5,  5,  6,  6,  7,  7,  8,  8,
                                                 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

// The last entry of `bases` not above `value`.
template <size_t N>
int CodeFor(const std::array<uint16_t, N>& bases, int value) {
  int code = N - 1;
  while (bases[code] > value) --code;
  return code;
}

void Match(BitWriter* out, int length, int distance) {
  int code = CodeFor(kLengthBase, length);
  LiteralOrLength(out, 257 + code);
  out->Bits(length - kLengthBase[code], kLengthExtra[code]);
  code = CodeFor(kDistanceBase, distance);
  out->Code(code, 5);
  out->Bits(distance - kDistanceBase[code], kDistanceExtra[code]);
}

// One fixed-Huffman block with greedy LZ77 matches. The filtered image is mostly runs of
// zeros and repeats of the row above, which this shrinks about a hundredfold.
std::string Deflate(const std::vector<uint8_t>& data) {
  constexpr int kWindow = 32768;
  constexpr int kMinMatch = 3;
  constexpr int kMaxMatch = 258;
  constexpr int kMaxChain = 64;  // candidates tried per position
  constexpr int kHashBits = 15;
  std::vector<int> head(1 << kHashBits, -1);
  std::vector<int> previous(kWindow, -1);
  auto hash = [&](size_t pos) {
    uint32_t key = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16;
    return (key * 2654435761u) >> (32 - kHashBits);
  };
  auto insert = [&](size_t pos) {
    if (pos + kMinMatch > data.size()) return;
    uint32_t h = hash(pos);
    previous[pos % kWindow] = head[h];
    head[h] = static_cast<int>(pos);
  };

  BitWriter out;
  out.Bits(1, 1);  // BFINAL: the only block
  out.Bits(1, 2);  // BTYPE 01: fixed Huffman codes
  size_t pos = 0;
  while (pos < data.size()) {
    int best_length = 0;
    int best_distance = 0;
    if (pos + kMinMatch <= data.size()) {
      int limit = static_cast<int>(std::min<size_t>(kMaxMatch, data.size() - pos));
      int candidate = head[hash(pos)];
      // A distance under kWindow also means previous[] still holds this chain's entry.
      for (int tries = 0;
           tries < kMaxChain && candidate >= 0 && static_cast<int>(pos) - candidate < kWindow;
           ++tries) {
        int length = 0;
        while (length < limit && data[candidate + length] == data[pos + length]) ++length;
        if (length > best_length) {
          best_length = length;
          best_distance = static_cast<int>(pos) - candidate;
          if (length == limit) break;
        }
        int next = previous[candidate % kWindow];
        if (next >= candidate) break;
        candidate = next;
      }
    }
    if (best_length >= kMinMatch) {
      Match(&out, best_length, best_distance);
      for (int i = 0; i < best_length; ++i) insert(pos + i);
      pos += best_length;
    } else {
      LiteralOrLength(&out, data[pos]);
      insert(pos);
      ++pos;
    }
  }
  LiteralOrLength(&out, 256);  // end of block
  return out.Finish();
}

// A zlib stream (RFC 1950): header, deflate data, Adler-32 of the input.
std::string Zlib(const std::vector<uint8_t>& data) {
  std::string out = "\x78\x01";  // deflate, 32 KiB window, no dictionary, fastest level
  out += Deflate(data);
  AppendBigEndian32(&out, Adler32(data));
  return out;
}

// The scanlines, each behind the filter byte of whichever of None, Sub and Up gives the
// smallest sum of absolute (signed) bytes, PNG's usual heuristic.
std::vector<uint8_t> Filtered(const Canvas& canvas) {
  constexpr int kPixel = 3;
  const size_t stride = static_cast<size_t>(canvas.width()) * kPixel;
  const std::vector<uint8_t>& pixels = canvas.pixels();
  std::vector<uint8_t> out;
  out.reserve((stride + 1) * canvas.height());
  std::array<std::vector<uint8_t>, 3> candidates;
  for (int y = 0; y < canvas.height(); ++y) {
    const uint8_t* row = &pixels[y * stride];
    const uint8_t* above = y > 0 ? row - stride : nullptr;
    for (auto& candidate : candidates) candidate.assign(stride, 0);
    for (size_t i = 0; i < stride; ++i) {
      candidates[0][i] = row[i];
      candidates[1][i] = row[i] - (i >= kPixel ? row[i - kPixel] : 0);
      candidates[2][i] = row[i] - (above != nullptr ? above[i] : 0);
    }
    size_t best = 0;
    uint64_t best_cost = UINT64_MAX;
    for (size_t filter = 0; filter < candidates.size(); ++filter) {
      uint64_t cost = 0;
      for (uint8_t byte : candidates[filter]) cost += std::abs(static_cast<int8_t>(byte));
      if (cost < best_cost) {
        best = filter;
        best_cost = cost;
      }
    }
    out.push_back(static_cast<uint8_t>(best));
    out.insert(out.end(), candidates[best].begin(), candidates[best].end());
  }
  return out;
}

void AppendChunk(std::string* png, std::string_view type, std::string_view data) {
  AppendBigEndian32(png, static_cast<uint32_t>(data.size()));
  std::string body(type);
  body += data;
  png->append(body);
  AppendBigEndian32(png, Crc32(body));
}

std::string EncodePng(const Canvas& canvas) {
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string header;
  AppendBigEndian32(&header, canvas.width());
  AppendBigEndian32(&header, canvas.height());
  // Bit depth 8, color type 2 (RGB), deflate, adaptive filtering, no interlace.
  header += std::string_view("\x08\x02\x00\x00\x00", 5);
  AppendChunk(&png, "IHDR", header);
  std::string compressed = Zlib(Filtered(canvas));
  // Decoders stream IDAT in pieces; 32 KiB keeps each chunk modest.
  constexpr size_t kIdatSize = 32768;
  for (size_t start = 0; start < compressed.size(); start += kIdatSize) {
    AppendChunk(&png, "IDAT", std::string_view(compressed).substr(start, kIdatSize));
  }
  AppendChunk(&png, "IEND", "");
  return png;
}

}  // namespace

Rgb BarColor(size_t index) {
  return kPalette[index % kPalette.size()];
}

std::span<const uint8_t, kGlyphRows> GlyphFor(char c) {
  auto code = static_cast<unsigned char>(c);
  if (code < 32 || code > 126) code = '?';
  return kFont[code - 32];
}

std::string RenderBarChartPng(const BarChart& chart) {
  return EncodePng(Draw(chart));
}

}  // namespace ktls::bench
