// The SIMD heart of the fast CPU kernel: one query tile of one head, streamed over key tiles with
// the online softmax (FlashAttention, Dao et al. 2022, Algorithm 1), never storing N×N scores.
//
//   q: [B, Hq, Lq, D]   Kᵀ tiles: [D, kKeyTile]   v rows: [Lk, dv_pad]   out: [B, Hq, Lq, Dv]
//
// Per key tile, for the rows i of the query tile, with logits kept in base 2 (x = logit·log2 e,
// so exp(logit) = 2^x and the exponential needs no range reduction by ln 2). The Kᵀ tiles are
// packed once per call already multiplied by scale·log2 e (attention_cpu.cpp), so the score
// loop's output is the base-2 logit and needs no pass of its own, and the query rows are read
// where they are (a copy only for the last, ragged tile or strided features):
//   x_ij = Q_i·K'_j + bias_ij·log2 e, −∞ if masked   (K' = scale·log2 e·K; a register-blocked
//                                                     outer-product loop, then mask terms,
//                                                     causality, window, padding where present)
//   m'_i = max(m_i, max_j x_ij),  α_i = 2^(m_i − m'_i)
//   P_ij = 2^(x_ij − m'_i),       l_i ← α_i·l_i + Σ_j P_ij,   O_i ← α_i·O_i + Σ_j P_ij·V_j
// and at the end out_i = O_i·(1/l_i), lse_i = ln 2·(m_i + log2 l_i) (0 and −∞ for a fully masked
// row). Weights, when asked, come from a second pass over the same tiles:
// P_ij = 2^(x_ij − m_i) / l_i with the saved row statistics. (Equal to exp(logit_ij − lse_i), but
// m_i is one rounded score while lse_i rounds at |m_i|'s ulp: with logits near 1e4 that alone is
// a 1e-5 error.)
//
// Compiled once per SIMD target by Highway's foreach_target; select_tile_kernel() at the bottom
// is the one place that picks the target at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/attention_tiles.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <cstddef>
#include <cmath>
#include <limits>
#include <numbers>

#include "hwy/highway.h"
#include "kernels/cpu/attention_plan.hpp"
#include "kernels/cpu/exp2-inl.h"
#include "kernels/cpu/panel_product-inl.h"
#include "kernels/cpu/softmax_row-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

HWY_INLINE Index lanes() { return static_cast<Index>(hn::Lanes(DF())); }

using VF = hn::Vec<DF>;

// Query rows per register block: the shared tile-product block (panel_product-inl.h, chosen per
// target there). Scratch rows are padded to a multiple of it.
constexpr Index kRowBlock = panel::kPanelRows;
static_assert(kQueryTile % kRowBlock == 0, "a padded query tile must fit the scratch rows");

// One kRowBlock-row block of a tile product at column c0 (A row-major with pitch a_row).
// With row_max, the block also folds its columns into each row's running maxima (panel::Operands).
template <int kVectors>
HWY_INLINE void block_product(const float* a, Index a_row, const float* b, Index b_row, Index depth,
                              float* c, Index c_row, bool accumulate, Index c0,
                              float* row_max = nullptr) {
  panel::block<kRowBlock, kVectors>({.a = a, .a_row = a_row, .a_col = 1, .b = b, .b_row = b_row,
                                     .depth = depth, .c = c, .c_row = c_row, .accumulate = accumulate,
                                     .row_max = row_max},
                                    0, c0);
}

// The same block, narrowed to its first `vectors` (≤ kVectors) vectors of columns.
template <int kVectors>
HWY_INLINE void block_product_narrowed(Index vectors, const float* a, Index a_row, const float* b,
                                       Index b_row, Index depth, float* c, Index c_row, Index c0,
                                       float* row_max) {
  if constexpr (kVectors > 1)
    if (vectors < kVectors)
      return block_product_narrowed<kVectors - 1>(vectors, a, a_row, b, b_row, depth, c, c_row, c0,
                                                  row_max);
  block_product<kVectors>(a, a_row, b, b_row, depth, c, c_row, /*accumulate=*/false, c0, row_max);
}

