#include "bench/bar_chart_png.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace ktls::bench {
namespace {

// The chart's PNG is decoded here with zlib and a PNG reader written for this test, never
// with the renderer's own CRC, Adler-32 or deflate code.

uint32_t BigEndian32(const std::string& bytes, size_t at) {
  return static_cast<uint32_t>(static_cast<uint8_t>(bytes[at])) << 24 |
         static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 1])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 2])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 3]));
}

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;

  // Outside the image (an image that failed to decode is empty), a color the chart never
  // draws, so the test fails instead of crashing.
  Rgb At(int x, int y) const {
    if (x < 0 || y < 0 || x >= width || y >= height) return Rgb{1, 2, 3};
    size_t at = (static_cast<size_t>(y) * width + x) * 3;
    return Rgb{rgb[at], rgb[at + 1], rgb[at + 2]};
  }
};

// The smallest rectangle holding every pixel of one color.
struct Box {
  int left = 0;
  int top = 0;
  int right = -1;  // inclusive; right < left means no pixel
  int bottom = -1;
  int count = 0;
  int width() const { return right - left + 1; }
  int height() const { return bottom - top + 1; }
};

Box BoxOf(const Image& image, Rgb color, int from_y = 0, int to_y = -1) {
  if (to_y < 0) to_y = image.height;
  Box box{image.width, image.height, -1, -1, 0};
  for (int y = from_y; y < to_y; ++y) {
    for (int x = 0; x < image.width; ++x) {
      if (image.At(x, y) != color) continue;
      box.left = std::min(box.left, x);
      box.top = std::min(box.top, y);
      box.right = std::max(box.right, x);
      box.bottom = std::max(box.bottom, y);
      ++box.count;
    }
  }
  return box;
}

// One box per stretch of consecutive rows holding `color`: the bars drawn in it.
std::vector<Box> BarsOf(const Image& image, Rgb color) {
  std::vector<Box> bars;
  bool inside = false;
  for (int y = 0; y < image.height; ++y) {
    Box row = BoxOf(image, color, y, y + 1);
    if (row.count == 0) {
      inside = false;
      continue;
    }
    if (!inside) bars.push_back(Box{image.width, y, -1, y, 0});
    inside = true;
    Box& bar = bars.back();
    bar.left = std::min(bar.left, row.left);
    bar.right = std::max(bar.right, row.right);
    bar.bottom = y;
    bar.count += row.count;
  }
  return bars;
}

int CountNot(const Image& image, Rgb color, int x0, int y0, int x1, int y1) {
  int count = 0;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) count += image.At(x, y) != color ? 1 : 0;
  }
  return count;
}

// Pixels of `color` in row `y` from `x` rightwards, up to the first other pixel.
int RunLength(const Image& image, int x, int y, Rgb color) {
  int length = 0;
  while (x + length < image.width && image.At(x + length, y) == color) ++length;
  return length;
}

