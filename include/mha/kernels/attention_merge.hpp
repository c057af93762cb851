// Attention over keys split into blocks, merged exactly by log-sum-exp: the primitive behind
// split-key decoding (Flash-Decoding) and attention over keys held by other processes.
//
// With the keys split into blocks b, each block's attention gives an output o_b normalised over
// its own keys and its row log-sum-exp l_b (mha::attention's `lse`). Over all keys:
//   l = log Σ_b exp(l_b),   o = Σ_b exp(l_b − l) · o_b
// which is the softmax over the union of the blocks, not an approximation. merge_attention folds
// one block into a running (out, lse) pair; the first block's result is a valid running state.
// A block whose row saw no key has l_b = −∞ and weight 0; a row that sees no key in any block
// keeps out = 0 and lse = −∞ (the kernels' fully-masked rule). Sums run in float64.
//
//   out, other_out: [B, H, L, Dv]      lse, other_lse: [B, H, L]      (any strides)
#pragma once

#include "mha/core/tensor.hpp"

namespace mha {

// (out, lse) ← merge((out, lse), (other_out, other_lse)). Throws mha::Error naming the view whose
// shape does not match `out`'s (or `lse`'s).
void merge_attention(TensorView<float> out, TensorView<float> lse, TensorView<const float> other_out,
                     TensorView<const float> other_lse);

}  // namespace mha
