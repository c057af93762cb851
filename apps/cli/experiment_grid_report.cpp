// The tables of a grid: summaries per (group, heads), markdown and JSON.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "experiment_grid.hpp"

namespace mha::cli {
namespace {

using json = nlohmann::ordered_json;

json number_or_null(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

std::string fixed(double x, int decimals) {
  return std::isnan(x) ? "—" : fmt::format("{:.{}f}", x, decimals);
}

// "0.927 ± 0.005", or "0.927" when one seed leaves no interval.
std::string mean_pm(const train::Summary& s, int decimals) {
  if (std::isnan(s.half_width)) return fixed(s.mean, decimals);
  return fmt::format("{:.{}f} ± {:.{}f}", s.mean, decimals, s.half_width, decimals);
}

std::string p_text(double p) {
  if (std::isnan(p)) return "—";
  return p < 0.001 ? "< 0.001" : fmt::format("{:.3f}", p);
}

train::WelchTest untested() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  return {.difference = nan, .standard_error = nan, .t = nan, .dof = nan, .p_value = nan,
          .low = nan, .high = nan, .confidence = 0.95};
}

std::vector<Index> heads_of(const std::vector<GridRunResult>& runs, const std::string& group) {
  std::vector<Index> heads;
  for (const GridRunResult& r : runs)
    if (r.group == group && std::find(heads.begin(), heads.end(), r.heads) == heads.end())
      heads.push_back(r.heads);
  std::sort(heads.begin(), heads.end());
  return heads;
}

bool any_group(const std::vector<GridRunResult>& runs) {
  return std::any_of(runs.begin(), runs.end(), [](const GridRunResult& r) { return !r.group.empty(); });
}

}  // namespace

std::vector<std::string> grid_groups(const std::vector<GridRunResult>& runs) {
  std::vector<std::string> groups;
  for (const GridRunResult& r : runs)
    if (std::find(groups.begin(), groups.end(), r.group) == groups.end()) groups.push_back(r.group);
  return groups;
}

std::vector<double> grid_values(const std::vector<GridRunResult>& runs, const std::string& group,
                                Index heads, const std::string& key) {
  std::vector<double> values;
  for (const GridRunResult& r : runs)
    if (r.group == group && r.heads == heads) values.push_back(r.metric(key));
  return values;
}

std::vector<GridSummaryRow> summarize_grid(const std::vector<GridRunResult>& runs,
                                           const std::vector<GridMetric>& metrics) {
  std::vector<GridSummaryRow> rows;
  for (const std::string& group : grid_groups(runs)) {
    const std::vector<Index> heads = heads_of(runs, group);
    const bool has_baseline = std::find(heads.begin(), heads.end(), Index{1}) != heads.end();
    for (const Index h : heads) {
      GridSummaryRow row;
      row.group = group;
      row.heads = h;
      for (const GridRunResult& r : runs)
        if (r.group == group && r.heads == h) {
          row.head_dim = r.head_dim;
          row.parameters = r.parameters;
          ++row.runs;
        }
      for (const GridMetric& m : metrics) {
        const std::vector<double> values = grid_values(runs, group, h, m.key);
        row.metrics.push_back(train::summarize(values));
        if (m.tested && has_baseline && h != 1)
          row.against_one.push_back(train::welch_t_test(values, grid_values(runs, group, 1, m.key)));
        else
          row.against_one.push_back(untested());
      }
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

const GridSummaryRow* find_row(const std::vector<GridSummaryRow>& rows, const std::string& group,
                               Index heads) {
  for (const GridSummaryRow& r : rows)
    if (r.group == group && r.heads == heads) return &r;
  return nullptr;
}

std::string grid_statistics_note(Index seeds) {
  if (seeds < 2)
    return "One seed per setting: the cells are single values, with no interval and no test.";
  return fmt::format(
      "Each cell is the mean over the n = {} seeds ± the half-width of its 95% confidence "
      "interval (Student's t with n − 1 degrees of freedom: t·s/√n, s the sample standard "
      "deviation). The p columns are two-sided Welch's t-tests of each setting against 1 head of "
      "the same group (unequal variances, Welch–Satterthwaite degrees of freedom), not corrected "
      "for the number of comparisons; — where there is nothing to test (the 1-head row itself, or "
      "no spread over seeds in either setting).",
      seeds);
}

std::string grid_results_markdown(const std::vector<GridSummaryRow>& rows,
                                  const std::vector<GridMetric>& metrics,
                                  const std::string& heading) {
  std::string md;
  std::vector<std::string> groups;
  for (const GridSummaryRow& r : rows)
    if (std::find(groups.begin(), groups.end(), r.group) == groups.end()) groups.push_back(r.group);
  for (const std::string& group : groups) {
    if (!group.empty()) md += heading + " " + group + "\n\n";
    md += "| heads | head_dim | parameters | n |";
    std::string rule = "\n| ---: | ---: | ---: | ---: |";
    for (const GridMetric& m : metrics) {
      md += " " + m.label + " |";
      rule += " ---: |";
      if (m.tested) {
        md += " " + m.label + " p vs 1 head |";
        rule += " ---: |";
      }
    }
    md += rule + "\n";
    for (const GridSummaryRow& r : rows) {
      if (r.group != group) continue;
      md += fmt::format("| {} | {} | {} | {} |", r.heads, r.head_dim, r.parameters, r.runs);
      for (std::size_t i = 0; i < metrics.size(); ++i) {
        md += " " + mean_pm(r.metrics[i], metrics[i].decimals) + " |";
        if (metrics[i].tested) md += " " + p_text(r.against_one[i].p_value) + " |";
      }
      md += "\n";
    }
    md += "\n";
  }
  return md;
}

std::string grid_runs_markdown(const std::vector<GridRunResult>& runs,
                               const std::vector<GridMetric>& metrics) {
  const bool groups = any_group(runs);
  std::string md = groups ? "| group | heads | seed |" : "| heads | seed |";
  std::string rule = groups ? "\n| :--- | ---: | ---: |" : "\n| ---: | ---: |";
  for (const GridMetric& m : metrics) {
    md += " " + m.label + " |";
    rule += " ---: |";
  }
  md += " seconds |" + rule + " ---: |\n";
  for (const GridRunResult& r : runs) {
    md += groups ? fmt::format("| {} | {} | {} |", r.group, r.heads, r.seed)
                 : fmt::format("| {} | {} |", r.heads, r.seed);
    for (const GridMetric& m : metrics) md += " " + fixed(r.metric(m.key), m.decimals) + " |";
    md += fmt::format(" {:.1f} |\n", r.seconds);
  }
  return md;
}

json grid_runs_json(const std::vector<GridRunResult>& runs) {
  json all = json::array();
  for (const GridRunResult& r : runs) {
    json row = {{"id", r.id}};
    if (!r.group.empty()) row["group"] = r.group;
    row["heads"] = r.heads;
    row["head_dim"] = r.head_dim;
    row["seed"] = r.seed;
    row["parameters"] = r.parameters;
    json metrics = json::object();
    for (const auto& [key, value] : r.metrics) metrics[key] = number_or_null(value);
    row["metrics"] = std::move(metrics);
    json curve = json::array();
    for (const CurvePoint& p : r.curve) curve.push_back(json::array({p.step, number_or_null(p.loss)}));
    row["curve"] = std::move(curve);
    row["seconds"] = r.seconds;
    all.push_back(std::move(row));
  }
  return all;
}

json grid_summary_json(const std::vector<GridSummaryRow>& rows,
                       const std::vector<GridMetric>& metrics) {
  json all = json::array();
  for (const GridSummaryRow& r : rows) {
    json row = json::object();
    if (!r.group.empty()) row["group"] = r.group;
    row["heads"] = r.heads;
    row["head_dim"] = r.head_dim;
    row["parameters"] = r.parameters;
    row["runs"] = r.runs;
    for (std::size_t i = 0; i < metrics.size(); ++i) {
      const train::Summary& s = r.metrics[i];
      json cell = {{"mean", number_or_null(s.mean)},
                   {"sd", number_or_null(s.sd)},
                   {"min", number_or_null(s.min)},
                   {"max", number_or_null(s.max)},
                   {"ci95_low", number_or_null(s.low)},
                   {"ci95_high", number_or_null(s.high)},
                   {"ci95_half_width", number_or_null(s.half_width)}};
      if (metrics[i].tested && r.heads != 1) {
        const train::WelchTest& w = r.against_one[i];
        cell["welch_vs_1_head"] = {{"difference", number_or_null(w.difference)},
                                   {"ci95_low", number_or_null(w.low)},
                                   {"ci95_high", number_or_null(w.high)},
                                   {"t", number_or_null(w.t)},
                                   {"dof", number_or_null(w.dof)},
                                   {"p", number_or_null(w.p_value)}};
      }
      row[metrics[i].key] = std::move(cell);
    }
    all.push_back(std::move(row));
  }
  return all;
}

}  // namespace mha::cli
