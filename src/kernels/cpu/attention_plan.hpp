// What the driver (attention_cpu.cpp) prepares once per call and the SIMD tile code
// (attention_tiles.cpp) reads: tile sizes, keys packed as Kᵀ per key tile, where the values are.
//
//   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]   out: [B, Hq, Lq, Dv]
#pragma once

#include <cstdint>
#include <span>

#include "kernels/cpu/attention_sizes.hpp"
#include "kernels/cpu/key_range.hpp"
#include "mha/kernels/attention.hpp"

namespace mha::cpu {

// Query rows per work item and keys per tile. A tile's working set (Kᵀ 64×128, V 128×64,
// scores 72×128 floats: 100 KiB at D = 64) stays in L2.
inline constexpr Index kQueryTile = 72;
inline constexpr Index kKeyTile = 128;
// Widest vector in floats (AVX-512): Dv and key tiles are padded to multiples of it, so every
// compiled target sees whole vectors.
inline constexpr Index kMaxLanes = 16;
// The register block of the GEMM-like loops (query rows × vectors of columns) is chosen per SIMD
// target in attention_tiles.cpp, for that target's register file. A tile's rows are padded to a
// multiple of the block's rows, so every target's row block must divide kQueryTile (72 allows
// 6, 8, 12, 24 rows); the scratch thus never needs more than kQueryTile rows.

inline Index round_up(Index n, Index multiple) { return (n + multiple - 1) / multiple * multiple; }

struct AttentionPlan : AttentionSizes {
  const AttentionArgs* args = nullptr;
  Index dv_pad = 0;          // Dv rounded up to kMaxLanes
  Index key_tiles = 0;       // ceil(Lk / kKeyTile)
  Index query_tiles = 0;     // ceil(Lq / kQueryTile)
  // scale·log2(e): the tile code keeps scores in base 2 (x₂ = x·log2 e, exp(x) = 2^x₂).
  float scale_log2e = 1.0f;
  KeyVisibility visibility;  // causality and the window
  bool masks_vary_by_row = false;  // some mask has a nonzero stride along Lq

  // Kᵀ per (b, g, key tile): D × kKeyTile floats times scale_log2e, keys beyond Lk zero.
  const float* keys_t = nullptr;
  // Value row j of (b, g): values + b·v_batch + g·v_head + j·v_row, dv_pad readable floats.
  const float* values = nullptr;
  Index v_batch = 0, v_head = 0, v_row = 0;
  // Per (b, g, key tile): 1 when a value in the tile is NaN or ±Inf, so the P·V loop must skip
  // masked keys one by one instead of multiplying them by p = 0.
  const std::uint8_t* tile_has_nonfinite_v = nullptr;

  const float* key_tile(Index b, Index g, Index t) const {
    return keys_t + ((b * kv_heads + g) * key_tiles + t) * d * kKeyTile;
  }
  const float* value_rows(Index b, Index g) const { return values + b * v_batch + g * v_head; }
  bool nonfinite_values(Index b, Index g, Index t) const {
    return tile_has_nonfinite_v[(b * kv_heads + g) * key_tiles + t] != 0;
  }
};

// bias[c] for keys j0 + c, c < width, of row (b, h, i): 0 = allowed, −∞ = blocked by some mask,
// otherwise the sum of the additive terms (tile_masks.cpp).
void mask_row_bias(std::span<const Mask> masks, Index b, Index h, Index i, Index j0, Index width,
                   float* bias);

// The mask terms of row r of a tile of both fast kernels (query rows from i0, keys [j0, j0 +
// width)), kept in `bias` with row pitch `pitch`: null without masks. When no mask varies by
// query row they are computed once, for r = 0, into bias's first row and shared by every row;
// otherwise each row gets its own. Call it for r = 0, 1, … in order.
const float* tile_row_bias(std::span<const Mask> masks, bool vary_by_row, Index b, Index h,
                           Index i0, Index r, Index j0, Index width, float* bias, Index pitch);

// Per-thread scratch for one query tile, owned by the driver (attention_cpu.cpp).
struct TileScratch {
  float* q = nullptr;       // kQueryTile × D: query rows that cannot be read in place, rows beyond Lq zero
  float* s = nullptr;       // kQueryTile × kKeyTile scores, then probabilities
  float* o = nullptr;       // kQueryTile × dv_pad unnormalised output
  float* m = nullptr;       // kQueryTile running row maxima
  float* l = nullptr;       // kQueryTile running row sums
  float* bias = nullptr;    // kQueryTile × kKeyTile mask terms
};

// SIMD entry points, compiled for every target (attention_tiles.cpp).
// A tile kernel computes out (and lse, and weights when asked) for query rows
// [t·kQueryTile, …) of (b, h). select_tile_kernel() picks the best target this CPU runs (or the
// one a test forced) and is called once per attention call, outside the parallel loop.
using TileKernel = void (*)(const AttentionPlan& plan, Index b, Index h, Index t,
                            TileScratch& scratch);
TileKernel select_tile_kernel();
const char* simd_target_name();
// The Highway targets attention_tiles.cpp is compiled for (a mask of HWY_* bits).
std::int64_t compiled_simd_targets();

}  // namespace mha::cpu
