// The figures of a grid, as plain SVG 1.1 text: a metric against heads with 95% intervals, and
// learning curves. Every coordinate is printed with one decimal, so a figure is a deterministic
// function of the numbers.
//
// Interval plot (640 × 420 px): plot area x ∈ [72, 616], y ∈ [top, 350] with top = 72 plus one
// 18 px row per extra legend row. x = log₂(heads), spanning the heads values with half a doubling
// of margin on each side; each series is shifted a few pixels so that their bars never hide each
// other. y is linear over the data (seeds and interval ends) plus 5%, rounded out to 1-2-5 ticks.
//
// Learning curves (640 px wide, one 300 px panel per group): x = step (linear, from 0), y =
// held-out loss over the data; per heads value the mean over seeds at each evaluated step (a
// polyline) inside its 95% t-interval (a translucent polygon; zero width with one seed).
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "experiment_grid.hpp"

namespace mha::cli {
namespace {

constexpr double kWidth = 640, kLeft = 72, kRight = 616;
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                   "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
constexpr std::size_t kColorCount = sizeof kColors / sizeof kColors[0];

const char* color(std::size_t i) { return kColors[i % kColorCount]; }

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string svg_open(double height) {
  return fmt::format(
             R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" )"
             R"(font-family="sans-serif" font-size="12">)"
             "\n",
             kWidth, height) +
         R"(<rect width="100%" height="100%" fill="white"/>)"
         "\n";
}

std::string title(const std::string& text, double y) {
  return fmt::format(
      R"(<text x="{}" y="{}" text-anchor="middle" font-size="14" font-weight="bold">{}</text>)"
      "\n",
      kWidth / 2, y, escape(text));
}

// A linear axis rounded out to 1-2-5 ticks around [lo, hi] (NaNs and infinities ignored).
struct Axis {
  double lo = 0, hi = 1, step = 0.2;
  int decimals = 1;
  double at(double v, double from, double to) const { return from + (to - from) * (v - lo) / (hi - lo); }
  Index ticks() const { return static_cast<Index>(std::lround((hi - lo) / step)); }
};

Axis nice_axis(double lo, double hi, bool pad, int target = 5) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (hi - lo <= 1e-12 * std::max(1.0, std::abs(hi))) {
    const double widen = std::max(std::abs(hi) * 0.05, 1e-3);
    lo -= widen;
    hi += widen;
  } else if (pad) {
    const double span = hi - lo;
    lo -= 0.05 * span;
    hi += 0.05 * span;
  }
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
  Axis a;
  a.step = step;
  a.lo = std::floor(lo / step + 1e-9) * step;
  a.hi = std::ceil(hi / step - 1e-9) * step;
  a.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  return a;
}

// nice_axis over [lo, hi] cut to [lower, upper], the values the quantity can take.
Axis bounded_axis(double lo, double hi, double lower, double upper, int target = 5) {
  Axis a = nice_axis(std::clamp(lo, lower, upper), std::clamp(hi, lower, upper), true, target);
  if (std::isfinite(lower)) a.lo = std::max(a.lo, std::floor(lower / a.step + 1e-9) * a.step);
  if (std::isfinite(upper)) a.hi = std::min(a.hi, std::ceil(upper / a.step - 1e-9) * a.step);
  return a;
}

// Horizontal grid lines and labels of `axis` over the plot area [top, bottom].
std::string y_axis(const Axis& axis, double top, double bottom, const std::string& label) {
  std::string svg;
  for (Index k = 0; k <= axis.ticks(); ++k) {
    const double v = axis.lo + static_cast<double>(k) * axis.step, y = axis.at(v, bottom, top);
    svg += fmt::format(R"(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="{}"/>)"
                       "\n",
                       kLeft, y, kRight, y, k == 0 ? "black" : "#dddddd");
    svg += fmt::format(R"(<text class="ytick" x="{}" y="{:.1f}" text-anchor="end">{:.{}f}</text>)"
                       "\n",
                       kLeft - 6, y + 4, v, axis.decimals);
  }
  svg += fmt::format(R"(<line x1="{0}" y1="{1:.1f}" x2="{0}" y2="{2:.1f}" stroke="black"/>)"
                     "\n",
                     kLeft, top, bottom);
  svg += fmt::format(
      R"svg(<text x="16" y="{0:.1f}" text-anchor="middle" transform="rotate(-90 16 {0:.1f})">{1}</text>)svg"
      "\n",
      (top + bottom) / 2, escape(label));
  return svg;
}

// Circle, square, triangle, diamond: shapes that stay apart without colour.
std::string marker(std::size_t series, const std::string& cls, double x, double y, double size,
                   const std::string& tooltip) {
  const std::string title = tooltip.empty() ? "" : "<title>" + escape(tooltip) + "</title>";
  const char* fill = color(series);
  switch (series % 4) {
    case 1:
      return fmt::format(
          R"(<rect class="{}" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}">{}</rect>)",
          cls, x - size, y - size, 2 * size, 2 * size, fill, title);
    case 2:
      return fmt::format(R"(<polygon class="{}" points="{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}" fill="{}">{}</polygon>)",
                         cls, x, y - 1.2 * size, x + 1.1 * size, y + 0.8 * size, x - 1.1 * size,
                         y + 0.8 * size, fill, title);
    case 3:
      return fmt::format(
          R"(<polygon class="{}" points="{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}" fill="{}">{}</polygon>)",
          cls, x, y - 1.3 * size, x + 1.3 * size, y, x, y + 1.3 * size, x - 1.3 * size, y, fill,
          title);
    default:
      return fmt::format(
          R"(<circle class="{}" cx="{:.1f}" cy="{:.1f}" r="{:.1f}" fill="{}">{}</circle>)", cls, x,
          y, size, fill, title);
  }
}

