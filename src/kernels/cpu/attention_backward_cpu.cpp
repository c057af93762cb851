// Driver of the fast attention backward: packs every operand once per call (O(N·D) memory, the
// N×N probabilities are recomputed tile by tile from lse and never stored), then runs the
// (batch, kv head, key tile) work items on OpenMP threads. The SIMD work lives in
// attention_backward_tiles.cpp.
//
// Threads own key tiles, so dK and dV are written by one thread each; dQ gets a share from every
// key tile, so each thread adds into its own dQ copy and the copies are summed in thread order
// (per chunk of (batch, kv head) pairs when all the copies would pass kMaxDqShareBytes). The
// static schedule fixes which thread runs which item: for a given thread count every result is
// bit-identical from call to call; dK and dV also match across thread counts, dQ to rounding
// (its sum is split differently).
#include "kernels/cpu/attention_backward_cpu.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include "kernels/cpu/attention_backward_plan.hpp"
#include "kernels/cpu/attention_plan.hpp"
#include "kernels/cpu/scaled_transpose.hpp"
#include "mha/core/workspace.hpp"
#include "mha/kernels/cpu_info.hpp"

namespace mha {
namespace {

using cpu::BackwardPlan;
using cpu::kBackwardKeyTile;
using cpu::kBackwardQueryTile;
using cpu::kMaxLanes;
using cpu::round_up;

// Every buffer of one call, carved from the workspace's attention_backward slot (64-byte aligned
// pieces): a caller that lends a workspace (training steps, the benchmark) pays for the pages
// once, not per call — at (8, 512, 8, 64) fresh pages were 45 % of the time (perf).
struct BackwardBuffers {
  float *queries, *grad_out, *lse, *delta, *keys, *keys_t, *values_t;
  std::uint8_t* keys_nonfinite;
  float* per_thread;         // threads × thread_floats
  Index thread_floats = 0;   // one thread's tiles, dK and dV accumulators, dQ share and flags
  Index chunk_pairs = 0;     // (batch, kv head) pairs per chunk
  Index dq_floats = 0;       // one dQ share: chunk_pairs·group·Lq·d_pad
};

// Rows of (b, h): Q and dO packed with zero padding, lse (+∞ for padded and fully masked rows,
// whose Q and dO are zeroed: they add nothing, whatever they held), and D_i = dO_i·out_i when the
// forward's out was given.
void pack_rows(const BackwardPlan& p, Index b, Index h, BackwardBuffers& buf) {
  const AttentionBackwardArgs& a = *p.args;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const Index item = p.row_item(b, h);
  float* q = buf.queries + item * p.lq * p.d_pad;
  float* dout = buf.grad_out + item * p.lq * p.dv_pad;
  float* lse = buf.lse + item * p.lq;
  float* delta = buf.delta + item * p.lq;
  std::fill(q, q + p.lq * p.d_pad, 0.0f);
  std::fill(dout, dout + p.lq * p.dv_pad, 0.0f);
  std::fill(lse, lse + p.lq, kInf);
  std::fill(delta, delta + p.lq, 0.0f);
  for (Index i = 0; i < p.lq; ++i) {
    const float row_lse = a.lse(b, h, i);
    if (row_lse == -kInf) continue;  // fully masked: a constant output, no gradient
    lse[i] = row_lse;
    for (Index c = 0; c < p.d; ++c) q[i * p.d_pad + c] = a.q(b, h, i, c);
    for (Index c = 0; c < p.dv; ++c) dout[i * p.dv_pad + c] = a.grad_out(b, h, i, c);
    if (!a.out.defined()) continue;
    double dot = 0.0;
    for (Index c = 0; c < p.dv; ++c)
      dot += static_cast<double>(a.grad_out(b, h, i, c)) * static_cast<double>(a.out(b, h, i, c));
    delta[i] = static_cast<float>(dot);
  }
}

// Key tile t of (b, g): K rows, Kᵀ and Vᵀ, zero past Lk, and whether a key holds NaN or Inf.
void pack_key_tile(const BackwardPlan& p, Index b, Index g, Index t, BackwardBuffers& buf) {
  const AttentionBackwardArgs& a = *p.args;
  const Index item = p.key_item(b, g, t);
  float* keys = buf.keys + item * kBackwardKeyTile * p.d_pad;
  float* keys_t = buf.keys_t + item * p.d * kBackwardKeyTile;
  float* values_t = buf.values_t + item * p.dv * kBackwardKeyTile;
  std::fill(keys, keys + kBackwardKeyTile * p.d_pad, 0.0f);
  std::fill(keys_t, keys_t + p.d * kBackwardKeyTile, 0.0f);
  std::fill(values_t, values_t + p.dv * kBackwardKeyTile, 0.0f);
  const Index j0 = t * kBackwardKeyTile;
  const Index width = std::min(kBackwardKeyTile, p.lk - j0);
  bool nonfinite = false;
  for (Index r = 0; r < width; ++r)
    for (Index c = 0; c < p.d; ++c) {
      const float x = a.k(b, g, j0 + r, c);
      nonfinite = nonfinite || !std::isfinite(x);
      keys[r * p.d_pad + c] = x;
    }
  const auto first_row = [&](const TensorView<const float>& view) {
    return view.data() + b * view.stride(0) + g * view.stride(1) + j0 * view.stride(2);
  };
  cpu::scaled_transpose(first_row(a.k), a.k.stride(2), a.k.stride(3), width, p.d, 1.0f, keys_t,
                        kBackwardKeyTile);
  cpu::scaled_transpose(first_row(a.v), a.v.stride(2), a.v.stride(3), width, p.dv, 1.0f, values_t,
                        kBackwardKeyTile);
  buf.keys_nonfinite[static_cast<std::size_t>(item)] = nonfinite ? 1 : 0;
}

// Where a thread's dQ share starts within its piece.
Index dq_offset(const BackwardPlan& plan) {
  return 3 * kBackwardQueryTile * kBackwardKeyTile + kBackwardKeyTile * (plan.d_pad + plan.dv_pad);
}

BackwardPlan make_plan(const AttentionBackwardArgs& a, int threads, Index max_dq_share_bytes,
                       Workspace& workspace, BackwardBuffers& buf) {
  BackwardPlan p;
  static_cast<cpu::AttentionSizes&>(p) = cpu::AttentionSizes::of(a.q, a.k, a.v);
  p.args = &a;
  p.d_pad = round_up(std::max<Index>(p.d, 1), kMaxLanes);
  p.dv_pad = round_up(std::max<Index>(p.dv, 1), kMaxLanes);
  p.query_tiles = (p.lq + kBackwardQueryTile - 1) / kBackwardQueryTile;
  p.key_tiles = (p.lk + kBackwardKeyTile - 1) / kBackwardKeyTile;
  p.scale = static_cast<float>(a.params.scale);
  p.visibility = cpu::KeyVisibility::of(a.params, p.lq, p.lk);
  p.masks_vary_by_row = cpu::masks_vary_by_row(a.params.masks);
  p.dropout = a.dropout.rate > 0.0;

  const Index row_items = p.batch * p.heads, key_items = p.batch * p.kv_heads * p.key_tiles;
  const Index pair_bytes = threads * p.group * p.lq * p.d_pad * Index{sizeof(float)};
  buf.chunk_pairs = std::clamp<Index>(max_dq_share_bytes / std::max<Index>(pair_bytes, 1), 1,
                                      std::max<Index>(p.batch * p.kv_heads, 1));
  const Index chunk_rows = buf.chunk_pairs * p.group;
  buf.dq_floats = chunk_rows * p.lq * p.d_pad;
  buf.thread_floats = dq_offset(p) + round_up(buf.dq_floats + (chunk_rows + 3) / 4, kMaxLanes);
  const Index sizes[] = {row_items * p.lq * p.d_pad,     row_items * p.lq * p.dv_pad,
                         row_items * p.lq,               row_items * p.lq,
                         key_items * kBackwardKeyTile * p.d_pad, key_items * p.d * kBackwardKeyTile,
                         key_items * p.dv * kBackwardKeyTile, (key_items + 3) / 4,
                         threads * buf.thread_floats};
  Index total = 0;
  for (const Index size : sizes) total += round_up(size, kMaxLanes);
  float* next = workspace.get<float>(Workspace::Slot::attention_backward, total);
  float* pieces[std::size(sizes)];
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    pieces[i] = next;
    next += round_up(sizes[i], kMaxLanes);
  }
  buf.queries = pieces[0];
  buf.grad_out = pieces[1];
  buf.lse = pieces[2];
  buf.delta = pieces[3];
  buf.keys = pieces[4];
  buf.keys_t = pieces[5];
  buf.values_t = pieces[6];
  buf.keys_nonfinite = reinterpret_cast<std::uint8_t*>(pieces[7]);
  buf.per_thread = pieces[8];
  p.queries = buf.queries;
  p.grad_out = buf.grad_out;
  p.lse = buf.lse;
  p.delta = buf.delta;
  p.keys = buf.keys;
  p.keys_t = buf.keys_t;
  p.values_t = buf.values_t;
  p.keys_nonfinite = buf.keys_nonfinite;
  return p;
}

// Thread `thread`'s dQ share and its touched flags (one per row item of a chunk).
float* dq_share(const BackwardPlan& plan, const BackwardBuffers& buf, int thread) {
  return buf.per_thread + thread * buf.thread_floats + dq_offset(plan);
}
std::uint8_t* dq_touched(const BackwardPlan& plan, const BackwardBuffers& buf, int thread) {
  return reinterpret_cast<std::uint8_t*>(dq_share(plan, buf, thread) + buf.dq_floats);
}

// Thread `thread`'s tiles (P, dS, mask terms), dK and dV accumulators, and its dQ share for the
// chunk whose first row item is dq_first, all flagged untouched.
cpu::BackwardScratch thread_scratch(const BackwardPlan& plan, const BackwardBuffers& buf, int thread,
                                    Index dq_first) {
  constexpr Index kTile = kBackwardQueryTile * kBackwardKeyTile;
  float* base = buf.per_thread + thread * buf.thread_floats;
  cpu::BackwardScratch sc{base, base + kTile, base + 2 * kTile, base + 3 * kTile,
                          base + 3 * kTile + kBackwardKeyTile * plan.d_pad,
                          dq_share(plan, buf, thread), dq_first, dq_touched(plan, buf, thread)};
  std::fill(sc.bias, sc.bias + kTile, 0.0f);  // columns past a tile's width are read
  std::fill(sc.dq_touched, sc.dq_touched + buf.chunk_pairs * plan.group, std::uint8_t{0});
  return sc;
}

}  // namespace