uint8_t Paeth(int a, int b, int c) {
  int p = a + b - c;
  int pa = std::abs(p - a);
  int pb = std::abs(p - b);
  int pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

// Checks the whole file (signature, chunk order, every CRC, IHDR, the zlib stream and its
// size, filter types) and decodes it into `image`.
testing::AssertionResult DecodePng(const std::string& png, Image* image) {
  const std::string kSignature("\x89PNG\r\n\x1a\n", 8);
  if (png.compare(0, 8, kSignature) != 0) return testing::AssertionFailure() << "no signature";
  std::vector<std::string> types;
  std::string ihdr;
  std::string idat;
  size_t at = 8;
  while (at < png.size()) {
    if (png.size() - at < 12) return testing::AssertionFailure() << "truncated chunk at " << at;
    uint32_t length = BigEndian32(png, at);
    if (png.size() - at - 12 < length) return testing::AssertionFailure() << "chunk overruns";
    std::string type = png.substr(at + 4, 4);
    std::string data = png.substr(at + 8, length);
    uint32_t crc = BigEndian32(png, at + 8 + length);
    uLong expected = crc32(0, reinterpret_cast<const Bytef*>(png.data() + at + 4), length + 4);
    if (crc != expected) return testing::AssertionFailure() << type << " CRC mismatch";
    if (type == "IHDR") ihdr = data;
    if (type == "IDAT") {
      if (!types.empty() && types.back() != "IDAT" && types.back() != "IHDR") {
        return testing::AssertionFailure() << "IDAT after " << types.back();
      }
      if (!types.empty() && types.back() == "IDAT" && idat.empty()) {
        return testing::AssertionFailure() << "empty IDAT";
      }
      idat += data;
    } else if (!types.empty() && types.back() == "IDAT" && type != "IEND") {
      return testing::AssertionFailure() << "IDAT chunks not consecutive: " << type;
    }
    if (type == "IEND" && !data.empty()) return testing::AssertionFailure() << "IEND has data";
    types.push_back(type);
    at += 12 + length;
  }
  if (types.size() < 3 || types.front() != "IHDR" || types.back() != "IEND" || types[1] != "IDAT") {
    return testing::AssertionFailure() << "chunk order wrong";
  }
  if (std::count(types.begin(), types.end(), "IHDR") != 1 ||
      std::count(types.begin(), types.end(), "IEND") != 1) {
    return testing::AssertionFailure() << "IHDR or IEND repeated";
  }
  if (ihdr.size() != 13) return testing::AssertionFailure() << "IHDR size " << ihdr.size();
  image->width = static_cast<int>(BigEndian32(ihdr, 0));
  image->height = static_cast<int>(BigEndian32(ihdr, 4));
  if (ihdr.substr(8) != std::string("\x08\x02\x00\x00\x00", 5)) {
    return testing::AssertionFailure() << "not 8-bit RGB, deflate, no interlace";
  }
  if (image->width <= 0 || image->height <= 0) return testing::AssertionFailure() << "no pixels";

  const size_t stride = static_cast<size_t>(image->width) * 3;
  uLongf size = (stride + 1) * image->height;
  std::vector<uint8_t> raw(size + 1);  // one spare byte: a longer stream must not fit
  uLongf got = raw.size();
  int status =
      uncompress(raw.data(), &got, reinterpret_cast<const Bytef*>(idat.data()), idat.size());
  if (status != Z_OK) return testing::AssertionFailure() << "uncompress: " << status;
  if (got != size) return testing::AssertionFailure() << "inflated " << got << " of " << size;

  image->rgb.assign(stride * image->height, 0);
  for (int y = 0; y < image->height; ++y) {
    const uint8_t* in = &raw[y * (stride + 1)];
    uint8_t* row = &image->rgb[y * stride];
    const uint8_t* above = y > 0 ? row - stride : nullptr;
    for (size_t i = 0; i < stride; ++i) {
      int a = i >= 3 ? row[i - 3] : 0;
      int b = above != nullptr ? above[i] : 0;
      int c = i >= 3 && above != nullptr ? above[i - 3] : 0;
      int predictor = 0;
      switch (in[0]) {
        case 0:
          break;
        case 1:
          predictor = a;
          break;
        case 2:
          predictor = b;
          break;
        case 3:
          predictor = (a + b) / 2;
          break;
        case 4:
          predictor = Paeth(a, b, c);
          break;
        default:
          return testing::AssertionFailure() << "filter " << int{in[0]} << " row " << y;
      }
      row[i] = static_cast<uint8_t>(in[1 + i] + predictor);
    }
  }
  return testing::AssertionSuccess();
}

Image Render(const BarChart& chart) {
  Image image;
  testing::AssertionResult decoded = DecodePng(RenderBarChartPng(chart), &image);
  EXPECT_TRUE(decoded);
  if (!decoded) image = Image{};
  return image;
}

BarPanel Panel(std::vector<double> values, std::optional<double> reference = std::nullopt) {
  BarPanel panel;
  panel.title = "Throughput, GB/s (higher is better)";
  for (size_t i = 0; i < values.size(); ++i) {
    panel.bars.push_back({"server " + std::to_string(i), values[i], std::to_string(values[i])});
  }
  panel.reference_line = reference;
  panel.reference_label = "baseline";
  return panel;
}

BarChart Chart(std::vector<BarPanel> panels) {
  return BarChart{"ktls bench serve", "1 GiB file, TLS 1.3, AES-128-GCM", std::move(panels)};
}

constexpr Rgb kWhite{255, 255, 255};

TEST(BarChartPng, IsAValidRgbPng) {
  std::string png = RenderBarChartPng(Chart({Panel({1, 2, 3})}));
  Image image;
  ASSERT_TRUE(DecodePng(png, &image));
  EXPECT_GE(image.width, 600);
  EXPECT_LE(image.width, 1200);
  EXPECT_GT(image.height, 100);
}

TEST(BarChartPng, CornersAreBackground) {
  Image image = Render(Chart({Panel({1, 2, 3}, 2.5)}));
  EXPECT_EQ(kBackgroundColor, kWhite);
  for (int x : {0, image.width - 1}) {
    for (int y : {0, image.height - 1}) EXPECT_EQ(image.At(x, y), kWhite) << x << "," << y;
  }
}

TEST(BarChartPng, BarColorsAreDistinctAndRepeatAfterTen) {
  std::set<std::tuple<int, int, int>> seen;
  for (size_t i = 0; i < 10; ++i) {
    Rgb color = BarColor(i);
    EXPECT_NE(color, kWhite);
    EXPECT_NE(color, kReferenceLineColor);
    EXPECT_FALSE(color.r == color.g && color.g == color.b) << "bar " << i << " is a gray";
    seen.insert({color.r, color.g, color.b});
    EXPECT_EQ(BarColor(i + 10), color);
  }
  EXPECT_EQ(seen.size(), 10u);
}

TEST(BarChartPng, BarsAreSolidInOrderAndProportional) {
  Image image = Render(Chart({Panel({1, 2, 4})}));
  std::vector<Box> boxes;
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(BarsOf(image, BarColor(i)).size(), 1u) << "bar " << i;
    Box box = BoxOf(image, BarColor(i));
    // Solid: the box holds nothing but the bar's color.
    EXPECT_EQ(box.count, box.width() * box.height()) << "bar " << i;
    EXPECT_GE(box.height(), 12);
    EXPECT_LE(box.height(), 60);
    boxes.push_back(box);
  }
  for (size_t i = 1; i < boxes.size(); ++i) {
    EXPECT_EQ(boxes[i].left, boxes[0].left);  // a common axis
    EXPECT_GT(boxes[i].top, boxes[i - 1].bottom);
    EXPECT_EQ(boxes[i].height(), boxes[0].height());
  }
  // Below the title, with its label's text to the left of it and inside the image.
  EXPECT_GT(boxes[0].top, 40);
  EXPECT_GT(boxes[0].left, 50);
  EXPECT_LT(boxes[2].right, image.width - 20);
  for (const Box& box : boxes) {
    EXPECT_GT(CountNot(image, kWhite, 0, box.top, box.left - 2, box.bottom + 1), 10);
  }
  // Along the middle row: each value twice the one before, each bar twice as long.
  std::vector<int> runs;
  for (size_t i = 0; i < 3; ++i) {
    int y = (boxes[i].top + boxes[i].bottom) / 2;
    runs.push_back(RunLength(image, boxes[i].left, y, BarColor(i)));
  }
  EXPECT_GT(runs[2], 250);  // the largest spans a good part of the width
  EXPECT_NEAR(runs[1], 2 * runs[0], 2);
  EXPECT_NEAR(runs[2], 2 * runs[1], 2);
  // The value text follows the bar's end.
  const Box& last = boxes[2];
  EXPECT_GT(CountNot(image, kWhite, last.right + 1, last.top, image.width, last.bottom + 1), 10);
}

