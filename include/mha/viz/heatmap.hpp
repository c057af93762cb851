// Terminal heat maps of attention weights: one table per head, rows = query tokens, columns = key
// tokens, each cell shaded by its weight and printed with two decimals.
//
//   weights: [L, S]   row_labels: L strings   col_labels: S strings   row_notes: L strings or none
//
// Two renderings of the same table:
//   plain    — a shade glyph (' ' ░ ▒ ▓ █) in front of the number, safe for files and pipes;
//   ansi256  — the cell background taken from the 256-colour grey ramp (232 dark … 255 light),
//              for terminals.
// Shading is relative to `scale_max` (default: the largest weight in the table), so a flat table
// still shows where its maximum is; the numbers are always the true weights.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "mha/core/tensor.hpp"

namespace mha::viz {

enum class ColorMode : std::uint8_t { plain, ansi256 };

struct HeatmapOptions {
  ColorMode color = ColorMode::plain;
  // Width of one cell, in terminal columns; column labels longer than cell_width − 1 are cut
  // (with "…").
  int cell_width = 7;
  // Row labels longer than this are cut (the label column is as wide as the longest label).
  int max_label_width = 12;
  // Shading is weight / scale_max; <= 0 means "the table's maximum".
  double scale_max = 0.0;
  // Prints "scale: ░ ▒ ▓ █ = fractions of <max>" under the table.
  bool legend = true;
};

// The table as text, one line per row plus a header line (and a legend line), each ending in '\n'.
// Throws mha::Error when weights is not rank 2 or the label counts do not match its shape.
std::string render_heatmap(TensorView<const float> weights, std::span<const std::string> row_labels,
                           std::span<const std::string> col_labels,
                           std::span<const std::string> row_notes = {},
                           const HeatmapOptions& options = {});

// Shade glyph for a fraction in [0, 1], rounded to the nearest quarter: 0 → " ", ¼ → ░, ½ → ▒,
// ¾ → ▓, 1 → █.
std::string_view shade_glyph(double fraction);

// Terminal width of UTF-8 text, counted in code points (enough for the labels we print).
Index display_width(std::string_view text);

// text itself when it fits in `width` columns, else its first width − 1 code points and "…".
std::string fit_to_width(std::string_view text, Index width);

}  // namespace mha::viz
