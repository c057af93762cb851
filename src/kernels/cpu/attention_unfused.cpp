// Driver of the unfused path (attention_unfused.hpp): chunks of (batch, kv head) pairs, each
// through Q·Kᵀ (oneDNN), the softmax pass (OpenMP threads × SIMD, attention_unfused_rows.cpp)
// and P·V (oneDNN). Heads of one GQA group share their K and V through a broadcast batch
// dimension, so every operand is read in place through its strides:
//
//   Q   [nb, ng, G, Lq, D]    (q's strides; head h = g·G + r)
//   Kᵀ  [nb, ng, 1, D, Lk]    (k's strides, last two swapped)
//   S   [nb, ng, G, Lq, Lk]   (dense, rows padded to whole vectors: the softmax pass reads them so)
//   V   [nb, ng, 1, Lk, Dv]   out [nb, ng, G, Lq, Dv]
#include "kernels/cpu/attention_unfused.hpp"

#include <omp.h>

#include <algorithm>
#include <numbers>

#include "kernels/cpu/attention_plan.hpp"
#include "kernels/cpu/onednn_matmul.hpp"
#include "mha/core/workspace.hpp"
#include "mha/kernels/cpu_info.hpp"

namespace mha::cpu {
namespace {

// Query rows per softmax work item: enough items to share among threads when there are few
// heads, and the mask row of a broadcast mask is read once per item.
constexpr Index kRowsPerItem = 32;

// [nb, ng, G, L, W] view of a [B, H, L, W] tensor whose head h = g·G + r (G = 1 for k and v,
// whose dimension of size 1 broadcasts over the group).
struct Grouped {
  std::vector<Index> dims, strides;
};

template <class T>
Grouped grouped(const TensorView<T>& t, Index nb, Index ng, Index group, bool transpose) {
  const Index rows = t.dim(2), cols = t.dim(3);
  Grouped g{{nb, ng, group, rows, cols},
            {t.stride(0), t.stride(1) * group, t.stride(1), t.stride(2), t.stride(3)}};
  if (transpose) {
    std::swap(g.dims[3], g.dims[4]);
    std::swap(g.strides[3], g.strides[4]);
  }
  return g;
}

}  // namespace

Index score_pitch(Index lk) { return round_up(lk, kMaxLanes); }

void attention_unfused(const AttentionArgs& a, const Context& ctx) {
  const AttentionSizes n = AttentionSizes::of(a.q, a.k, a.v);
  if (n.batch * n.heads * n.lq == 0) return;
  const int threads = cpu_threads(ctx);
  const Index pitch = score_pitch(n.lk);
  const Index pair_floats = n.group * n.lq * pitch;
  const Index pairs = std::max<Index>(1, kMaxScoreBytes / (pair_floats * Index{sizeof(float)}));
  const Index nb = pairs >= n.kv_heads ? std::min(n.batch, pairs / n.kv_heads) : 1;
  const Index ng = pairs >= n.kv_heads ? n.kv_heads : pairs;

  Workspace own;
  Workspace& workspace = *with_workspace(ctx, own).workspace;
  float* scores = workspace.get<float>(Workspace::Slot::unfused_scores, nb * ng * pair_floats + threads * pitch);
  float* bias_rows = scores + nb * ng * pair_floats;  // one row per thread, zero past Lk
  std::fill(bias_rows, bias_rows + threads * pitch, 0.0f);

  const KeyVisibility visibility = KeyVisibility::of(a.params, n.lq, n.lk);
  const bool vary_by_row = masks_vary_by_row(a.params.masks);
  const auto scale_log2e = static_cast<float>(a.params.scale * std::numbers::log2e);

  for (Index b0 = 0; b0 < n.batch; b0 += nb)
    for (Index g0 = 0; g0 < n.kv_heads; g0 += ng) {
      const Index cb = std::min(nb, n.batch - b0), cg = std::min(ng, n.kv_heads - g0);
      const Index h0 = g0 * n.group;
      const Grouped q = grouped(a.q, cb, cg, n.group, false);
      const Grouped kt = grouped(a.k, cb, cg, 1, true);
      const Grouped v = grouped(a.v, cb, cg, 1, false);
      const Grouped out = grouped(a.out, cb, cg, n.group, false);
      const std::vector<Index> s_dims = {cb, cg, n.group, n.lq, n.lk};
      const std::vector<Index> s_strides = {cg * pair_floats, pair_floats, n.lq * pitch, pitch, 1};

      run_matmul({.src_dims = q.dims, .src_strides = q.strides, .weights_dims = kt.dims,
                  .weights_strides = kt.strides, .dst_dims = s_dims, .dst_strides = s_strides,
                  .bias = false, .scale = scale_log2e, .threads = threads},
                 a.q.data() + b0 * a.q.stride(0) + h0 * a.q.stride(1),
                 a.k.data() + b0 * a.k.stride(0) + g0 * a.k.stride(1), nullptr, scores, workspace);

      const Index row_items = (n.lq + kRowsPerItem - 1) / kRowsPerItem;
      const Index items = cb * cg * n.group * row_items;
#pragma omp parallel for schedule(static) num_threads(threads)
      for (Index item = 0; item < items; ++item) {
        const Index head = item / row_items;  // within the chunk: (b - b0)·cg·G + (h - h0)
        const Index i0 = item % row_items * kRowsPerItem;
        const Index b = b0 + head / (cg * n.group), h = h0 + head % (cg * n.group);
        softmax_score_rows({.args = &a, .visibility = visibility, .masks_vary_by_row = vary_by_row,
                            .b = b, .h = h, .i0 = i0, .rows = std::min(kRowsPerItem, n.lq - i0),
                            .lk = n.lk, .s = scores + (head * n.lq + i0) * pitch, .pitch = pitch,
                            .bias = bias_rows + omp_get_thread_num() * pitch});
      }

      run_matmul({.src_dims = s_dims, .src_strides = s_strides, .weights_dims = v.dims,
                  .weights_strides = v.strides, .dst_dims = out.dims, .dst_strides = out.strides,
                  .bias = false, .scale = 1.0f, .threads = threads},
                 scores, a.v.data() + b0 * a.v.stride(0) + g0 * a.v.stride(1), nullptr,
                 a.out.data() + b0 * a.out.stride(0) + h0 * a.out.stride(1), workspace);
    }
}

}  // namespace mha::cpu