TEST(BarChartPng, SameIndexSameColorInEveryPanel) {
  Image image = Render(Chart({Panel({1, 2}), Panel({3, 1})}));
  std::vector<Box> first = BarsOf(image, BarColor(0));
  std::vector<Box> second = BarsOf(image, BarColor(1));
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_LT(first[0].bottom, second[0].top);
  EXPECT_LT(second[0].bottom, first[1].top);
  EXPECT_LT(first[1].bottom, second[1].top);
  // Each panel scales on its own, and both panels' largest bars span the same width.
  EXPECT_NEAR(second[0].width(), 2 * first[0].width(), 2);
  EXPECT_NEAR(first[1].width(), 3 * second[1].width(), 3);
  EXPECT_EQ(first[1].width(), second[0].width());
}

TEST(BarChartPng, ExplicitColorOverridesThePosition) {
  BarChart chart = Chart({Panel({1, 2})});
  chart.panels[0].bars[0].color = 3;  // first bar in the fourth color, second by position
  Image image = Render(chart);
  EXPECT_EQ(BarsOf(image, BarColor(0)).size(), 0u);
  EXPECT_EQ(BarsOf(image, BarColor(3)).size(), 1u);
  EXPECT_EQ(BarsOf(image, BarColor(1)).size(), 1u);
}

