// The textbook attention of one or more heads, without projections:
//   Attention(Q, K, V) = softmax(Q·Kᵀ · scale + mask) · V
//
//   q: [L, D] | [H, L, D] | [B, H, L, D]     k: [..., S, D]     v: [..., S, Dv]
//   output: [..., L, Dv]      weights (need_weights): [..., L, S]      lse (need_lse): [..., L]
// lse[i] = log Σ_j exp(s_ij) over the scaled, masked scores of query row i (−∞ for a row that
// sees no key): what merging attention over several blocks of keys needs.
// k and v may have fewer heads than q when that number divides q's (grouped-query attention).
// The mask broadcasts to [..., L, S] by PyTorch's rules (trailing dimensions, extent 1 repeats).
#pragma once

#include <optional>

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"
#include "mha/kernels/attention.hpp"

namespace mha {

struct SdpaOptions {
  std::optional<Mask> attn_mask{};
  bool is_causal = false;
  Alignment causal_alignment = Alignment::top_left;
  Index window_left = -1;
  std::optional<double> scale{};  // default 1/sqrt(D)
  bool need_weights = false;
  bool need_lse = false;
};

struct SdpaOutput {
  Tensor<> output;
  Tensor<> weights;  // defined only with need_weights
  Tensor<> lse;      // defined only with need_lse
};

SdpaOutput scaled_dot_product_attention(TensorView<const float> q, TensorView<const float> k,
                                        TensorView<const float> v, const SdpaOptions& options = {},
                                        const Context& ctx = {});

}  // namespace mha