std::string heads_phrase(Index heads) { return fmt::format("{} head{}", heads, heads == 1 ? "" : "s"); }

std::vector<Index> all_heads(const std::vector<GridRunResult>& runs) {
  std::vector<Index> heads;
  for (const GridRunResult& r : runs)
    if (std::find(heads.begin(), heads.end(), r.heads) == heads.end()) heads.push_back(r.heads);
  std::sort(heads.begin(), heads.end());
  return heads;
}

}  // namespace

std::vector<IntervalSeries> series_per_group(const std::vector<GridRunResult>& runs,
                                             const std::string& metric) {
  std::vector<IntervalSeries> series;
  for (const std::string& group : grid_groups(runs))
    series.push_back({.label = group.empty() ? "all runs" : group, .group = group, .metric = metric});
  return series;
}

std::string grid_interval_svg(const std::vector<GridRunResult>& runs, const IntervalPlot& plot) {
  constexpr std::size_t kPerLegendRow = 3;
  const std::size_t legend_rows = std::max<std::size_t>(1, (plot.series.size() + kPerLegendRow - 1) / kPerLegendRow);
  const double top = 72 + 18 * static_cast<double>(legend_rows - 1), bottom = 350, height = 420;

  // What is drawn: per series and heads value, the seeds and the summary.
  struct Cell {
    Index heads;
    std::vector<double> values;
    train::Summary summary;
  };
  std::vector<std::vector<Cell>> cells(plot.series.size());
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  auto extend = [&](double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  };
  std::vector<Index> heads;
  for (std::size_t s = 0; s < plot.series.size(); ++s) {
    const IntervalSeries& series = plot.series[s];
    std::vector<Index> series_heads;
    for (const GridRunResult& r : runs)
      if (r.group == series.group &&
          std::find(series_heads.begin(), series_heads.end(), r.heads) == series_heads.end())
        series_heads.push_back(r.heads);
    std::sort(series_heads.begin(), series_heads.end());
    for (const Index h : series_heads) {
      Cell cell{.heads = h, .values = grid_values(runs, series.group, h, series.metric), .summary = {}};
      cell.summary = train::summarize(cell.values);
      for (const double v : cell.values) extend(v);
      extend(cell.summary.low);
      extend(cell.summary.high);
      cells[s].push_back(std::move(cell));
      if (std::find(heads.begin(), heads.end(), h) == heads.end()) heads.push_back(h);
    }
  }
  std::sort(heads.begin(), heads.end());
  const Axis y_range = bounded_axis(lo, hi, plot.lower_bound, plot.upper_bound);
  auto y_of = [&](double v) { return std::clamp(y_range.at(v, bottom, top), top, bottom); };
  double log_lo = heads.empty() ? 0 : std::log2(static_cast<double>(heads.front())) - 0.5;
  double log_hi = heads.empty() ? 1 : std::log2(static_cast<double>(heads.back())) + 0.5;
  auto x_of = [&](Index h) {
    return kLeft + (kRight - kLeft) * (std::log2(static_cast<double>(h)) - log_lo) / (log_hi - log_lo);
  };

  std::string svg = svg_open(height) + title(plot.title, 22);
  for (std::size_t s = 0; s < plot.series.size(); ++s) {
    const double x = kLeft + 10 + 180 * static_cast<double>(s % kPerLegendRow);
    const double y = 46 + 18 * static_cast<double>(s / kPerLegendRow);
    svg += marker(s, "legend", x, y, 5, "") + "\n";
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}">{}</text>)"
                       "\n",
                       x + 10, y + 4, escape(plot.series[s].label));
  }
  svg += y_axis(y_range, top, bottom, plot.y_label);
  for (const Index h : heads)
    svg += fmt::format(R"(<text class="xtick" x="{:.1f}" y="{}" text-anchor="middle">{}</text>)"
                       "\n",
                       x_of(h), bottom + 18, h);
  svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">{}</text>)"
                     "\n",
                     (kLeft + kRight) / 2, bottom + 44, escape(plot.x_label));

  for (std::size_t s = 0; s < plot.series.size(); ++s) {
    const double offset = 6 * (static_cast<double>(s) - static_cast<double>(plot.series.size() - 1) / 2);
    const std::string& label = plot.series[s].label;
    std::string points, markers;
    for (const Cell& cell : cells[s]) {
      const double x = x_of(cell.heads) + offset;
      for (std::size_t i = 0; i < cell.values.size(); ++i)
        svg += fmt::format(
            R"(<circle class="seed series-{}" cx="{:.1f}" cy="{:.1f}" r="2.2" fill="{}" fill-opacity="0.4">)"
            "<title>{}, {}, run {}: {:.4f}</title></circle>\n",
            s, x - 5, y_of(cell.values[i]), color(s), escape(label), heads_phrase(cell.heads), i + 1,
            cell.values[i]);
      const train::Summary& m = cell.summary;
      if (std::isfinite(m.half_width)) {
        // A cap marks an end of the interval; an interval cut at the edge of the plot has none.
        const double y0 = y_of(m.low), y1 = y_of(m.high);
        std::string caps;
        if (m.low >= y_range.lo) caps += fmt::format("M{:.1f},{:.1f}H{:.1f}", x - 4, y0, x + 4);
        if (m.high <= y_range.hi) caps += fmt::format("M{:.1f},{:.1f}H{:.1f}", x - 4, y1, x + 4);
        svg += fmt::format(
            R"(<path class="interval series-{}" d="M{:.1f},{:.1f}V{:.1f}{}" stroke="{}" stroke-width="1.5" fill="none"/>)"
            "\n",
            s, x, y0, y1, caps, color(s));
      }
      points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", x, y_of(m.mean));
      markers += marker(s, fmt::format("mean series-{}", s), x, y_of(m.mean), 4.5,
                        std::isfinite(m.half_width)
                            ? fmt::format("{}, {}: mean {:.4f}, 95% CI {:.4f} to {:.4f} (n = {})",
                                          label, heads_phrase(cell.heads), m.mean, m.low, m.high, m.count)
                            : fmt::format("{}, {}: {:.4f} (n = {})", label,
                                          heads_phrase(cell.heads), m.mean, m.count)) +
                 "\n";
    }
    svg += fmt::format(R"(<polyline class="means series-{}" points="{}" fill="none" stroke="{}" stroke-width="1.5" stroke-opacity="0.6"/>)"
                       "\n",
                       s, points, color(s));
    svg += markers;
  }
  svg += "</svg>\n";
  return svg;
}