TEST(BarChartPng, TitleAreaHasText) {
  Image image = Render(Chart({Panel({1})}));
  Box bar = BoxOf(image, BarColor(0));
  ASSERT_GT(bar.count, 0);
  EXPECT_GT(CountNot(image, kWhite, 0, 0, image.width, 40), 100);

  BarChart untitled = Chart({Panel({1})});
  untitled.title.clear();
  untitled.subtitle.clear();
  untitled.panels[0].title.clear();
  Image plain = Render(untitled);
  Box plain_bar = BoxOf(plain, BarColor(0));
  EXPECT_LT(plain_bar.top, bar.top);  // the title's space is given back
  EXPECT_EQ(CountNot(plain, kWhite, 0, 0, plain.width, 20), 0);
}

TEST(BarChartPng, ReferenceLineIsDashedAtItsValue) {
  Image image = Render(Chart({Panel({1, 2}, 3.0)}));
  Box bar = BoxOf(image, BarColor(1));
  ASSERT_GT(bar.count, 0);
  Box line = BoxOf(image, kReferenceLineColor);
  ASSERT_GT(line.count, 0);
  EXPECT_LE(line.width(), 3);
  EXPECT_GE(line.height(), bar.height() * 2);  // spans the bars
  // Dashed: gaps along it.
  EXPECT_LT(line.count, line.width() * line.height());
  EXPECT_GT(line.count, line.width() * line.height() / 3);
  // At 3 where the bar of 2 ends: 1.5 times its length from the axis.
  int expected = bar.left + bar.width() * 3 / 2;
  EXPECT_NEAR(line.left, expected, 3);
  // Its label is under the bars.
  EXPECT_GT(CountNot(image, kWhite, line.left - 40, line.bottom + 1, line.left + 40,
                     std::min(image.height, line.bottom + 30)),
            10);

  Image without = Render(Chart({Panel({1, 2})}));
  EXPECT_EQ(BoxOf(without, kReferenceLineColor).count, 0);
  BarChart nan_reference = Chart({Panel({1, 2}, std::nan(""))});
  EXPECT_EQ(BoxOf(Render(nan_reference), kReferenceLineColor).count, 0);
}

TEST(BarChartPng, ReferenceBeyondTheBarsSetsTheScale) {
  Image image = Render(Chart({Panel({1}, 4.0)}));
  Box bar = BoxOf(image, BarColor(0));
  Box line = BoxOf(image, kReferenceLineColor);
  ASSERT_GT(bar.count, 0);
  ASSERT_GT(line.count, 0);
  EXPECT_NEAR(line.left - bar.left, 4 * bar.width(), 4);
}

