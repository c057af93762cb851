#include "explain_report.hpp"

#include <fmt/core.h>

#include <cmath>

#include "mha/core/error.hpp"

namespace mha::cli {
namespace {

constexpr int kNumberWidth = 9;  // "-12.345" plus room, right-aligned

std::string number_text(double value) {
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  return fmt::format("{:.3f}", value);
}

double at(const LabelledMatrix& m, std::size_t row, std::size_t col) {
  return m.values[row * m.cols.size() + col];
}

std::string text_matrix(const LabelledMatrix& m) {
  std::size_t label_width = 0;
  for (const std::string& row : m.rows) label_width = std::max(label_width, row.size());
  std::string out = fmt::format("  {}  [{} × {}]\n  {:<{}}", m.name, m.rows.size(), m.cols.size(),
                                "", label_width);
  for (const std::string& col : m.cols) out += fmt::format("{:>{}}", col, kNumberWidth);
  out += '\n';
  for (std::size_t i = 0; i < m.rows.size(); ++i) {
    out += fmt::format("  {:<{}}", m.rows[i], label_width);
    for (std::size_t j = 0; j < m.cols.size(); ++j)
      out += fmt::format("{:>{}}", number_text(at(m, i, j)), kNumberWidth);
    out += '\n';
  }
  return out;
}

std::string markdown_cell(double value) {
  if (std::isinf(value)) return value < 0 ? "−∞" : "∞";
  return fmt::format("{:.3f}", value);
}

std::string markdown_matrix(const LabelledMatrix& m) {
  // The first header cell, over the row labels, stays empty.
  std::string out = fmt::format("**{}** ({} × {})\n\n| |", m.name, m.rows.size(), m.cols.size());
  for (const std::string& col : m.cols) out += " " + col + " |";
  out += "\n|---|";
  for (std::size_t j = 0; j < m.cols.size(); ++j) out += "---:|";
  out += '\n';
  for (std::size_t i = 0; i < m.rows.size(); ++i) {
    out += "| **" + m.rows[i] + "** |";
    for (std::size_t j = 0; j < m.cols.size(); ++j) out += " " + markdown_cell(at(m, i, j)) + " |";
    out += '\n';
  }
  return out + '\n';
}

std::string token_line(const ExplainReport& report) {
  std::string line;
  for (const std::string& token : report.tokens) line += (line.empty() ? "" : " ") + token;
  return line;
}

}  // namespace

LabelledMatrix labelled(std::string name, TensorView<const float> m, std::vector<std::string> rows,
                        std::vector<std::string> cols) {
  if (m.rank() != 2 || static_cast<Index>(rows.size()) != m.dim(0) ||
      static_cast<Index>(cols.size()) != m.dim(1))
    throw_invalid(
        name, "a [" + std::to_string(rows.size()) + ", " + std::to_string(cols.size()) + "] matrix",
        shape_str(m.shape()));
  LabelledMatrix out{
      .name = std::move(name), .rows = std::move(rows), .cols = std::move(cols), .values = {}};
  for (Index i = 0; i < m.dim(0); ++i)
    for (Index j = 0; j < m.dim(1); ++j) out.values.push_back(m(i, j));
  return out;
}

std::vector<std::string> numbered(const std::string& stem, Index n) {
  std::vector<std::string> labels;
  for (Index i = 0; i < n; ++i) labels.push_back(stem + std::to_string(i));
  return labels;
}

std::string render_text(const ExplainReport& report) {
  std::string out =
      fmt::format("mha explain: multi-head attention step by step on \"{}\"\n", token_line(report));
  out += fmt::format("config: {}\n", report.config.dump());
  out +=
      "NOTE: the weights are random (seeded) and untrained; the arithmetic is exactly the real "
      "one.\n";
  for (std::size_t s = 0; s < report.steps.size(); ++s) {
    const ExplainStep& step = report.steps[s];
    out += fmt::format("\n── {}. {} ", s + 1, step.title);
    for (std::size_t n = step.title.size(); n < 72; ++n) out += "─";
    out += fmt::format("\n  {}\n", step.formula);
    for (const LabelledMatrix& m : step.matrices) out += text_matrix(m);
  }
  return out;
}

std::string render_markdown(const ExplainReport& report) {
  std::string out =
      fmt::format("# Multi-head attention step by step: \"{}\"\n\n", token_line(report));
  out += fmt::format(
      "Config: `{}`. The weights are random (seeded) and untrained; the arithmetic "
      "is exactly the real one.\n\n",
      report.config.dump());
  for (std::size_t s = 0; s < report.steps.size(); ++s) {
    const ExplainStep& step = report.steps[s];
    out += fmt::format("## {}. {}\n\n`{}`\n\n", s + 1, step.title, step.formula);
    for (const LabelledMatrix& m : step.matrices) out += markdown_matrix(m);
  }
  return out;
}

std::string render_json(const ExplainReport& report) {
  nlohmann::json steps = nlohmann::json::array();
  for (const ExplainStep& step : report.steps) {
    nlohmann::json matrices = nlohmann::json::array();
    for (const LabelledMatrix& m : step.matrices) {
      nlohmann::json values = nlohmann::json::array();
      for (std::size_t i = 0; i < m.rows.size(); ++i) {
        nlohmann::json row = nlohmann::json::array();
        for (std::size_t j = 0; j < m.cols.size(); ++j) {
          const double v = at(m, i, j);
          row.push_back(std::isinf(v) ? nlohmann::json(number_text(v)) : nlohmann::json(v));
        }
        values.push_back(row);
      }
      matrices.push_back(
          {{"name", m.name}, {"rows", m.rows}, {"cols", m.cols}, {"values", values}});
    }
    steps.push_back({{"title", step.title}, {"formula", step.formula}, {"matrices", matrices}});
  }
  const nlohmann::json doc = {{"command", "explain"},
                              {"untrained", true},
                              {"tokens", report.tokens},
                              {"config", report.config},
                              {"steps", steps},
                              {"check",
                               {{"max_abs_diff", report.max_abs_diff},
                                {"tolerance", report.tolerance},
                                {"ok", report.max_abs_diff <= report.tolerance}}}};
  return doc.dump(2) + '\n';
}

}  // namespace mha::cli
