// mha demo --untrained — one sentence through (a) a single head of width d_model and (b) H heads
// of width d_model/H that share the very same weight matrices, shown as terminal heat maps,
// followed by (c) what the two cost and what differs between them.
//
// Seeded static word vectors plus sinusoidal positions feed one random (untrained) attention
// layer: the point is the mechanism (how the split into heads works and what it costs), for any
// sentence and any width; the default demo shows trained models (demo_trained.cpp).
#include <fmt/core.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "atomic_text_file.hpp"
#include "cli_options.hpp"
#include "demo.hpp"
#include "mha/layers/multi_head_attention.hpp"
#include "mha/viz/attention_links.hpp"
#include "mha/viz/heatmap.hpp"
#include "sentence_input.hpp"

namespace mha::cli {
namespace {

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
  write_text_atomically(args.trace, trace.dump(2) + "\n", "--trace");
}

}  // namespace

void run_untrained_demo(const DemoArgs& args) {
  const KernelKind kernel = resolve_kernel(args.kernel);
  const Context ctx{.kernel = kernel};
  const std::vector<std::string> tokens = tokenize_words(args.text);
  const auto length = static_cast<Index>(tokens.size());
  const Index head_dim = args.d_model / args.heads;

  // Both layers share one set of weights: the only difference is how Q, K, V are split.
  const MultiHeadAttention single =
      MultiHeadAttention::random({.embed_dim = args.d_model, .num_heads = 1}, args.seed);
  const MultiHeadAttention multi({.embed_dim = args.d_model, .num_heads = args.heads},
                                 single.weights());
  const Tensor<> x = embed_sentence(tokens, args.d_model, args.seed);
  MhaOptions per_head;
  per_head.need_weights = true;
  per_head.average_attn_weights = false;
  const MhaOutput one = single.forward(x.view(), x.view(), x.view(), per_head, ctx);
  const MhaOutput many = multi.forward(x.view(), x.view(), x.view(), per_head, ctx);

  fmt::print("mha demo: one sentence through single-head and multi-head self-attention\n");
  fmt::print(
      "NOTE: the weights are random (seed {}) and UNTRAINED. The tables show how attention is\n"
      "      computed, not what a trained model attends to (`mha demo` without --untrained).\n\n",
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
  print_cost("(c)", length, args.d_model, args.heads);
  if (!args.trace.empty()) {
    write_trace(args, tokens, kernel, one.weights, many.weights);
    fmt::print("\ntrace written to {}\n", args.trace);
  }
}

}  // namespace mha::cli
