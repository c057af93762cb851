#include "mha/viz/head_analysis.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <vector>

#include "mha/core/error.hpp"

namespace mha::viz {
namespace {

void check_layer_weights(TensorView<const float> weights) {
  if (weights.rank() != 3)
    throw_invalid("weights", "rank 3 [heads, queries, keys]",
                  "rank " + std::to_string(weights.rank()));
}

void check_index(Index index, Index size, const std::string& name) {
  if (index < 0 || index >= size)
    throw_invalid(name, "an index in [0, " + std::to_string(size) + ")", std::to_string(index));
}

// Row i of head h as a contiguous copy (the view may have any strides).
std::vector<float> row_of(TensorView<const float> weights, Index head, Index query) {
  std::vector<float> row(static_cast<std::size_t>(weights.dim(2)));
  for (Index j = 0; j < weights.dim(2); ++j)
    row[static_cast<std::size_t>(j)] = weights(head, query, j);
  return row;
}

bool equal_ignoring_ascii_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

std::string token_list(std::span<const std::string> tokens) {
  std::string list;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) list += ' ';
    list += tokens[i];
  }
  return list;
}

}  // namespace

double row_entropy(std::span<const float> row) {
  double entropy = 0;
  for (const float p : row)
    if (p > 0) entropy -= double(p) * std::log(double(p));
  return entropy;
}

std::vector<HeadFocus> analyze_focus(TensorView<const float> weights, Index focus) {
  check_layer_weights(weights);
  check_index(focus, weights.dim(1), "focus");
  std::vector<HeadFocus> heads;
  for (Index h = 0; h < weights.dim(0); ++h) {
    HeadFocus out{.head = h};
    const std::vector<float> row = row_of(weights, h, focus);
    // max_element returns the first maximum: the earliest key wins ties.
    const auto top = std::max_element(row.begin(), row.end());
    out.top_key = top - row.begin();
    out.top_weight = *top;
    float runner_up = 0.0F;
    bool has_runner_up = false;
    for (auto it = row.begin(); it != row.end(); ++it)
      if (it != top && (!has_runner_up || *it > runner_up)) {
        runner_up = *it;
        has_runner_up = true;
      }
    out.margin = out.top_weight - runner_up;
    out.focus_entropy = row_entropy(row);
    double total = 0;
    for (Index i = 0; i < weights.dim(1); ++i) total += row_entropy(row_of(weights, h, i));
    out.mean_entropy = total / double(weights.dim(1));
    heads.push_back(out);
  }
  return heads;
}

std::vector<HeadTargetWeight> rank_heads_by_target(TensorView<const float> weights, Index focus,
                                                   Index target) {
  check_layer_weights(weights);
  check_index(focus, weights.dim(1), "focus");
  check_index(target, weights.dim(2), "target");
  std::vector<HeadTargetWeight> ranking;
  for (Index h = 0; h < weights.dim(0); ++h) {
    const float w = weights(h, focus, target);
    Index stronger = 0;
    for (Index j = 0; j < weights.dim(2); ++j) stronger += weights(h, focus, j) > w ? 1 : 0;
    ranking.push_back({.head = h, .weight = w, .rank_in_row = stronger + 1});
  }
  std::stable_sort(
      ranking.begin(), ranking.end(),
      [](const HeadTargetWeight& a, const HeadTargetWeight& b) { return a.weight > b.weight; });
  return ranking;
}

Index find_token(std::span<const std::string> tokens, std::string_view spec,
                 const std::string& argument) {
  const auto count = static_cast<Index>(tokens.size());
  if (spec.size() > 1 && spec.front() == '#') {
    Index position = -1;
    const auto [end, error] = std::from_chars(spec.data() + 1, spec.data() + spec.size(), position);
    if (error == std::errc{} && end == spec.data() + spec.size() && position >= 0 &&
        position < count)
      return position;
    throw_invalid(argument, "#N with N in [0, " + std::to_string(count) + ")",
                  "'" + std::string(spec) + "'");
  }
  for (Index i = 0; i < count; ++i)
    if (tokens[static_cast<std::size_t>(i)] == spec) return i;
  for (Index i = 0; i < count; ++i)
    if (equal_ignoring_ascii_case(tokens[static_cast<std::size_t>(i)], spec)) return i;
  throw_invalid(argument, "one of the tokens (" + token_list(tokens) + ") or #N",
                "'" + std::string(spec) + "'");
}

}  // namespace mha::viz
