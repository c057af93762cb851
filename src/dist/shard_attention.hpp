// One query chunk against one key chunk, each a run of consecutive global rows, with causality in
// global positions; the building block of both algorithms.
//
// Query row i of the chunk sits at global position q_pos + i + shift (shift = Nk − Nq for
// bottom-right alignment, 0 for top-left) and key j at k_pos + j, so causality allows key j
// exactly when j ≤ i + d with d = q_pos + shift − k_pos. That splits the chunk's rows into
//   [0, i0)    no key (i + d < 0):                      out 0, lse −∞
//   [i0, i1)   a prefix of keys [0, i + d]:             causal, bottom-right on keys [0, i1 + d)
//   [i1, nq)   every key (i + d ≥ nk − 1):               not causal
// with i0 = clamp(−d, 0, nq) and i1 = clamp(nk − 1 − d, i0, nq); the middle range is the kernel's
// bottom-right rule because a row i' = i − i0 there has offset (i1 + d) − (i1 − i0) = i0 + d.
#pragma once

#include <functional>

#include "mha/kernels/attention.hpp"

namespace mha::dist {

struct ChunkPair {
  TensorView<const float> q;     // [B, Hq, nq, D]
  TensorView<const float> k, v;  // [B, Hkv, nk, D], [B, Hkv, nk, Dv]
  TensorView<const float> bias;  // [B, nk] additive per key, or undefined
  Index q_pos = 0, k_pos = 0, shift = 0;
  double scale = 1.0;
  bool causal = false;
};

// True when causality hides every key of the pair from every query row.
bool pair_is_masked(const ChunkPair& pair);

// out [B, Hq, nq, Dv] and lse [B, Hq, nq] ← attention of the pair (rows that see no key: 0, −∞).
// The kernel runs on slabs of query rows with `between` called after each, so a caller can drive
// MPI's progress while it computes.
void attend_pair(const ChunkPair& pair, TensorView<float> out, TensorView<float> lse,
                 const Context& ctx, const std::function<void()>& between);

// A view of rows [begin, begin + length) of dimension `dim`.
template <typename T>
TensorView<T> narrow(TensorView<T> view, Index dim, Index begin, Index length) {
  Shape shape = view.shape();
  shape[static_cast<std::size_t>(dim)] = length;
  return TensorView<T>(view.data() + begin * view.stride(dim), shape, view.strides());
}

}  // namespace mha::dist
