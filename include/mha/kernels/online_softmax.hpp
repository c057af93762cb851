// The online softmax as a kernel of its own: attend a block of keys from a running
// (max, sum, accumulator) state, merge two states by log-sum-exp, and finish a state into
// (out, lse). Decoding over a KvCache (mha/kernels/cached_attention.hpp) runs on its SIMD core;
// sequence-parallel attention runs it on fp32 blocks received from other ranks.
//
//   state: max2 [R], sum [R], acc [R, Dv]        block: q [R, D], k [n, D], v [n, Dv]
//
// A state summarises the keys seen so far for each of R query rows, with logits in base 2
// (x_j = scale·q·k_j·log2 e, so exp(logit) = 2^x and the exponential needs no ln 2 reduction):
//   max2 = max_j x_j,   sum = Σ_j 2^(x_j − max2),   acc = Σ_j 2^(x_j − max2)·v_j
// Attending a block with maximum m_b gives m' = max(max2, m_b), α = 2^(max2 − m'), and
//   sum ← α·sum + Σ_j 2^(x_j − m'),   acc ← α·acc + Σ_j 2^(x_j − m')·v_j,   max2 ← m'
// (FlashAttention, Dao et al. 2022, Algorithm 1). Merging states a and b is the same update with
// b's (max2, sum, acc) standing for its keys; it is exact, not an approximation, and the result
// does not depend on how the keys were split, up to rounding. Finishing gives
//   out = acc / sum,   lse = ln 2 · (max2 + log2 sum)      (natural-log units, as mha::attention)
// and out = 0, lse = −∞ for a row that saw no key (max2 = −∞). The max stays in base 2 between
// blocks on purpose: converting it to natural units and back would round it at |max|'s ulp, and
// with logits near 1e4 that alone shifts a weight by 1e-3 relative.
//
// Keys a row may not see (block.key_begin / key_end) are skipped, never multiplied by 0, so NaN or
// Inf in them cannot reach the state. Everything is fp32; views need unit stride along D and Dv
// (rows may be any distance apart). Nothing is allocated.
#pragma once

#include <span>

#include "mha/core/tensor.hpp"

namespace mha {

struct SoftmaxState {
  TensorView<float> max2;  // [R]     running maximum of the base-2 logits; −∞: no key yet
  TensorView<float> sum;   // [R]     Σ 2^(x − max2)
  TensorView<float> acc;   // [R, Dv] Σ 2^(x − max2)·v
};

struct KeyBlock {
  TensorView<const float> q;  // [R, D]
  TensorView<const float> k;  // [n, D]
  TensorView<const float> v;  // [n, Dv]
  double scale = 1.0;         // usually 1/sqrt(D)
  // Per row: the keys [key_begin[r], key_end[r]) of this block that row r may see (causality,
  // window, padding); both empty = every row sees all n keys.
  std::span<const Index> key_begin{}, key_end{};
};

// max2 ← −∞, sum ← 0, acc ← 0: the state of no keys.
void softmax_state_reset(const SoftmaxState& state);
// state ← state ∪ block (validates shapes: mha::Error naming "state", "q", "k", "v", "key_begin").
void online_softmax_attend(const SoftmaxState& state, const KeyBlock& block);
// state ← state ∪ other.
void online_softmax_merge(const SoftmaxState& state, const SoftmaxState& other);
// out [R, Dv] (any strides) ← acc / sum; lse [R] (optional) ← ln 2·(max2 + log2 sum).
void online_softmax_finish(const SoftmaxState& state, TensorView<float> out, TensorView<float> lse = {});

}  // namespace mha
