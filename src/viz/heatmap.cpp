// Terminal heat maps: see include/mha/viz/heatmap.hpp for the layout and the two colour modes.
#include "mha/viz/heatmap.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "mha/core/error.hpp"

namespace mha::viz {
namespace {

// The 24-step grey ramp of the xterm 256-colour palette: 232 is nearly black, 255 nearly white.
constexpr int kGreyFirst = 232;
constexpr int kGreySteps = 24;

std::string pad_right(std::string text, Index width) {
  const Index used = display_width(text);
  if (used < width) text.append(static_cast<std::size_t>(width - used), ' ');
  return text;
}

double clamp_fraction(double fraction) {
  if (!(fraction > 0.0)) return 0.0;  // also maps NaN to 0
  return std::min(fraction, 1.0);
}

// One cell, exactly cell_width columns wide: "▓ 0.41 " (plain) or " 0.41  " on a grey background.
std::string render_cell(double weight, double fraction, const HeatmapOptions& options) {
  const Index width = options.cell_width;
  if (options.color == ColorMode::plain)
    return pad_right(fmt::format("{} {:.2f}", shade_glyph(fraction), weight), width);
  const int step = static_cast<int>(std::lround(fraction * (kGreySteps - 1)));
  const int background = kGreyFirst + step;
  // Dark text on the light half of the ramp, light text on the dark half, so numbers stay legible.
  const int foreground = step < kGreySteps / 2 ? 255 : kGreyFirst;
  return fmt::format("\x1b[48;5;{}m\x1b[38;5;{}m{}\x1b[0m", background, foreground,
                     pad_right(fmt::format(" {:.2f}", weight), width));
}

std::string render_legend(double scale_max, const HeatmapOptions& options) {
  std::string line = "scale:";
  constexpr std::array<double, 5> kFractions = {0.0, 0.25, 0.5, 0.75, 1.0};
  for (const double fraction : kFractions) {
    const double weight = fraction * scale_max;
    if (options.color == ColorMode::plain)
      line += fmt::format("  {} {:.2f}", fraction == 0.0 ? "' '" : shade_glyph(fraction), weight);
    else
      line += " " + render_cell(weight, fraction, options);
  }
  return line + "  (shade relative to " + fmt::format("{:.2f}", scale_max) + ")\n";
}

}  // namespace

std::string_view shade_glyph(double fraction) {
  static constexpr std::array<std::string_view, 5> kGlyphs = {" ", "░", "▒", "▓", "█"};
  const auto level = static_cast<std::size_t>(std::lround(clamp_fraction(fraction) * 4.0));
  return kGlyphs[level];
}

Index display_width(std::string_view text) {
  // Every code point has exactly one byte that is not a continuation byte (10xxxxxx).
  return static_cast<Index>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
  }));
}

std::string fit_to_width(std::string_view text, Index width) {
  if (display_width(text) <= width) return std::string(text);
  if (width <= 0) return {};
  std::string cut;
  Index kept = 0;
  for (const char c : text) {
    const bool starts_code_point = (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
    if (starts_code_point && ++kept > width - 1) break;
    cut += c;
  }
  return cut + "…";
}

std::string render_heatmap(TensorView<const float> weights, std::span<const std::string> row_labels,
                           std::span<const std::string> col_labels,
                           std::span<const std::string> row_notes, const HeatmapOptions& options) {
  if (weights.rank() != 2)
    throw_invalid("weights", "a rank-2 [L, S] table", shape_str(weights.shape()));
  const Index rows = weights.dim(0), cols = weights.dim(1);
  if (static_cast<Index>(row_labels.size()) != rows)
    throw_invalid("row_labels", std::to_string(rows) + " labels",
                  std::to_string(row_labels.size()));
  if (static_cast<Index>(col_labels.size()) != cols)
    throw_invalid("col_labels", std::to_string(cols) + " labels",
                  std::to_string(col_labels.size()));
  if (!row_notes.empty() && static_cast<Index>(row_notes.size()) != rows)
    throw_invalid("row_notes", "none or " + std::to_string(rows), std::to_string(row_notes.size()));
  if (options.cell_width < 6)
    throw_invalid("cell_width", ">= 6 (room for \"▓ 0.00\")", std::to_string(options.cell_width));

  double scale_max = options.scale_max;
  if (scale_max <= 0.0) {
    for (Index i = 0; i < rows; ++i)
      for (Index j = 0; j < cols; ++j) scale_max = std::max(scale_max, double{weights(i, j)});
  }

  Index label_width = 0;
  for (const std::string& label : row_labels)
    label_width =
        std::max(label_width, std::min<Index>(display_width(label), options.max_label_width));

  std::string out = pad_right("", label_width + 1);
  for (const std::string& label : col_labels)
    out += pad_right(fit_to_width(label, options.cell_width - 1), options.cell_width);
  out += '\n';
  for (Index i = 0; i < rows; ++i) {
    out += pad_right(fit_to_width(row_labels[static_cast<std::size_t>(i)], label_width),
                     label_width + 1);
    for (Index j = 0; j < cols; ++j) {
      const double weight = weights(i, j);
      out +=
          render_cell(weight, scale_max > 0.0 ? clamp_fraction(weight / scale_max) : 0.0, options);
    }
    if (!row_notes.empty()) out += " " + row_notes[static_cast<std::size_t>(i)];
    out += '\n';
  }
  if (options.legend) out += pad_right("", label_width + 1) + render_legend(scale_max, options);
  return out;
}

}  // namespace mha::viz