// S[r][c] = Σ_x Q[r][x]·Kᵀ[x][c] for r < rows (a multiple of kRowBlock; Q row r at q + r·q_row,
// its features contiguous); row block rb needs only its first block_keys[rb] columns (causality:
// later keys are masked for every row of the block), rounded up to whole vectors: a panel the
// bound cuts runs a block of just the vectors it needs (on the causal diagonal that trims the
// score products from 0.519 to 0.506 of the dense work at N = 2048). Column panels outside, row
// blocks inside: one panel of Kᵀ (D × one panel, 16 KiB at D = 64 with AVX-512) stays in L1
// while the query rows pass over it. row_max[r·lanes …] (−∞ on entry) ends as the lane-wise
// maxima of the columns computed for row r.
void scores(const float* q, Index q_row, Index d, const float* keys_t, Index rows,
            const Index* block_keys, float* s, float* row_max) {
  const Index blocks = rows / kRowBlock;
  const Index n = lanes();
  const Index max_cols = round_up(*std::max_element(block_keys, block_keys + blocks), n);
  for_each_column_panel(max_cols, [&]<int kVectors>(Index c0) {
    for (Index rb = 0; rb < blocks; ++rb) {
      if (c0 >= block_keys[rb]) continue;
      const Index vectors = (block_keys[rb] - c0 + n - 1) / n;
      block_product_narrowed<kVectors>(vectors, q + rb * kRowBlock * q_row, q_row, keys_t,
                                       kKeyTile, d, s + rb * kRowBlock * kKeyTile, kKeyTile, c0,
                                       row_max + rb * kRowBlock * n);
    }
  });
}

// mask_row, exp_shifted_row, scale_row, zero_row: softmax_row-inl.h (shared with the unfused
// path's whole rows).
using softmax_row::exp_shifted_row;
using softmax_row::mask_row;
using softmax_row::masks_positions;
using softmax_row::scale_row;
using softmax_row::zero_row;

// One row's online-softmax step over a scaled, masked score row x (see the top of the file).
void online_softmax_row(float* s, Index cols, float row_max, float& m, float& l, float* o,
                        Index dv_pad) {
  const float m_new = std::max(m, row_max);
  if (m_new == kNegInf) {  // nothing visible yet: P = 0, O and l stay 0
    zero_row(s, cols);
    return;
  }
  // 0 on the first visible tile (m = −∞); 1, without a call, while the maximum stands.
  const float alpha = m == m_new ? 1.0f : std::exp2(m - m_new);
  const float tile_sum = exp_shifted_row(s, cols, m_new);
  l = alpha * l + tile_sum;
  if (alpha != 1.0f) scale_row(o, dv_pad, alpha);
  m = m_new;
}

// O[r][:] += Σ_{j<keys} P[r][j]·V[j][:] for r < rows (a multiple of kRowBlock), where row block
// rb sums only its first block_keys[rb] keys (the rest have P = 0). Value-column panels outside,
// row blocks inside: one panel of V (keys × one panel, 32 KiB with AVX-512's 64-float panels)
// stays in L1 while the probability rows pass over it, instead of the whole V tile once per
// block; dv_pad need not be a whole number of panels (for_each_column_panel).
void accumulate_values(const float* p, Index rows, const Index* block_keys, const float* v,
                       Index v_row, float* o, Index dv_pad) {
  const Index blocks = rows / kRowBlock;
  for_each_column_panel(dv_pad, [&]<int kVectors>(Index c0) {
    for (Index rb = 0; rb < blocks; ++rb)
      block_product<kVectors>(p + rb * kRowBlock * kKeyTile, kKeyTile, v, v_row, block_keys[rb],
                              o + rb * kRowBlock * dv_pad, dv_pad, /*accumulate=*/true, c0);
  });
}