TEST(BarChartPng, UndrawableValuesHaveNoBarButKeepTheirText) {
  const double kInf = std::numeric_limits<double>::infinity();
  BarPanel panel = Panel({1, 0, std::nan(""), -1, kInf, -kInf});
  Image image = Render(Chart({panel}));
  EXPECT_GT(BoxOf(image, BarColor(0)).count, 0);
  for (size_t i = 1; i < panel.bars.size(); ++i) {
    EXPECT_EQ(BoxOf(image, BarColor(i)).count, 0) << "bar " << i;
  }
  // Their value text is drawn: blanking it leaves fewer non-white pixels right of the axis.
  int axis = BoxOf(image, BarColor(0)).left;
  BarPanel untexted = panel;
  for (size_t i = 1; i < untexted.bars.size(); ++i) untexted.bars[i].value_text.clear();
  Image plain = Render(Chart({untexted}));
  ASSERT_EQ(plain.height, image.height);
  EXPECT_GT(CountNot(image, kWhite, axis, 0, image.width, image.height),
            CountNot(plain, kWhite, axis, 0, plain.width, plain.height) + 100);
}

TEST(BarChartPng, DegenerateChartsStillRender) {
  BarChart empty;
  Image image = Render(empty);
  EXPECT_GT(image.height, 0);

  Image no_bars = Render(Chart({BarPanel{}}));
  EXPECT_GT(no_bars.height, 0);
  EXPECT_EQ(BoxOf(no_bars, BarColor(0)).count, 0);

  Image zeros = Render(Chart({Panel({0, 0, 0}, 0.0)}));
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(BoxOf(zeros, BarColor(i)).count, 0);

  BarPanel unlabeled = Panel({1, 2});
  for (Bar& bar : unlabeled.bars) {
    bar.label.clear();
    bar.value_text.clear();
  }
  unlabeled.reference_line = 1.5;
  unlabeled.reference_label.clear();
  Image bare = Render(BarChart{"", "", {unlabeled}});
  EXPECT_GT(BoxOf(bare, BarColor(1)).count, 0);

  Image extremes = Render(Chart({Panel({1e308, 5e-324, std::numeric_limits<double>::max()})}));
  EXPECT_GT(BoxOf(extremes, BarColor(0)).count, 0);
}

TEST(BarChartPng, FiftyBarsGrowTheImage) {
  std::vector<double> values;
  for (int i = 1; i <= 50; ++i) values.push_back(i);
  Image many = Render(Chart({Panel(values)}));
  Image few = Render(Chart({Panel({1, 2, 3, 4, 5})}));
  EXPECT_GT(many.height, few.height + 45 * 12);
  EXPECT_EQ(many.width, few.width);
  for (size_t i = 0; i < 10; ++i) EXPECT_GT(BoxOf(many, BarColor(i)).count, 0);
  EXPECT_EQ(many.At(many.width - 1, many.height - 1), kWhite);
}

TEST(BarChartPng, LongAndOddTextIsCutNotOverflowing) {
  BarPanel panel = Panel({1, 2});
  panel.title = std::string(500, 'T');
  panel.bars[0].label = std::string(1000, 'L');
  panel.bars[1].label = "\x01\x7f\xff\xc3 µs × – 中文";
  panel.bars[1].value_text = std::string(300, '9');
  panel.reference_line = 1.0;
  panel.reference_label = std::string(400, 'R');
  BarChart chart{std::string(600, 'X'), std::string(700, 's'), {panel}};
  Image image = Render(chart);
  Image normal = Render(Chart({Panel({1, 2})}));
  EXPECT_EQ(image.width, normal.width);
  Box bar = BoxOf(image, BarColor(1));
  ASSERT_GT(bar.count, 0);
  EXPECT_GT(bar.width(), 100);  // long labels and values do not squeeze the bars away
  // A margin stays clear on both sides.
  EXPECT_EQ(CountNot(image, kWhite, 0, 0, 10, image.height), 0);
  EXPECT_EQ(CountNot(image, kWhite, image.width - 10, 0, image.width, image.height), 0);
}

