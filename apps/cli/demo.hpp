// mha demo: the options and the pieces its three modes share.
//
//   default        two trained models (4 heads and 1 head) built into the binary, on one sentence
//                  of the attachment language (demo_trained.cpp)
//   --contextual   static vs contextual embeddings of "bank" (demo_contextual.cpp)
//   --untrained    one random layer at any width: the mechanism and its cost (demo_untrained.cpp)
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mha/core/tensor.hpp"
#include "mha/viz/heatmap.hpp"

namespace mha::cli {

struct DemoArgs {
  std::string text = "The man saw the astronaut with a telescope";
  std::string model;  // a checkpoint from `mha train` instead of the built-in models
  std::string focus;  // the word whose links are compared (default: the PP noun, else the last)
  Index layer = 0;    // 1-based layer of the heat maps; 0 = the last
  bool contextual = false;
  bool untrained = false;
  Index d_model = 512;  // --untrained only
  Index heads = 8;      // --untrained only
  std::uint64_t seed = 0;
  std::string kernel;
  std::string color;
  std::string trace;
  std::string html;
};

void run_trained_demo(const DemoArgs& args);
void run_contextual_demo(const DemoArgs& args);
void run_untrained_demo(const DemoArgs& args);

// What one self-attention layer over L tokens costs (docs/numerics: self-attention, S = L).
struct LayerCost {
  Index weight_params;     // 4·E²: W_Q, W_K, W_V, W_O
  Index bias_params;       // 4·E:  b_Q, b_K, b_V, b_O
  Index projection_flops;  // 8·L·E²: four [L, E]·[E, E] products, 2 FLOPs per multiply-add
  Index core_flops;        // 4·L²·E: Q·Kᵀ and P·V over all heads
  Index softmax_entries;   // H·L²: one L×L table per head
  Index head_dim;          // d_k = E / H
};
LayerCost cost_of(Index length, Index embed_dim, Index heads);
// The cost table: 1 head of E vs H heads of E/H.
void print_cost(const char* label, Index length, Index embed_dim, Index heads);

// 1048576 → "1,048,576".
std::string grouped(Index value);

// One head's [L, S] table out of per-head weights [H, L, S].
TensorView<const float> head_table(const Tensor<>& weights, Index head);

// {"weights": rows, "argmax": [{query, key, weight}]} of one [L, S] table.
nlohmann::json table_json(TensorView<const float> weights);

// Heat maps of [L, L] tables, rows annotated with their strongest key.
class DemoPrinter {
 public:
  DemoPrinter(const std::vector<std::string>& tokens, viz::ColorMode color);
  // The heat map with "→ strongest key  weight" after each row.
  void table(TensorView<const float> weights) const;
  // "saw", or "the[3]" for a word that occurs more than once.
  const std::string& key_name(Index key) const { return key_names_[static_cast<std::size_t>(key)]; }

 private:
  const std::vector<std::string>& tokens_;
  std::vector<std::string> key_names_;
  viz::ColorMode color_;
};

}  // namespace mha::cli
