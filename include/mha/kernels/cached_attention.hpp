// Attention of new query rows over a KvCache (mha/kernels/kv_cache.hpp): the decoding kernel.
//
//   q: [B, Hq, n, D]   cache: keys [B, Hkv, S_max, D], values [B, Hkv, S_max, Dv], lengths [B]
//   out: [B, Hq, n, Dv]                     lse (optional): [B, Hq, n]
//
// The cache already holds the new tokens' keys (the layer appends before it attends). Sequence b
// has c_b = counts[b] new query rows (counts empty: n for every b) and its query row i < c_b sits
// at position pos(i) = length(b) − c_b + i: bottom-right alignment, so a prefill of many tokens
// and a step of one token are the same call. With g = h / (Hq / Hkv) (grouped-query attention),
//   s_ij = scale · q_i · k_j        for every key j in [0, length(b)) that is allowed
//   out_i = Σ_j softmax_j(s_ij) · v_j,   lse_i = log Σ_j exp(s_ij)
// Key j is allowed unless causality (j > pos(i)) or the sliding window (j < pos(i) − window_left)
// exclude it. For cross-attention to an encoder memory held in a cache, causal = false and every
// one of the length(b) keys is allowed. Rows i >= c_b (padding of a shorter sequence) and rows
// with no allowed key give out = 0 and lse = −∞, as mha::attention does.
//
// The reference kernel widens every cached element to float64 and is the oracle. The cpu kernel
// is built for memory bandwidth: a step of few rows reads each cached key and value once for all
// the query heads of its group, and splits the keys of a (sequence, kv head) across threads when
// there are fewer of those than threads (Flash-Decoding), merging the parts exactly by
// log-sum-exp. Deterministic for a given thread count. Allocates nothing when ctx lends a
// workspace that already grew to the call's size.
#pragma once

#include <span>

#include "mha/core/context.hpp"
#include "mha/core/tensor.hpp"
#include "mha/kernels/kv_cache.hpp"

namespace mha {

struct CachedAttentionArgs {
  TensorView<const float> q;          // [B, Hq, n, D], any strides
  const KvCache* cache = nullptr;
  std::span<const Index> counts{};    // rows per sequence, in [0, n] (and <= length(b) when causal or windowed); empty = n
  TensorView<float> out;              // [B, Hq, n, Dv], any strides; may be q itself when Dv = D
  TensorView<float> lse;              // optional
  double scale = 1.0;                 // usually 1/sqrt(D)
  bool causal = true;
  Index window_left = -1;             // −1 = unlimited
};

// Validates (mha::Error naming the argument: "q", "out", "lse", "counts", "cache", "scale",
// "window_left") and runs the kernel ctx.kernel picks.
void cached_attention(const CachedAttentionArgs& args, const Context& ctx = {});

}  // namespace mha
