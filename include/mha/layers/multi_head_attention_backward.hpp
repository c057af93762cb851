// Training a MultiHeadAttention: the tape its forward fills (MultiHeadAttention::forward with a
// tape) and the backward pass, giving the gradient of every weight and bias and of the three
// inputs.
//
// What is saved is O(N) per head — the inputs, the projected q, k, v, the concatenated head
// outputs and each query row's log-sum-exp — never the N×N probabilities, which the backward
// recomputes from the log-sum-exp (mha/kernels/attention_backward.hpp).
//
// Backward, with the forward written as X_q·W_Qᵀ + b_Q → attention → concat·W_Oᵀ + b_O:
//   dW_O = dYᵀ·concat, db_O = Σ dY, d concat = dY·W_O
//   attention backward → dq, dk, dv (dk, dv over the S' keys, bias_kv / zero_attn included)
//   d bias_k = Σ_b dk[b, S], d bias_v = Σ_b dv[b, S]   (the zero_attn key has no parameters)
//   dW_Q = dqᵀ·X_q, db_Q = Σ dq, dX_q = dq·W_Q          (likewise K and V)
#pragma once

#include <memory>

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"
#include "mha/kernels/attention.hpp"
#include "mha/kernels/attention_backward.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha {

class MaskStorage;  // the mask copies a call owns (internal)

// What a training forward keeps; copies share the (immutable) mask storage.
struct MhaTape {
  Shape query_shape, key_shape, value_shape;  // the caller's input shapes
  Shape output_shape;                         // the forward's output, in the query's layout
  bool batch_first = false;
  Tensor<> query, key, value;  // the inputs, batch first: [B, L, E], [B, S, kdim], [B, S, vdim]
  Tensor<> q, k, v;            // projected: [B, L, E], [B, S', Hkv·D], [B, S', Hkv·D]
  Tensor<> concat;             // the heads' outputs before out_proj: [B, L, E]
  Tensor<> lse;                // [B, H, L]
  AttentionParams params;      // its masks read copies owned by mask_storage
  AttentionDropout dropout;
  std::shared_ptr<const MaskStorage> mask_storage;
};

// The inputs' gradients in the caller's layout. When one tensor was passed as query, key and value
// (self-attention), its gradient is d_query + d_key + d_value.
struct MhaInputGradients {
  Tensor<> d_query, d_key, d_value;
};

// Where backward writes the weight gradients (overwritten): views of a model's gradient store, or
// of tensors shaped like the weights; one for each weight the layer has (the others absent).
using MhaWeightGradients = MhaTensors<TensorView<float>>;

// dL/d(everything the layer reads), owned: the weight gradients have the names and shapes of
// MhaWeights (defined exactly where the layer's weight is), plus the inputs' gradients.
struct MhaGradients : MhaTensors<Tensor<>>, MhaInputGradients {};

// The gradients for dL/d output = grad_output (the output's shape), the weights' written into
// `into`. `layer` must be the one whose forward filled `tape`.
MhaInputGradients backward(const MultiHeadAttention& layer, const MhaTape& tape,
                           TensorView<const float> grad_output, const MhaWeightGradients& into,
                           const Context& ctx = {});
// The same, into newly allocated tensors.
MhaGradients backward(const MultiHeadAttention& layer, const MhaTape& tape,
                      TensorView<const float> grad_output, const Context& ctx = {});

}  // namespace mha