std::string grid_curves_svg(const std::vector<GridRunResult>& runs, const CurvePlot& plot) {
  constexpr double kPanel = 300, kHeader = 40;
  const std::vector<std::string> groups = grid_groups(runs);
  const std::vector<Index> heads = all_heads(runs);  // colour i for the i-th heads value
  const double height = kHeader + kPanel * static_cast<double>(std::max<std::size_t>(1, groups.size()));
  std::string svg = svg_open(height) + title(plot.title, 22);

  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::string& group = groups[g];
    const double panel_top = kHeader + kPanel * static_cast<double>(g);
    const double top = panel_top + 44, bottom = panel_top + kPanel - 46;
    // Per heads value: steps, and the summary of the seeds' losses at each step.
    struct Line {
      std::size_t colour;
      Index heads;
      std::vector<Index> steps;
      std::vector<train::Summary> at;
    };
    std::vector<Line> lines;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    Index max_step = 1;
    for (std::size_t c = 0; c < heads.size(); ++c) {
      Line line{.colour = c, .heads = heads[c], .steps = {}, .at = {}};
      for (const GridRunResult& r : runs)
        if (r.group == group && r.heads == heads[c])
          for (const CurvePoint& p : r.curve)
            if (std::find(line.steps.begin(), line.steps.end(), p.step) == line.steps.end())
              line.steps.push_back(p.step);
      if (line.steps.empty()) continue;
      std::sort(line.steps.begin(), line.steps.end());
      for (const Index step : line.steps) {
        std::vector<double> values;
        for (const GridRunResult& r : runs)
          if (r.group == group && r.heads == heads[c])
            for (const CurvePoint& p : r.curve)
              if (p.step == step && std::isfinite(p.loss)) values.push_back(p.loss);
        const train::Summary s = train::summarize(values);
        for (const double v : {s.mean, s.low, s.high})
          if (std::isfinite(v)) {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
          }
        line.at.push_back(s);
      }
      max_step = std::max(max_step, line.steps.back());
      lines.push_back(std::move(line));
    }
    const Axis y_range = bounded_axis(lo, hi, plot.lower_bound, plot.upper_bound);
    const Axis x_range = nice_axis(0, static_cast<double>(max_step), false, 6);
    auto x_of = [&](Index step) { return x_range.at(static_cast<double>(step), kLeft, kRight); };
    auto y_of = [&](double v) { return std::clamp(y_range.at(v, bottom, top), top, bottom); };

    svg += fmt::format(R"(<g class="panel" data-group="{}">)"
                       "\n",
                       escape(group));
    if (!group.empty())
      svg += fmt::format(R"(<text x="{}" y="{:.1f}" font-weight="bold">{}</text>)"
                         "\n",
                         kLeft, panel_top + 14, escape(group));
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const double x = kLeft + 10 + 90 * static_cast<double>(i), y = panel_top + 30;
      svg += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="2"/>)"
                         "\n",
                         x - 6, y, x + 6, y, color(lines[i].colour));
      svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}">{}</text>)"
                         "\n",
                         x + 10, y + 4, heads_phrase(lines[i].heads));
    }
    svg += y_axis(y_range, top, bottom, plot.y_label);
    for (Index k = 0; k <= x_range.ticks(); ++k) {
      const double v = x_range.lo + static_cast<double>(k) * x_range.step;
      svg += fmt::format(R"(<text class="xtick" x="{:.1f}" y="{:.1f}" text-anchor="middle">{:.0f}</text>)"
                         "\n",
                         x_range.at(v, kLeft, kRight), bottom + 16, v);
    }
    svg += fmt::format(R"(<text x="{}" y="{:.1f}" text-anchor="middle">training step</text>)"
                       "\n",
                       (kLeft + kRight) / 2, bottom + 34);
    for (const Line& line : lines) {
      std::string upper, lower, means;
      for (std::size_t i = 0; i < line.steps.size(); ++i) {
        const train::Summary& s = line.at[i];
        const double x = x_of(line.steps[i]);
        const double high = std::isfinite(s.high) ? s.high : s.mean;
        const double low = std::isfinite(s.low) ? s.low : s.mean;
        upper += fmt::format("{}{:.1f},{:.1f}", upper.empty() ? "" : " ", x, y_of(high));
        lower = fmt::format("{:.1f},{:.1f}", x, y_of(low)) + (lower.empty() ? "" : " ") + lower;
        means += fmt::format("{}{:.1f},{:.1f}", means.empty() ? "" : " ", x, y_of(s.mean));
      }
      svg += fmt::format(R"(<polygon class="band heads-{}" points="{} {}" fill="{}" fill-opacity="0.12" stroke="none"/>)"
                         "\n",
                         line.heads, upper, lower, color(line.colour));
      svg += fmt::format(
          R"(<polyline class="curve heads-{}" points="{}" fill="none" stroke="{}" stroke-width="1.8"><title>{}{}: final mean {:.4f}</title></polyline>)"
          "\n",
          line.heads, means, color(line.colour), group.empty() ? "" : escape(group) + ", ",
          heads_phrase(line.heads), line.at.back().mean);
    }
    svg += "</g>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace mha::cli