TEST(BarChartGlyphs, PrintableAsciiIsDrawnAndDistinct) {
  std::set<std::vector<uint8_t>> shapes;
  for (int c = 33; c <= 126; ++c) {
    std::span<const uint8_t, kGlyphRows> glyph = GlyphFor(static_cast<char>(c));
    bool inked = false;
    for (uint8_t row : glyph) {
      EXPECT_EQ(row >> kGlyphColumns, 0) << "'" << static_cast<char>(c) << "' too wide";
      inked = inked || row != 0;
    }
    EXPECT_TRUE(inked) << "'" << static_cast<char>(c) << "' is blank";
    shapes.insert(std::vector<uint8_t>(glyph.begin(), glyph.end()));
  }
  EXPECT_EQ(shapes.size(), 94u) << "two printable characters share a glyph";

  auto same = [](char a, char b) {
    std::span<const uint8_t, kGlyphRows> x = GlyphFor(a);
    std::span<const uint8_t, kGlyphRows> y = GlyphFor(b);
    return std::equal(x.begin(), x.end(), y.begin());
  };
  EXPECT_FALSE(same('O', '0'));
  EXPECT_FALSE(same('l', '1'));
  EXPECT_FALSE(same('I', 'l'));
  EXPECT_FALSE(same('o', '0'));
  for (uint8_t row : GlyphFor(' ')) EXPECT_EQ(row, 0);
  EXPECT_TRUE(same('\x01', '?'));
  EXPECT_TRUE(same('\x80', '?'));
}

// KTLS_BAR_CHART_SAMPLE=/path.png writes a chart like the benchmark's, for looking at.
TEST(BarChartPng, WritesSampleWhenAsked) {
  const char* path = std::getenv("KTLS_BAR_CHART_SAMPLE");
  if (path == nullptr) GTEST_SKIP() << "KTLS_BAR_CHART_SAMPLE not set";
  BarPanel throughput{"Throughput, GB/s (higher is better)", {}, 2.0, "openssl s_server"};
  throughput.bars = {{"ktls serve (sendfile)", 4.21, "4.21 GB/s"},
                     {"nginx + kTLS", 3.90, "3.90 GB/s"},
                     {"nginx (OpenSSL)", 1.85, "1.85 GB/s"},
                     {"caddy", 1.20, "1.20 GB/s"},
                     {"failed server", std::nan(""), "failed"}};
  BarPanel cpu{"Server CPU seconds per GB (lower is better)", {}, std::nullopt, ""};
  cpu.bars = {{"ktls serve (sendfile)", 0.21, "0.21 s"},
              {"nginx + kTLS", 0.25, "0.25 s"},
              {"nginx (OpenSSL)", 0.61, "0.61 s"},
              {"caddy", 0.90, "0.90 s"},
              {"failed server", -1, "n/a"}};
  BarPanel rss{"Peak server RSS, MiB (lower is better)", {}, std::nullopt, ""};
  rss.bars = {{"ktls serve (sendfile)", 12, "12 MiB"},
              {"nginx + kTLS", 30, "30 MiB"},
              {"nginx (OpenSSL)", 31, "31 MiB"},
              {"caddy", 48, "48 MiB"}};
  BarChart chart{"ktls bench serve: 1 GiB over HTTPS",
                 "TLS 1.3, AES-128-GCM, 8 connections, loopback, median of 5",
                 {throughput, cpu, rss}};
  std::string png = RenderBarChartPng(chart);
  Image image;
  ASSERT_TRUE(DecodePng(png, &image));
  std::ofstream(path, std::ios::binary) << png;
}

}  // namespace
}  // namespace ktls::bench
