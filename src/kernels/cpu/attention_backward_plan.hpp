// What the backward driver (attention_backward_cpu.cpp) prepares once per call and the SIMD tile
// code (attention_backward_tiles.cpp) reads: tile sizes, the packed operands, the row statistics.
//
//   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]   lse: [B, Hq, Lq]
//
// Every operand of the five products is packed so that it is read as a row-major matrix whose
// rows are whole vectors (zero past the real columns and rows): then each product is one
// register-blocked loop (panel_product-inl.h), the transposed ones included.
#pragma once

#include <cstdint>

#include "kernels/cpu/attention_sizes.hpp"
#include "kernels/cpu/key_range.hpp"
#include "mha/kernels/attention_backward.hpp"

namespace mha::cpu {

// Query rows and keys per tile. A (query tile, key tile) step touches P and dP (64×64 floats
// each), Q and dO rows, K, Kᵀ and Vᵀ of the key tile and the dK, dV accumulators: 128 KiB at
// D = 64, inside L2. 64 is a multiple of every target's panel width (2 vectors of 16 floats),
// so the key axis needs no remainder panel.
inline constexpr Index kBackwardQueryTile = 64;
inline constexpr Index kBackwardKeyTile = 64;

struct BackwardPlan : AttentionSizes {
  const AttentionBackwardArgs* args = nullptr;
  Index d_pad = 0, dv_pad = 0;  // D and Dv rounded up to whole vectors of the widest target
  Index query_tiles = 0, key_tiles = 0;
  float scale = 1.0f;
  KeyVisibility visibility;
  bool masks_vary_by_row = false;  // some mask has a nonzero stride along Lq
  bool dropout = false;

  // Per (b, h), Lq rows. Fully masked rows (lse = −∞) are zero and their lse is +∞, so every
  // p_ij of theirs is exp(−∞) = 0 and they add nothing anywhere, whatever q and dO held.
  const float* queries = nullptr;   // [Lq × d_pad]
  const float* grad_out = nullptr;  // [Lq × dv_pad]
  const float* lse = nullptr;       // [Lq]
  const float* delta = nullptr;     // [Lq], D_i = dO_i·out_i
  // Per (b, g, key tile), keys past Lk zero.
  const float* keys = nullptr;      // K rows: [kBackwardKeyTile × d_pad]
  const float* keys_t = nullptr;    // Kᵀ: [d × kBackwardKeyTile]
  const float* values_t = nullptr;  // Vᵀ: [dv × kBackwardKeyTile]
  // Per (b, g, key tile): 1 when a key holds NaN or ±Inf, so dQ += dS·K must skip the keys with
  // dS = 0 one by one instead of multiplying them by 0.
  const std::uint8_t* keys_nonfinite = nullptr;

  Index row_item(Index b, Index h) const { return b * heads + h; }
  Index key_item(Index b, Index g, Index t) const { return (b * kv_heads + g) * key_tiles + t; }
  const float* query_rows(Index b, Index h) const { return queries + row_item(b, h) * lq * d_pad; }
  const float* grad_out_rows(Index b, Index h) const { return grad_out + row_item(b, h) * lq * dv_pad; }
  const float* key_rows(Index b, Index g, Index t) const {
    return keys + key_item(b, g, t) * kBackwardKeyTile * d_pad;
  }
  const float* key_tile_t(Index b, Index g, Index t) const {
    return keys_t + key_item(b, g, t) * d * kBackwardKeyTile;
  }
  const float* value_tile_t(Index b, Index g, Index t) const {
    return values_t + key_item(b, g, t) * dv * kBackwardKeyTile;
  }
};

// Per-thread scratch, owned by the driver.
struct BackwardScratch {
  float* p = nullptr;     // kBackwardQueryTile × kBackwardKeyTile: P, then P∘Z (dropout)
  float* ds = nullptr;    // same: dP, then dS = scale·P∘(Z∘dP − D)
  float* bias = nullptr;  // same: mask terms
  float* dk = nullptr;    // kBackwardKeyTile × d_pad accumulators
  float* dv = nullptr;    // kBackwardKeyTile × dv_pad accumulators
  // This thread's share of dQ for the (b, h) row items [dq_first, dq_first + n) of the chunk
  // being run: per row item, Lq × d_pad.
  float* dq = nullptr;
  Index dq_first = 0;
  // Per row item of the chunk: whether this thread has added to that part of dQ. A part is zeroed
  // when first touched and only touched parts are summed, so short sequences with many heads
  // clear and read only what each thread used.
  std::uint8_t* dq_touched = nullptr;
};

// SIMD entry points, compiled for every target (attention_backward_tiles.cpp).
struct BackwardKernels {
  // dK and dV of key tile t of (b, g), written to grad_k and grad_v, and this tile's share of dQ
  // added to scratch.dq.
  void (*key_tile)(const BackwardPlan& plan, Index b, Index g, Index t, BackwardScratch& scratch);
  // D_i = Σ_j p_ij z_ij dP_ij for query tile t of (b, h), into delta (the tile's rows),
  // when the caller did not pass the forward's out.
  void (*delta_tile)(const BackwardPlan& plan, Index b, Index h, Index t, BackwardScratch& scratch,
                     float* delta);
};
BackwardKernels select_backward_kernels();

}  // namespace mha::cpu
