// Driver of the fast CPU kernel. The measured rule of attention_path.hpp sends short key rows to
// the unfused path (attention_unfused.hpp); everything else runs fused here. This driver prepares the per-call plan (keys packed as Kᵀ tiles, values
// padded when their rows are not whole vectors), then runs the (batch, head, query tile) work
// items on OpenMP threads. The SIMD work lives in attention_tiles.cpp.
//
//   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]   out: [B, Hq, Lq, Dv]
//
// Memory is O(N·D): the packed keys (and values when padded), held in the caller's workspace
// slots, plus one small tile scratch per thread; the N×N scores are never stored.
#include "kernels/cpu/attention_cpu.hpp"

#include <omp.h>

#include <algorithm>
#include <numbers>

#include "hwy/aligned_allocator.h"
#include "kernels/cpu/attention_path.hpp"
#include "kernels/cpu/attention_plan.hpp"
#include "kernels/cpu/finite_rows.hpp"
#include "kernels/cpu/scaled_transpose.hpp"
#include "kernels/cpu/attention_unfused.hpp"
#include "mha/kernels/cpu_info.hpp"
#include "mha/core/workspace.hpp"

namespace mha {
namespace {

using cpu::AttentionPlan;
using cpu::kKeyTile;
using cpu::kMaxLanes;
using cpu::kQueryTile;
using cpu::round_up;

template <class T>
hwy::AlignedFreeUniquePtr<T[]> allocate(Index count) {
  return hwy::AllocateAligned<T>(static_cast<std::size_t>(std::max<Index>(count, 1)));
}

// Kᵀ tile (b, g, t)[x][c] = factor·k(b, g, t·kKeyTile + c, x), zero for keys past Lk, so the
// score loop reads whole vectors of keys for one feature x. factor = scale·log2 e makes the score
// loop's output the base-2 logit (attention_tiles.cpp); folding it into Kᵀ, packed once per call,
// rather than into each query tile lets the query rows be read in place.
void pack_key_tile(const TensorView<const float>& k, Index b, Index g, Index t, Index d,
                   float factor, float* dst) {
  const Index j0 = t * kKeyTile;
  const Index width = std::min(kKeyTile, k.dim(2) - j0);
  if (width < kKeyTile)
    for (Index x = 0; x < d; ++x) std::fill(dst + x * kKeyTile + width, dst + (x + 1) * kKeyTile, 0.0f);
  cpu::scaled_transpose(k.data() + b * k.stride(0) + g * k.stride(1) + j0 * k.stride(2), k.stride(2),
                        k.stride(3), width, d, factor, dst, kKeyTile);
}

// The packed keys, values and flags live in the workspace's kernel slots (reused by the next
// call when the caller lends a workspace).
AttentionPlan make_plan(const AttentionArgs& a, int threads, Workspace& workspace) {
  AttentionPlan p;
  static_cast<cpu::AttentionSizes&>(p) = cpu::AttentionSizes::of(a.q, a.k, a.v);
  p.args = &a;
  p.dv_pad = round_up(std::max<Index>(p.dv, 1), kMaxLanes);
  p.key_tiles = (p.lk + kKeyTile - 1) / kKeyTile;
  p.query_tiles = (p.lq + kQueryTile - 1) / kQueryTile;
  p.scale_log2e = static_cast<float>(a.params.scale * std::numbers::log2e);
  p.visibility = cpu::KeyVisibility::of(a.params, p.lq, p.lk);
  p.masks_vary_by_row = cpu::masks_vary_by_row(a.params.masks);

  // Values are packed into dense rows when their rows are not already dense (the layer's V is a
  // column slice of the fused QKV output, rows 3·E apart, and the P·V loop walking down such rows
  // defeats the prefetcher and the TLB) unless the copy would pass kMaxPackedValueBytes: for very
  // long sequences memory wins, and rows that are whole vectors are then read where they are.
  constexpr Index kMaxPackedValueBytes = Index{64} << 20;
  const Index kv_items = p.batch * p.kv_heads;
  const bool rows_are_vectors = a.v.stride(3) == 1 && p.dv % kMaxLanes == 0;
  const bool rows_are_dense = rows_are_vectors && a.v.stride(2) == p.dv;
  const bool copy_fits = kv_items * p.lk * p.dv_pad * Index{sizeof(float)} <= kMaxPackedValueBytes;
  const bool values_in_place = rows_are_dense || (rows_are_vectors && !copy_fits);
  const Index tile_items = kv_items * p.key_tiles;
  float* keys_t = workspace.get<float>(Workspace::Slot::packed_keys, tile_items * p.d * kKeyTile);
  std::uint8_t* nonfinite = workspace.get<std::uint8_t>(Workspace::Slot::value_flags, tile_items);
  float* values = values_in_place
                      ? nullptr
                      : workspace.get<float>(Workspace::Slot::packed_values, kv_items * p.lk * p.dv_pad);

#pragma omp parallel for schedule(static) num_threads(threads)
  for (Index item = 0; item < tile_items; ++item) {
    const Index t = item % p.key_tiles;
    const Index g = item / p.key_tiles % p.kv_heads;
    const Index b = item / p.key_tiles / p.kv_heads;
    const Index j0 = t * kKeyTile;
    const Index width = std::min(kKeyTile, p.lk - j0);
    pack_key_tile(a.k, b, g, t, p.d, p.scale_log2e, keys_t + item * p.d * kKeyTile);
    const float* value_rows = a.v.data() + b * a.v.stride(0) + g * a.v.stride(1) + j0 * a.v.stride(2);
    nonfinite[item] = cpu::rows_all_finite(value_rows, width, a.v.stride(2), p.dv, a.v.stride(3)) ? 0 : 1;
    if (values_in_place) continue;
    float* dst = values + ((b * p.kv_heads + g) * p.lk + j0) * p.dv_pad;
    const float* src = a.v.data() + b * a.v.stride(0) + g * a.v.stride(1);
    for (Index j = j0; j < j0 + width; ++j, dst += p.dv_pad)
      for (Index c = 0; c < p.dv_pad; ++c)
        dst[c] = c < p.dv ? src[j * a.v.stride(2) + c * a.v.stride(3)] : 0.0f;
  }

  p.keys_t = keys_t;
  p.tile_has_nonfinite_v = nonfinite;
  if (values_in_place) {
    p.values = a.v.data();
    p.v_batch = a.v.stride(0);
    p.v_head = a.v.stride(1);
    p.v_row = a.v.stride(2);
  } else {
    p.values = values;
    p.v_batch = p.kv_heads * p.lk * p.dv_pad;
    p.v_head = p.lk * p.dv_pad;
    p.v_row = p.dv_pad;
  }
  return p;
}

}  // namespace

void attention_cpu(const AttentionArgs& args, const Context& ctx) {
  if (cpu::choose_attention_path(args, ctx, /*explain=*/false).path == AttentionPath::unfused)
    return cpu::attention_unfused(args, ctx);
  const int threads = cpu_threads(ctx);
  Workspace own;
  const AttentionPlan plan = make_plan(args, threads, *with_workspace(ctx, own).workspace);
  const Index items = plan.batch * plan.heads * plan.query_tiles;

  const cpu::TileKernel attend_query_tile = cpu::select_tile_kernel();
#pragma omp parallel num_threads(threads)
  {
    // One tile scratch per thread, reused across its work items.
    auto q = allocate<float>(kQueryTile * plan.d);
    auto s = allocate<float>(kQueryTile * kKeyTile);
    auto o = allocate<float>(kQueryTile * plan.dv_pad);
    auto m = allocate<float>(kQueryTile);
    auto l = allocate<float>(kQueryTile);
    auto bias = allocate<float>(kQueryTile * kKeyTile);
    std::fill(bias.get(), bias.get() + kQueryTile * kKeyTile, 0.0f);
    cpu::TileScratch scratch{q.get(), s.get(), o.get(), m.get(), l.get(), bias.get()};
    // Dynamic: causal and windowed tiles differ in cost. Query tiles go last to first, so the
    // causal tiles that see the most keys start first and the cheap ones fill the end.
#pragma omp for schedule(dynamic)
    for (Index item = 0; item < items; ++item) {
      const Index t = plan.query_tiles - 1 - item % plan.query_tiles;
      const Index h = item / plan.query_tiles % plan.heads;
      const Index b = item / plan.query_tiles / plan.heads;
      attend_query_tile(plan, b, h, t, scratch);
    }
  }
}

int cpu_threads(const Context& ctx) { return ctx.threads > 0 ? ctx.threads : omp_get_max_threads(); }

std::string_view cpu_simd_target() { return cpu::simd_target_name(); }

}  // namespace mha
