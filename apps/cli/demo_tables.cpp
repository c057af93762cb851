// The tables, costs and JSON pieces every mode of `mha demo` uses.
#include <fmt/core.h>

#include <cmath>
#include <map>

#include "demo.hpp"
#include "mha/core/error.hpp"
#include "mha/layers/mha_flops.hpp"
#include "mha/viz/attention_links.hpp"

namespace mha::cli {

LayerCost cost_of(Index length, Index embed_dim, Index heads) {
  const Index e = embed_dim;
  const MhaForwardFlops flops = mha_forward_flops(1, length, embed_dim);
  return {.weight_params = 4 * e * e,
          .bias_params = 4 * e,
          .projection_flops = flops.projections,
          .core_flops = flops.core,
          .softmax_entries = heads * length * length,
          .head_dim = e / heads};
}

// 1048576 → "1,048,576".
std::string grouped(Index value) {
  std::string digits = std::to_string(value), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

TensorView<const float> head_table(const Tensor<>& weights, Index head) {
  const Index l = weights.dim(1), s = weights.dim(2);
  return {weights.data() + head * l * s, {l, s}};
}

void print_cost(const char* label, Index length, Index embed_dim, Index heads) {
  const LayerCost one = cost_of(length, embed_dim, 1), many = cost_of(length, embed_dim, heads);
  fmt::print("{} Cost: 1 head of {} vs {} heads of {}, L = {} tokens\n", label, embed_dim, heads,
             many.head_dim, length);
  const std::string one_name = fmt::format("1 × {}", embed_dim);
  const std::string many_name = fmt::format("{} × {}", heads, many.head_dim);
  fmt::print("    {:<22}{:<16}{:>14}{:>14}\n", "", "formula", one_name, many_name);
  auto row = [](const char* what, const char* formula, const std::string& a, const std::string& b) {
    fmt::print("    {:<22}{:<16}{:>14}{:>14}{}\n", what, formula, a, b, a == b ? "   same" : "");
  };
  row("parameters: weights", "4·E²", grouped(one.weight_params), grouped(many.weight_params));
  row("parameters: biases", "4·E", grouped(one.bias_params), grouped(many.bias_params));
  row("FLOPs: projections", "8·L·E²", grouped(one.projection_flops),
      grouped(many.projection_flops));
  row("FLOPs: attention core", "4·L²·E", grouped(one.core_flops), grouped(many.core_flops));
  row("softmax entries", "H·L²", grouped(one.softmax_entries), grouped(many.softmax_entries));
  row("dimension per head", "d_k = E/H", grouped(one.head_dim), grouped(many.head_dim));
  row("score scale", "1/√d_k", fmt::format("{:.4f}", 1.0 / std::sqrt(double(one.head_dim))),
      fmt::format("{:.4f}", 1.0 / std::sqrt(double(many.head_dim))));
  row("attention patterns", "H", "1", grouped(heads));
  fmt::print(
      "    Same parameters, same FLOPs. Splitting buys {} distinct attention patterns per token,\n"
      "    each comparing queries and keys in its own {}-dimensional subspace, for {} softmax\n"
      "    entries instead of {} (softmax costs O(H·L²), a small term next to the FLOPs above).\n",
      heads, many.head_dim, grouped(many.softmax_entries), grouped(one.softmax_entries));
}

nlohmann::json table_json(TensorView<const float> weights) {
  nlohmann::json rows = nlohmann::json::array(), links = nlohmann::json::array();
  for (Index i = 0; i < weights.dim(0); ++i) {
    std::vector<float> row;
    for (Index j = 0; j < weights.dim(1); ++j) row.push_back(weights(i, j));
    rows.push_back(row);
  }
  for (const viz::AttentionLink& link : viz::strongest_links(weights))
    links.push_back({{"query", link.query}, {"key", link.key}, {"weight", link.weight}});
  return {{"weights", rows}, {"argmax", links}};
}

DemoPrinter::DemoPrinter(const std::vector<std::string>& tokens, viz::ColorMode color)
    : tokens_(tokens), color_(color) {
  std::map<std::string, int> counts;
  for (const std::string& t : tokens_) ++counts[t];
  for (std::size_t j = 0; j < tokens_.size(); ++j)
    // A word that occurs twice ("the") gets its position, so a link says which one.
    key_names_.push_back(counts[tokens_[j]] > 1 ? fmt::format("{}[{}]", tokens_[j], j) : tokens_[j]);
}

void DemoPrinter::table(TensorView<const float> weights) const {
  std::vector<std::string> notes;
  for (const viz::AttentionLink& link : viz::strongest_links(weights))
    notes.push_back(fmt::format("→ {} {:.2f}", key_name(link.key), link.weight));
  fmt::print("{}", viz::render_heatmap(weights, tokens_, tokens_, notes, {.color = color_, .legend = false}));
}

}  // namespace mha::cli
