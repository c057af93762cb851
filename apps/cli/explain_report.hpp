// The worked example of `mha explain` as data — numbered steps, each a title, a one-line formula
// and labelled matrices — and its three renderings: aligned text, Markdown tables and JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mha/core/tensor.hpp"

namespace mha::cli {

struct LabelledMatrix {
  std::string name;
  std::vector<std::string> rows, cols;
  std::vector<double> values;  // row-major, rows.size() × cols.size(); −∞ is allowed (masks)
};

struct ExplainStep {
  std::string title;
  std::string formula;
  std::vector<LabelledMatrix> matrices;
};

struct ExplainReport {
  std::vector<std::string> tokens;
  nlohmann::json config;  // d_model, heads, head_dim, seed, causal
  std::vector<ExplainStep> steps;
  double max_abs_diff = 0.0;  // the steps' output vs MultiHeadAttention::forward
  double tolerance = 0.0;
};

// A matrix from a rank-2 view (any strides), with row and column labels.
LabelledMatrix labelled(std::string name, TensorView<const float> m, std::vector<std::string> rows,
                        std::vector<std::string> cols);
// "x0", "x1", … (n labels).
std::vector<std::string> numbered(const std::string& stem, Index n);

std::string render_text(const ExplainReport& report);
std::string render_markdown(const ExplainReport& report);
// −∞ is written as the string "-inf" (JSON has no infinities).
std::string render_json(const ExplainReport& report);

}  // namespace mha::cli