// The same sum for a tile whose values hold NaN or Inf: keys with P = 0 (masked, or an underflow
// of exp) are skipped one by one, so 0·NaN never reaches O.
void accumulate_values_skipping_zeros(const float* p, Index rows, const float* v, Index v_row,
                                      Index keys, float* o, Index dv_pad) {
  const DF df;
  for (Index r = 0; r < rows; ++r) {
    float* o_r = o + r * dv_pad;
    for (Index j = 0; j < keys; ++j) {
      const float p_rj = p[r * kKeyTile + j];
      if (p_rj == 0.0f) continue;
      const auto pj = hn::Set(df, p_rj);
      for (Index c0 = 0; c0 < dv_pad; c0 += lanes())
        hn::Store(hn::MulAdd(pj, hn::LoadU(df, v + j * v_row + c0), hn::Load(df, o_r + c0)), df,
                  o_r + c0);
    }
  }
}

// dst[c·dst_step] = factor·src[c·src_step] for c < count: whole vectors where both steps are 1
// (the layer's and the bench's layouts), element by element otherwise.
void scaled_copy(const float* src, Index src_step, Index count, float factor, float* dst,
                 Index dst_step) {
  Index c = 0;
  if (src_step == 1 && dst_step == 1) {
    const DF df;
    const Index n = lanes();
    const auto f = hn::Set(df, factor);
    for (; c + n <= count; c += n) hn::StoreU(hn::Mul(hn::LoadU(df, src + c), f), df, dst + c);
  }
  for (; c < count; ++c) dst[c * dst_step] = factor * src[c * src_step];
}

// Everything one query tile needs that does not change from key tile to key tile.
struct QueryTile {
  Index b, h, g, i0, rows, rows_pad;
  Index first_key_tile, end_key_tile;  // key tiles with any visible key for some row
  const float* q;                      // query row r at q + r·q_row, rows_pad rows readable
  Index q_row;
};

// Where the score loop reads the tile's query rows: in place when their features are contiguous
// and the tile has no padding rows, else copied into `scratch` with zero rows up to rows_pad.
// Reading in place drops a copy per query tile (3 % of a 1-thread causal call in perf, a cost
// that does not halve with causality); most of it was the rows' first touch, which the score
// loop now pays instead, so the call gained little, but nothing is copied twice.
void locate_queries(const AttentionPlan& p, QueryTile& t, float* scratch) {
  const TensorView<const float>& view = p.args->q;
  const float* base = view.data() + t.b * view.stride(0) + t.h * view.stride(1) + t.i0 * view.stride(2);
  if (view.stride(3) == 1 && t.rows == t.rows_pad) {
    t.q = base;
    t.q_row = view.stride(2);
    return;
  }
  for (Index r = 0; r < t.rows_pad; ++r) {
    float* dst = scratch + r * p.d;
    if (r >= t.rows)
      std::fill(dst, dst + p.d, 0.0f);
    else
      scaled_copy(base + r * view.stride(2), view.stride(3), p.d, 1.0f, dst, 1);
  }
  t.q = scratch;
  t.q_row = p.d;
}

constexpr Index kRowBlocks = kQueryTile / kRowBlock;

// The bounds of one key tile's work per row block (see masked_scores).
struct TileBounds {
  Index keys[kRowBlocks];  // keys the block's rows can see at most
  Index cols[kRowBlocks];  // score columns the block's rows are masked and exponentiated over
};

