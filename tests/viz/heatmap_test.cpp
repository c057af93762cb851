// The terminal heat-map renderer (plain and ANSI modes) and the strongest-link helper.
#include "mha/viz/heatmap.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mha/core/error.hpp"
#include "mha/viz/attention_links.hpp"

namespace mha::viz {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  for (const char c : text) {
    if (c == '\n') {
      lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  EXPECT_TRUE(line.empty()) << "output does not end in a newline";
  return lines;
}

const std::vector<std::string> kQueries = {"the", "cat"};
const std::vector<std::string> kKeys = {"the", "cat", "astronaut"};

TEST(Heatmap, PlainTableHasHeaderRowsAndLegend) {
  const Tensor<> w({2, 3}, {0.5F, 0.25F, 0.25F, 0.0F, 1.0F, 0.0F});
  const std::vector<std::string> lines = lines_of(render_heatmap(w.view(), kQueries, kKeys));
  ASSERT_EQ(lines.size(), 4U);  // header, 2 rows, legend
  EXPECT_EQ(lines[0], "    the    cat    astro… ");
  EXPECT_EQ(lines[1], "the ▒ 0.50 ░ 0.25 ░ 0.25 ");
  EXPECT_EQ(lines[2], "cat   0.00 █ 1.00   0.00 ");
  EXPECT_NE(lines[3].find("scale:"), std::string::npos);
  EXPECT_NE(lines[3].find("█ 1.00"), std::string::npos);
}

TEST(Heatmap, LinesFitLabelPlusCells) {
  const Tensor<> w({2, 3}, {0.1F, 0.2F, 0.7F, 0.3F, 0.3F, 0.4F});
  const std::string text = render_heatmap(w.view(), kQueries, kKeys, {}, {.legend = false});
  for (const std::string& line : lines_of(text)) {
    std::string trimmed = line;
    while (!trimmed.empty() && trimmed.back() == ' ') trimmed.pop_back();
    EXPECT_LE(display_width(trimmed), 4 + 3 * 7) << line;
  }
  EXPECT_EQ(lines_of(text).size(), 3U);
}

TEST(Heatmap, RowNotesFollowTheirRow) {
  const Tensor<> w({2, 3}, {0.5F, 0.25F, 0.25F, 0.0F, 1.0F, 0.0F});
  const std::vector<std::string> notes = {"→ the 0.50", "→ cat 1.00"};
  const std::vector<std::string> lines =
      lines_of(render_heatmap(w.view(), kQueries, kKeys, notes, {.legend = false}));
  ASSERT_EQ(lines.size(), 3U);
  EXPECT_EQ(lines[1].substr(lines[1].size() - notes[0].size()), notes[0]);
  EXPECT_EQ(lines[2].substr(lines[2].size() - notes[1].size()), notes[1]);
}

TEST(Heatmap, ShadingIsRelativeToScaleMax) {
  const Tensor<> w({1, 2}, {0.2F, 0.4F});
  const std::vector<std::string> one = {"a"}, two = {"a", "b"};
  // Relative to the table's max (0.4): 0.2 is half → ▒, 0.4 is full → █.
  EXPECT_NE(render_heatmap(w.view(), one, two).find("▒ 0.20 █ 0.40"), std::string::npos);
  // Relative to 1.0: 0.2 rounds to ¼ → ░ (0.8 quarters), 0.4 to ½ → ▒ (1.6 quarters).
  EXPECT_NE(render_heatmap(w.view(), one, two, {}, {.scale_max = 1.0}).find("░ 0.20 ▒ 0.40"),
            std::string::npos);
}

TEST(Heatmap, AnsiModeShadesTheBackground) {
  const Tensor<> w({1, 2}, {0.0F, 1.0F});
  const std::vector<std::string> one = {"a"}, two = {"a", "b"};
  const std::string text = render_heatmap(w.view(), one, two, {}, {.color = ColorMode::ansi256});
  EXPECT_NE(text.find("\x1b[48;5;232m"), std::string::npos);  // darkest grey for 0
  EXPECT_NE(text.find("\x1b[48;5;255m"), std::string::npos);  // lightest grey for the max
  EXPECT_NE(text.find("\x1b[0m"), std::string::npos);
  EXPECT_EQ(render_heatmap(w.view(), one, two).find('\x1b'), std::string::npos);  // plain: none
}

TEST(Heatmap, RejectsMismatchedLabelsAndRank) {
  const Tensor<> w({2, 3});
  EXPECT_THROW(render_heatmap(w.view(), kKeys, kKeys), Error);
  EXPECT_THROW(render_heatmap(w.view(), kQueries, kQueries), Error);
  const Tensor<> v({6});
  EXPECT_THROW(render_heatmap(v.view(), kQueries, kKeys), Error);
  const std::vector<std::string> one_note = {"x"};
  EXPECT_THROW(render_heatmap(w.view(), kQueries, kKeys, one_note), Error);
}

TEST(Heatmap, ShadeGlyphRoundsToQuarters) {
  EXPECT_EQ(shade_glyph(0.0), " ");
  EXPECT_EQ(shade_glyph(0.12), " ");
  EXPECT_EQ(shade_glyph(0.2), "░");
  EXPECT_EQ(shade_glyph(0.5), "▒");
  EXPECT_EQ(shade_glyph(0.8), "▓");
  EXPECT_EQ(shade_glyph(0.9), "█");
  EXPECT_EQ(shade_glyph(7.0), "█");   // clamped
  EXPECT_EQ(shade_glyph(-1.0), " ");  // clamped
}

TEST(Heatmap, WidthsCountCodePoints) {
  EXPECT_EQ(display_width("abc"), 3);
  EXPECT_EQ(display_width("░▒▓"), 3);
  EXPECT_EQ(display_width("naïve"), 5);
  EXPECT_EQ(fit_to_width("telescope", 6), "teles…");
  EXPECT_EQ(fit_to_width("naïveté", 4), "naï…");
  EXPECT_EQ(fit_to_width("cat", 6), "cat");
}

TEST(AttentionLinks, StrongestKeyPerRowEarliestOnTies) {
  const Tensor<> w({3, 3}, {0.2F, 0.5F, 0.3F, 0.4F, 0.2F, 0.4F, 0.0F, 0.0F, 0.0F});
  const std::vector<AttentionLink> links = strongest_links(w.view());
  ASSERT_EQ(links.size(), 3U);
  EXPECT_EQ(links[0].key, 1);
  EXPECT_FLOAT_EQ(links[0].weight, 0.5F);
  EXPECT_EQ(links[1].key, 0);  // tie between keys 0 and 2
  EXPECT_EQ(links[2].key, 0);  // fully masked row
  EXPECT_EQ(links[2].weight, 0.0F);
  EXPECT_EQ(links[2].query, 2);
}

}  // namespace
}  // namespace mha::viz