void attention_backward_cpu(const AttentionBackwardArgs& args, const Context& ctx,
                            Index max_dq_share_bytes) {
  const int threads = cpu_threads(ctx);
  Workspace own;
  BackwardBuffers buf{};
  const BackwardPlan plan =
      make_plan(args, threads, max_dq_share_bytes, *with_workspace(ctx, own).workspace, buf);
  const cpu::BackwardKernels kernels = cpu::select_backward_kernels();
  const Index row_items = plan.batch * plan.heads;
  const Index key_items = plan.batch * plan.kv_heads * plan.key_tiles;

#pragma omp parallel for schedule(static) num_threads(threads)
  for (Index item = 0; item < row_items; ++item) pack_rows(plan, item / plan.heads, item % plan.heads, buf);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (Index item = 0; item < key_items; ++item)
    pack_key_tile(plan, item / plan.key_tiles / plan.kv_heads, item / plan.key_tiles % plan.kv_heads,
                  item % plan.key_tiles, buf);

  if (!args.out.defined()) {  // D_i = Σ_j p_ij z_ij dP_ij, one pass over the query tiles
#pragma omp parallel num_threads(threads)
    {
      cpu::BackwardScratch scratch = thread_scratch(plan, buf, omp_get_thread_num(), 0);
#pragma omp for schedule(dynamic)
      for (Index item = 0; item < row_items * plan.query_tiles; ++item) {
        const Index row_item = item / plan.query_tiles, t = item % plan.query_tiles;
        kernels.delta_tile(plan, row_item / plan.heads, row_item % plan.heads, t, scratch,
                           buf.delta + row_item * plan.lq + t * kBackwardQueryTile);
      }
    }
  }

  // Work items (b, g, key tile), dealt out one at a time in turn: with causality a key tile's
  // work falls with its index, and dealing in turn gives each thread a mix of heavy and light.
  const Index pairs = plan.batch * plan.kv_heads;
  for (Index pair0 = 0; pair0 < pairs; pair0 += buf.chunk_pairs) {
    const Index pair1 = std::min(pairs, pair0 + buf.chunk_pairs);
    const Index first_row = pair0 * plan.group;  // row item b·Hq + h of the chunk's first head
    int team = 1;
#pragma omp parallel num_threads(threads)
    {
#pragma omp single
      team = omp_get_num_threads();
      cpu::BackwardScratch scratch = thread_scratch(plan, buf, omp_get_thread_num(), first_row);
#pragma omp for schedule(static, 1)
      for (Index item = pair0 * plan.key_tiles; item < pair1 * plan.key_tiles; ++item)
        kernels.key_tile(plan, item / plan.key_tiles / plan.kv_heads,
                         item / plan.key_tiles % plan.kv_heads, item % plan.key_tiles, scratch);
    }

    // The chunk's grad_q = the threads' dQ shares summed, always in thread order (0 where no key
    // is visible).
    const TensorView<float>& gq = args.grad_q;
    const Index rows = (pair1 - pair0) * plan.group * plan.lq;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (Index row = 0; row < rows; ++row) {
      const Index share_item = row / plan.lq, i = row % plan.lq;
      const Index b = (first_row + share_item) / plan.heads, h = (first_row + share_item) % plan.heads;
      float* dst = gq.data() + b * gq.stride(0) + h * gq.stride(1) + i * gq.stride(2);
      for (Index c = 0; c < plan.d; ++c) dst[c * gq.stride(3)] = 0.0f;
      for (int thread = 0; thread < team; ++thread) {
        if (dq_touched(plan, buf, thread)[share_item] == 0) continue;
        const float* share = dq_share(plan, buf, thread) + row * plan.d_pad;
        for (Index c = 0; c < plan.d; ++c) dst[c * gq.stride(3)] += share[c];
      }
    }
  }
}

}  // namespace mha