// Scores of key tile `kt` for every row, scaled and masked (rows past Lq all −∞).
// Returns each row's maximum in row_max, and in bounds.keys how many of the tile's keys each row
// block can see at most: the visible range ends at row i's hi, which grows with i, so the
// block's last real row bounds it. Causal diagonal tiles thus compute about half of their
// scores instead of all of them. The block's rows are then masked (and later exponentiated) over
// bounds.cols, its key bound rounded up to whole vectors, since the P·V loop reads no further;
// with `whole_rows` (the weights pass, and tiles whose values hold NaN or Inf, whose P·V loop
// reads every key) over the whole tile. Columns past a row's visible range are −∞ by position.
// A row with no mask terms that sees every one of its columns (the interior of a dense or causal
// call) is not touched again: the score loop found its maximum while the scores were in
// registers (that pass was 4.9 % of a dense (1, 2048, 8, 64) call).
void masked_scores(const AttentionPlan& p, const QueryTile& t, Index kt, TileScratch& sc,
                   bool whole_rows, float* row_max, TileBounds& bounds) {
  const DF df;
  const Index n = lanes();
  const Index j0 = kt * kKeyTile;
  const Index width = std::min(kKeyTile, p.lk - j0);
  const Index cols = round_up(width, 2 * lanes());
  for (Index r0 = 0; r0 < t.rows_pad; r0 += kRowBlock) {
    const Index last_row = std::min(r0 + kRowBlock, t.rows) - 1;
    const Index rb = r0 / kRowBlock;
    bounds.keys[rb] = std::clamp<Index>(p.visibility.keys(t.i0 + last_row).hi - j0, 0, width);
    bounds.cols[rb] = whole_rows ? cols : std::min(cols, round_up(bounds.keys[rb], lanes()));
  }
  alignas(64) float max_vectors[kQueryTile * kMaxLanes];
  for (Index r = 0; r < t.rows_pad; ++r) hn::Store(hn::Set(df, kNegInf), df, max_vectors + r * n);
  scores(t.q, t.q_row, p.d, p.key_tile(t.b, t.g, kt), t.rows_pad, bounds.keys, sc.s, max_vectors);
  const auto folded_max = [&](Index r) {
    return hn::GetLane(hn::MaxOfLanes(df, hn::Load(df, max_vectors + r * n)));
  };
  // The whole tile is interior when there are no masks, no padding rows or columns, and its first
  // row sees the tile's last key (hi grows with the row) and its last row the first (so does lo).
  const bool interior_tile = p.args->params.masks.empty() && t.rows == t.rows_pad && width == cols &&
                             p.visibility.keys(t.i0).hi >= j0 + cols &&
                             p.visibility.keys(t.i0 + t.rows - 1).lo <= j0;
  if (interior_tile) {
    for (Index r = 0; r < t.rows; ++r) row_max[r] = folded_max(r);
    return;
  }
  for (Index r = 0; r < t.rows_pad; ++r) {
    float* s_r = sc.s + r * kKeyTile;
    const Index row_cols = bounds.cols[r / kRowBlock];
    if (r >= t.rows) {
      zero_row(s_r, row_cols);
      row_max[r] = kNegInf;
      continue;
    }
    const float* bias = tile_row_bias(p.args->params.masks, p.masks_vary_by_row, t.b, t.h, t.i0, r,
                                      j0, width, sc.bias, kKeyTile);
    const KeyRange keys = p.visibility.in_tile(t.i0 + r, j0, width, row_cols);
    if (bias == nullptr && !masks_positions(row_cols, keys.lo, keys.hi))
      row_max[r] = folded_max(r);
    else
      row_max[r] = mask_row(s_r, bias, row_cols, keys.lo, keys.hi);
  }
}

// Second pass (only when weights are asked for): P_ij = exp(x_ij − m_i) / l_i, 0 where masked,
// written straight into the caller's [B, Hq, Lq, Lk] view.
void write_weights(const AttentionPlan& p, const QueryTile& t, TileScratch& sc) {
  const TensorView<float>& w = p.args->weights;
  float* base = w.data() + t.b * w.stride(0) + t.h * w.stride(1);
  const Index step = w.stride(3);
  for (Index kt = 0; kt < p.key_tiles; ++kt) {
    const Index j0 = kt * kKeyTile;
    const Index width = std::min(kKeyTile, p.lk - j0);
    const bool visible = kt >= t.first_key_tile && kt < t.end_key_tile;
    float row_max[kQueryTile];
    TileBounds bounds;
    if (visible) masked_scores(p, t, kt, sc, /*whole_rows=*/true, row_max, bounds);
    for (Index r = 0; r < t.rows; ++r) {
      float* dst = base + (t.i0 + r) * w.stride(2) + j0 * step;
      float* s_r = sc.s + r * kKeyTile;
      if (!visible || sc.m[r] == kNegInf) {
        for (Index c = 0; c < width; ++c) dst[c * step] = 0.0f;
        continue;
      }
      exp_shifted_row(s_r, round_up(width, lanes()), sc.m[r]);
      for (Index c = 0; c < width; ++c) dst[c * step] = s_r[c] / sc.l[r];
    }
  }
}

