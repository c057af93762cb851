// mha demo — one sentence through (a) a single head of width d_model and (b) H heads of width
// d_model/H that share the very same weight matrices, shown as terminal heat maps, followed by
// (c) what the two cost and what differs between them.
//
// The model is built in: seeded static word vectors plus sinusoidal positions feed one random
// (untrained) attention layer. The point is the mechanism, not linguistics.
#include <fmt/core.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_options.hpp"
#include "commands.hpp"
#include "mha/layers/multi_head_attention.hpp"
#include "mha/viz/attention_links.hpp"
#include "mha/viz/heatmap.hpp"
#include "sentence_input.hpp"

namespace mha::cli {
namespace {

struct DemoArgs {
  std::string text = "The man saw the astronaut with a telescope";
  Index d_model = 512;
  Index heads = 8;
  std::uint64_t seed = 0;
  std::string kernel;
  std::string color;
  std::string trace;
};

// What one self-attention layer over L tokens costs (docs/numerics: self-attention, S = L).
struct LayerCost {
  Index weight_params;     // 4·E²: W_Q, W_K, W_V, W_O
  Index bias_params;       // 4·E:  b_Q, b_K, b_V, b_O
  Index projection_flops;  // 8·L·E²: four [L, E]·[E, E] products, 2 FLOPs per multiply-add
  Index core_flops;        // 4·L²·E: Q·Kᵀ and P·V over all heads
  Index softmax_entries;   // H·L²: one L×L table per head
  Index head_dim;          // d_k = E / H
};

LayerCost cost_of(Index length, Index embed_dim, Index heads) {
  const Index e = embed_dim, l = length;
  return {.weight_params = 4 * e * e,
          .bias_params = 4 * e,
          .projection_flops = 8 * l * e * e,
          .core_flops = 4 * l * l * e,
          .softmax_entries = heads * l * l,
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

// One head's table out of the (H, L, L) per-head weights of an unbatched forward.
TensorView<const float> head_table(const Tensor<>& weights, Index head) {
  const Index l = weights.dim(1), s = weights.dim(2);
  return {weights.data() + head * l * s, {l, s}};
}

// A copy of the weights that leaves absent tensors absent (copying an undefined Tensor would give
// a defined one of shape [], which the layer would take for a present tensor).
MhaWeights copy_of(const MhaWeights& w) {
  auto copy = [](const Tensor<>& t) { return t.defined() ? t : Tensor<>{}; };
  return {copy(w.in_proj_weight), copy(w.q_proj_weight), copy(w.k_proj_weight),
          copy(w.v_proj_weight),  copy(w.in_proj_bias),  copy(w.out_proj_weight),
          copy(w.out_proj_bias),  copy(w.bias_k),        copy(w.bias_v)};
}

class DemoPrinter {
 public:
  DemoPrinter(const std::vector<std::string>& tokens, viz::ColorMode color)
      : tokens_(tokens), color_(color) {
    std::map<std::string, int> counts;
    for (const std::string& t : tokens_) ++counts[t];
    for (std::size_t j = 0; j < tokens_.size(); ++j)
      // A word that occurs twice ("the") gets its position, so a link says which one.
      key_names_.push_back(counts[tokens_[j]] > 1 ? fmt::format("{}[{}]", tokens_[j], j)
                                                  : tokens_[j]);
  }

  // The heat map with "→ strongest key  weight" after each row.
  void table(TensorView<const float> weights) const {
    std::vector<std::string> notes;
    for (const viz::AttentionLink& link : viz::strongest_links(weights))
      notes.push_back(
          fmt::format("→ {} {:.2f}", key_names_[static_cast<std::size_t>(link.key)], link.weight));
    fmt::print("{}", viz::render_heatmap(weights, tokens_, tokens_, notes,
                                         {.color = color_, .legend = false}));
  }

 private:
  const std::vector<std::string>& tokens_;
  std::vector<std::string> key_names_;
  viz::ColorMode color_;
};

void print_cost(Index length, Index embed_dim, Index heads) {
  const LayerCost one = cost_of(length, embed_dim, 1), many = cost_of(length, embed_dim, heads);
  fmt::print("(c) Cost: 1 head of {} vs {} heads of {}, L = {} tokens\n", embed_dim, heads,
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

void write_trace(const DemoArgs& args, const std::vector<std::string>& tokens, KernelKind kernel,
                 const Tensor<>& single, const Tensor<>& multi) {
  const auto length = static_cast<Index>(tokens.size());
  const LayerCost one = cost_of(length, args.d_model, 1),
                  many = cost_of(length, args.d_model, args.heads);
  nlohmann::json heads = nlohmann::json::array();
  for (Index h = 0; h < args.heads; ++h) {
    nlohmann::json head = table_json(head_table(multi, h));
    head["head"] = h;
    heads.push_back(head);
  }
  const nlohmann::json trace = {
      {"command", "demo"},
      {"untrained", true},
      {"text", args.text},
      {"tokens", tokens},
      {"config",
       {{"d_model", args.d_model},
        {"heads", args.heads},
        {"head_dim", many.head_dim},
        {"seed", args.seed},
        {"kernel", kernel_name(kernel)}}},
      {"single_head", table_json(head_table(single, 0))},
      {"heads", heads},
      {"parameters", {{"weights", many.weight_params}, {"biases", many.bias_params}}},
      {"flops",
       {{"projections", many.projection_flops},
        {"attention_core", many.core_flops},
        {"total", many.projection_flops + many.core_flops}}},
      {"softmax_entries",
       {{"single_head", one.softmax_entries}, {"multi_head", many.softmax_entries}}},
  };
  std::ofstream out(args.trace);
  if (!out) throw_invalid("--trace", "a file that can be written", "'" + args.trace + "'");
  out << trace.dump(2) << '\n';
  if (!out.flush()) throw_invalid("--trace", "a file that can be written", "'" + args.trace + "'");
}

void run_demo(const DemoArgs& args) {
  const KernelKind kernel = resolve_kernel(args.kernel);
  const Context ctx{.kernel = kernel};
  const std::vector<std::string> tokens = tokenize_words(args.text);
  const auto length = static_cast<Index>(tokens.size());
  const Index head_dim = args.d_model / args.heads;

  // Both layers share one set of weights: the only difference is how Q, K, V are split.
  const MultiHeadAttention single =
      MultiHeadAttention::random({.embed_dim = args.d_model, .num_heads = 1}, args.seed);
  const MultiHeadAttention multi({.embed_dim = args.d_model, .num_heads = args.heads},
                                 copy_of(single.weights()));
  const Tensor<> x = embed_sentence(tokens, args.d_model, args.seed);
  MhaOptions per_head;
  per_head.need_weights = true;
  per_head.average_attn_weights = false;
  const MhaOutput one = single.forward(x.view(), x.view(), x.view(), per_head, ctx);
  const MhaOutput many = multi.forward(x.view(), x.view(), x.view(), per_head, ctx);

  fmt::print("mha demo: one sentence through single-head and multi-head self-attention\n");
  fmt::print(
      "NOTE: the weights are random (seed {}) and UNTRAINED — no trained model ships yet. The\n"
      "      tables show how attention is computed, not what a trained model would attend to.\n\n",
      args.seed);
  std::string numbered;
  for (Index i = 0; i < length; ++i)
    numbered += fmt::format(" {}:{}", i, tokens[static_cast<std::size_t>(i)]);
  fmt::print("tokens ({}):{}\n", length, numbered);
  fmt::print(
      "input:  x_i = e(word_i) + PE(i)  (seeded static word vectors + sinusoidal positions)\n");
  fmt::print("layer:  d_model {}, {} heads of {}, kernel {}\n\n", args.d_model, args.heads,
             head_dim, kernel_name(kernel));

  const DemoPrinter printer(tokens, resolve_color(args.color));
  fmt::print("(a) One head of width {}: softmax(Q·Kᵀ/√{}) over all {} dimensions\n", args.d_model,
             args.d_model, args.d_model);
  fmt::print(
      "    rows = queries, columns = keys, each row sums to 1; the arrow: the key a row attends to "
      "most\n");
  printer.table(head_table(one.weights, 0));
  fmt::print(
      "\n(b) {} heads of width {}: the same W_Q, W_K, W_V, W_O; Q, K, V cut into {} slices\n",
      args.heads, head_dim, args.heads);
  for (Index h = 0; h < args.heads; ++h) {
    fmt::print("\nhead {} of {}  (columns {}–{} of Q, K, V)\n", h + 1, args.heads, h * head_dim,
               (h + 1) * head_dim - 1);
    printer.table(head_table(many.weights, h));
  }
  fmt::print("\n");
  print_cost(length, args.d_model, args.heads);
  if (!args.trace.empty()) {
    write_trace(args, tokens, kernel, one.weights, many.weights);
    fmt::print("\ntrace written to {}\n", args.trace);
  }
}

}  // namespace

void register_demo(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* demo = app.add_subcommand(
      "demo", "One sentence through single-head and multi-head attention, as terminal heat maps");
  demo->add_option("--text", args->text, "the sentence")->capture_default_str();
  demo->add_option("--d-model", args->d_model, "model width E")
      ->check(CLI::Range(Index{1}, Index{8192}))
      ->capture_default_str();
  demo->add_option("--heads", args->heads, "number of heads H (must divide --d-model)")
      ->check(CLI::Range(Index{1}, Index{8192}))
      ->capture_default_str();
  demo->add_option("--seed", args->seed, "seed of the word vectors and the random weights")
      ->capture_default_str();
  add_kernel_option(*demo, args->kernel);
  add_color_option(*demo, args->color);
  demo->add_option(
      "--trace", args->trace,
      "also write a JSON trace (tokens, config, per-head weights, argmax links, FLOPs)");
  demo->callback([args] { run_demo(*args); });
}

}  // namespace mha::cli
