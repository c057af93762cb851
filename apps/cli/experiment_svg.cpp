// The figure of `mha experiment heads`: the probability the models put on grammatical words
// (overall and on PP nouns) against the number of heads, written as plain SVG 1.1 text.
//
// Layout (pixels, 640 × 400): the plot area spans x ∈ [64, 616], y ∈ [72, 336]. The x axis is
// categorical (one evenly spaced slot per heads value, in ascending order); the y axis is linear,
// y(v) = 336 − 264·v for a rate v ∈ [0, 1]. Each series is drawn a few pixels left or right of
// the slot centre so that the two never hide each other: every seed as a small translucent dot,
// the mean as a larger marker (circle or square) and a line through the means.
#include <fmt/core.h>

#include <algorithm>
#include <string>

#include "experiment_report.hpp"

namespace mha::cli {
namespace {

constexpr double kWidth = 640, kHeight = 400;
constexpr double kLeft = 64, kRight = 616, kTop = 72, kBottom = 336;

struct Series {
  Metric metric;
  const char* name;   // CSS class, so tools (and tests) can find the markers
  const char* label;  // legend text
  const char* color;
  double offset;  // horizontal shift from the slot centre
  bool square;    // marker shape: squares stay distinguishable without colour
};

constexpr Series kSeries[] = {
    {Metric::mass, "overall", "all masked words", "#1f77b4", -7, false},
    {Metric::pp_mass, "pp-noun", "PP nouns (two relations)", "#d62728", 7, true},
};

double y_of(double rate) { return kBottom - (kBottom - kTop) * std::clamp(rate, 0.0, 1.0); }

double slot_x(std::size_t slot, std::size_t slots) {
  return kLeft + (kRight - kLeft) * (static_cast<double>(slot) + 0.5) / static_cast<double>(slots);
}

std::string marker(const Series& s, const char* role, double x, double y, double size,
                   const std::string& tooltip) {
  const std::string title = tooltip.empty() ? "" : "<title>" + tooltip + "</title>";
  if (s.square)
    return fmt::format(
        R"(<rect class="{} {}" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}">{}</rect>)",
        role, s.name, x - size, y - size, 2 * size, 2 * size, s.color, title);
  return fmt::format(
      R"(<circle class="{} {}" cx="{:.1f}" cy="{:.1f}" r="{:.1f}" fill="{}">{}</circle>)", role,
      s.name, x, y, size, s.color, title);
}

std::string heads_phrase(Index heads) {
  return fmt::format("{} head{}", heads, heads == 1 ? "" : "s");
}

}  // namespace

std::string experiment_svg(const HeadsExperiment& e) {
  const std::vector<Index>& heads = e.settings.heads;
  std::string svg = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" )"
      R"(font-family="sans-serif" font-size="12">)"
      "\n",
      kWidth, kHeight);
  svg += R"(<rect width="100%" height="100%" fill="white"/>)"
         "\n";
  svg += fmt::format(
      R"(<text x="{}" y="22" text-anchor="middle" font-size="14" font-weight="bold">)"
      "Probability on grammatical words against the number of heads (d_model {}, {} seed{})</text>\n",
      kWidth / 2, e.settings.d_model, e.settings.seeds, e.settings.seeds == 1 ? "" : "s");

  // Legend, between the title and the plot.
  double legend_x = kLeft + 10;
  for (const Series& s : kSeries) {
    svg += marker(s, "legend", legend_x, 46, 5, "") + "\n";
    svg += fmt::format(R"(<text x="{:.1f}" y="50">{}</text>)"
                       "\n",
                       legend_x + 10, s.label);
    legend_x += 260;
  }

  // Grid and y axis: 0, 0.2, …, 1.
  for (int tick = 0; tick <= 5; ++tick) {
    const double v = tick / 5.0, y = y_of(v);
    svg += fmt::format(R"(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="{}"/>)"
                       "\n",
                       kLeft, y, kRight, y, tick == 0 ? "black" : "#dddddd");
    svg += fmt::format(R"(<text x="{}" y="{:.1f}" text-anchor="end">{:.1f}</text>)"
                       "\n",
                       kLeft - 6, y + 4, v);
  }
  svg += fmt::format(R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="black"/>)"
                     "\n",
                     kLeft, kTop, kBottom);
  svg += fmt::format(
      R"svg(<text x="18" y="{:.1f}" text-anchor="middle" transform="rotate(-90 18 {:.1f})">)svg"
      "held-out probability on allowed words</text>\n",
      (kTop + kBottom) / 2, (kTop + kBottom) / 2);

  // x axis: one slot per heads value.
  for (std::size_t i = 0; i < heads.size(); ++i)
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>)"
                       "\n",
                       slot_x(i, heads.size()), kBottom + 18, heads[i]);
  svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">)"
                     "heads (head_dim = d_model / heads; same parameter count)</text>\n",
                     (kLeft + kRight) / 2, kBottom + 44);

  for (const Series& s : kSeries) {
    std::string points;
    std::string markers;
    for (std::size_t i = 0; i < heads.size(); ++i) {
      const double x = slot_x(i, heads.size()) + s.offset;
      for (const HeadsRun& r : e.runs)
        if (r.heads == heads[i])
          svg += fmt::format(
              R"(<circle class="seed {}" cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}" fill-opacity="0.45">)"
              "<title>{}, seed {}: {:.3f}</title></circle>\n",
              s.name, x, y_of(metric_value(r.evaluation, s.metric)), s.color, heads_phrase(r.heads),
              r.seed, metric_value(r.evaluation, s.metric));
      const double mean = spread_of(e, heads[i], s.metric).mean;
      points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", x, y_of(mean));
      markers += marker(s, "mean", x, y_of(mean), 5,
                        fmt::format("{}, {}: mean {:.3f}", heads_phrase(heads[i]), s.label, mean)) +
                 "\n";
    }
    svg += fmt::format(R"(<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>)"
                       "\n",
                       points, s.color);
    svg += markers;
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace mha::cli