void AttendQueryTile(const AttentionPlan& p, Index b, Index h, Index tile, TileScratch& sc) {
  QueryTile t{};
  t.b = b;
  t.h = h;
  t.g = h / p.group;
  t.i0 = tile * kQueryTile;
  t.rows = std::min(kQueryTile, p.lq - t.i0);
  t.rows_pad = round_up(t.rows, kRowBlock);
  // Visible key ranges move right with the row, so the first row bounds lo and the last hi.
  const Index lo = p.visibility.keys(t.i0).lo;
  const Index hi = p.visibility.keys(t.i0 + t.rows - 1).hi;
  t.first_key_tile = lo / kKeyTile;
  t.end_key_tile = hi > lo ? (hi + kKeyTile - 1) / kKeyTile : t.first_key_tile;

  locate_queries(p, t, sc.q);
  std::fill(sc.m, sc.m + t.rows_pad, kNegInf);
  std::fill(sc.l, sc.l + t.rows_pad, 0.0f);
  std::fill(sc.o, sc.o + t.rows_pad * p.dv_pad, 0.0f);
  float row_max[kQueryTile];
  TileBounds bounds;
  const float* v = p.value_rows(b, t.g);

  for (Index kt = t.first_key_tile; kt < t.end_key_tile; ++kt) {
    const Index j0 = kt * kKeyTile;
    const Index width = std::min(kKeyTile, p.lk - j0);
    const bool nonfinite_values = p.nonfinite_values(b, t.g, kt);
    masked_scores(p, t, kt, sc, /*whole_rows=*/nonfinite_values, row_max, bounds);
    for (Index r = 0; r < t.rows; ++r)
      online_softmax_row(sc.s + r * kKeyTile, bounds.cols[r / kRowBlock], row_max[r], sc.m[r],
                         sc.l[r], sc.o + r * p.dv_pad, p.dv_pad);
    if (nonfinite_values)
      accumulate_values_skipping_zeros(sc.s, t.rows, v + j0 * p.v_row, p.v_row, width, sc.o,
                                       p.dv_pad);
    else
      accumulate_values(sc.s, t.rows_pad, bounds.keys, v + j0 * p.v_row, p.v_row, sc.o, p.dv_pad);
  }

  // The weights' second pass reads the query rows again, so it runs before out is written: out
  // may lie over q (the layer writes each head's output over its queries).
  const AttentionArgs& a = *p.args;
  if (a.weights.defined()) write_weights(p, t, sc);
  // out_i = O_i·(1/l_i) and lse_i = m_i + log l_i; a row that saw no visible key keeps 0 and −∞.
  float* out = a.out.data() + b * a.out.stride(0) + h * a.out.stride(1);
  for (Index r = 0; r < t.rows; ++r) {
    const bool none_visible = sc.m[r] == kNegInf;
    scaled_copy(sc.o + r * p.dv_pad, 1, p.dv, none_visible ? 0.0f : 1.0f / sc.l[r],
                out + (t.i0 + r) * a.out.stride(2), a.out.stride(3));
  }
  if (a.lse.defined()) {
    float* lse = a.lse.data() + b * a.lse.stride(0) + h * a.lse.stride(1);
    for (Index r = 0; r < t.rows; ++r)
      lse[(t.i0 + r) * a.lse.stride(2)] =
          sc.m[r] == kNegInf ? kNegInf
                             : static_cast<float>(std::numbers::ln2 * (static_cast<double>(sc.m[r]) +
                                                                      std::log2(static_cast<double>(sc.l[r]))));
  }
}

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }

// This target's tile kernel, handed out through one dynamic dispatch per attention call.
TileKernel SelectTileKernel() { return &AttendQueryTile; }

}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mha::cpu {

HWY_EXPORT(SelectTileKernel);
HWY_EXPORT(TargetName);

TileKernel select_tile_kernel() { return HWY_DYNAMIC_DISPATCH(SelectTileKernel)(); }

const char* simd_target_name() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

std::int64_t compiled_simd_targets() { return HWY_TARGETS; }

}  // namespace mha::cpu
#endif
