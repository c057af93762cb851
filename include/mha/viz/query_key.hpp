// Per-head queries and keys of one self-attention layer, recomputed from the layer's weights, so
// a viewer can show how a softmax weight comes about: q·k, the scaled score, the softmax.
//
//   input x: [L, E] (the layer's input, e.g. BERT's hidden_states[n] for layer n + 1)
//   q = x·W_Qᵀ + b_Q → [L, H·D] → queries [H, L, D]
//   k = x·W_Kᵀ + b_K → [L, Hkv·D] → keys  [H, L, D]   (with GQA, head h reads kv head h / (H/Hkv))
//   score_h[i, j] = scale · q_h,i · k_h,j      softmax_j(score_h[i, ·]) = the layer's weights
//
// The attention weights alone cannot give the scores back (softmax forgets a constant per row),
// hence the recomputation. Layers with add_bias_kv or add_zero_attn have keys that are not
// projections of x and are refused.
#pragma once

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha::viz {

struct QueryKey {
  Tensor<> queries;  // [H, L, D]
  Tensor<> keys;     // [H, L, D]
  double scale = 1;  // the layer's default score scale, 1/√D
};

// Projects x through the layer's query and key weights with mha::linear (ctx picks the kernel).
// Throws mha::Error when x is not [L, E], or the layer's keys are not projections of x (kdim ≠ E,
// add_bias_kv, add_zero_attn).
QueryKey project_query_key(const MultiHeadAttention& layer, TensorView<const float> x,
                           const Context& ctx = {});

// scale · q_h,i · k_h,j for every head, query and key: [H, L, L], accumulated in double.
Tensor<> attention_scores(const QueryKey& qk);

}  // namespace mha::viz
