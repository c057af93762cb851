// The SIMD heart of the fast CPU kernel: one query tile of one head, streamed over key tiles with
// the online softmax (FlashAttention, Dao et al. 2022, Algorithm 1), never storing N×N scores.
//
//   q: [B, Hq, Lq, D]   Kᵀ tiles: [D, kKeyTile]   v rows: [Lk, dv_pad]   out: [B, Hq, Lq, Dv]
//
// Per key tile, for the rows i of the query tile:
//   S = Q·Kᵀ                                   (scores: a register-blocked outer-product loop)
//   x_ij = scale·S_ij + bias_ij, −∞ if masked  (mask terms, causality, window, padding keys)
//   m'_i = max(m_i, max_j x_ij),  α_i = exp(m_i − m'_i)
//   P_ij = exp(x_ij − m'_i),      l_i ← α_i·l_i + Σ_j P_ij,   O_i ← α_i·O_i + Σ_j P_ij·V_j
// and at the end out_i = O_i / l_i, lse_i = m_i + log l_i (0 and −∞ for a fully masked row).
// Weights, when asked, come from a second pass over the same tiles: P_ij = exp(x_ij − m_i) / l_i
// with the saved row statistics. (Equal to exp(x_ij − lse_i), but m_i is an exact score while
// lse_i = m_i + log l_i rounds at |m_i|'s ulp: with logits near 1e4 that alone is a 1e-5 error.)
//
// Compiled once per SIMD target by Highway's foreach_target; attend_query_tile() at the bottom
// is the one place that picks the target at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/attention_tiles.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <cmath>
#include <limits>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "kernels/cpu/attention_plan.hpp"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

Index lanes() { return static_cast<Index>(hn::Lanes(DF())); }

// S[r][c] = Σ_x Q[r][x]·Kᵀ[x][c] for r < rows (a multiple of kRowBlock) and c < cols (a multiple
// of two vectors). Each step of x broadcasts kRowBlock query values against two vectors of keys:
// 8 FMAs per 6 loads, 8 accumulators live in registers.
void scores(const float* q, Index d, const float* keys_t, Index rows, Index cols, float* s) {
  const DF df;
  const Index n = lanes();
  static_assert(kRowBlock == 4, "the register block below is written for 4 rows");
  for (Index r0 = 0; r0 < rows; r0 += kRowBlock) {
    const float* q0 = q + r0 * d;
    const float* q1 = q0 + d;
    const float* q2 = q1 + d;
    const float* q3 = q2 + d;
    for (Index c0 = 0; c0 < cols; c0 += 2 * n) {
      auto s00 = hn::Zero(df), s01 = hn::Zero(df), s10 = hn::Zero(df), s11 = hn::Zero(df);
      auto s20 = hn::Zero(df), s21 = hn::Zero(df), s30 = hn::Zero(df), s31 = hn::Zero(df);
      const float* k = keys_t + c0;
      for (Index x = 0; x < d; ++x, k += kKeyTile) {
        const auto k0 = hn::Load(df, k);
        const auto k1 = hn::Load(df, k + n);
        auto qx = hn::Set(df, q0[x]);
        s00 = hn::MulAdd(qx, k0, s00);
        s01 = hn::MulAdd(qx, k1, s01);
        qx = hn::Set(df, q1[x]);
        s10 = hn::MulAdd(qx, k0, s10);
        s11 = hn::MulAdd(qx, k1, s11);
        qx = hn::Set(df, q2[x]);
        s20 = hn::MulAdd(qx, k0, s20);
        s21 = hn::MulAdd(qx, k1, s21);
        qx = hn::Set(df, q3[x]);
        s30 = hn::MulAdd(qx, k0, s30);
        s31 = hn::MulAdd(qx, k1, s31);
      }
      float* out = s + r0 * kKeyTile + c0;
      hn::Store(s00, df, out);
      hn::Store(s01, df, out + n);
      hn::Store(s10, df, out + kKeyTile);
      hn::Store(s11, df, out + kKeyTile + n);
      hn::Store(s20, df, out + 2 * kKeyTile);
      hn::Store(s21, df, out + 2 * kKeyTile + n);
      hn::Store(s30, df, out + 3 * kKeyTile);
      hn::Store(s31, df, out + 3 * kKeyTile + n);
    }
  }
}

// x_c = scale·s_c + bias_c, −∞ where bias_c = −∞ (a mask blocks) or c ∉ [lo, hi) (causality,
// window, keys past Lk). Blocked keys are replaced, not added to, so NaN/Inf in their k stays out.
// Writes x over s and returns max_c x_c.
float scale_and_mask_row(float* s, const float* bias, Index cols, Index lo, Index hi, float scale) {
  const DF df;
  const Index n = lanes();
  const auto vscale = hn::Set(df, scale);
  const auto neg_inf = hn::Set(df, kNegInf);
  const auto vlo = hn::Set(df, static_cast<float>(lo));
  const auto vhi = hn::Set(df, static_cast<float>(hi));
  auto vmax = neg_inf;
  for (Index c0 = 0; c0 < cols; c0 += n) {
    auto x = hn::Mul(hn::Load(df, s + c0), vscale);
    if (bias != nullptr) {
      const auto b = hn::Load(df, bias + c0);
      x = hn::IfThenElse(hn::Eq(b, neg_inf), neg_inf, hn::Add(x, b));
    }
    if (c0 < lo || c0 + n > hi) {
      const auto c = hn::Iota(df, static_cast<float>(c0));
      x = hn::IfThenElse(hn::And(hn::Ge(c, vlo), hn::Lt(c, vhi)), x, neg_inf);
    }
    hn::Store(x, df, s + c0);
    vmax = hn::Max(vmax, x);
  }
  return hn::GetLane(hn::MaxOfLanes(df, vmax));
}

// s_c ← exp(s_c − shift); returns Σ_c of the results.
float exp_shifted_row(float* s, Index cols, float shift) {
  const DF df;
  const Index n = lanes();
  const auto vshift = hn::Set(df, shift);
  auto sum = hn::Zero(df);
  for (Index c0 = 0; c0 < cols; c0 += n) {
    const auto p = hn::Exp(df, hn::Sub(hn::Load(df, s + c0), vshift));
    hn::Store(p, df, s + c0);
    sum = hn::Add(sum, p);
  }
  return hn::GetLane(hn::SumOfLanes(df, sum));
}

void scale_row(float* row, Index count, float factor) {
  const DF df;
  const auto f = hn::Set(df, factor);
  for (Index c0 = 0; c0 < count; c0 += lanes()) hn::Store(hn::Mul(hn::Load(df, row + c0), f), df, row + c0);
}

void zero_row(float* row, Index count) {
  const DF df;
  for (Index c0 = 0; c0 < count; c0 += lanes()) hn::Store(hn::Zero(df), df, row + c0);
}

// One row's online-softmax step over a scaled, masked score row x (see the top of the file).
void online_softmax_row(float* s, Index cols, float row_max, float& m, float& l, float* o,
                        Index dv_pad) {
  const float m_new = std::max(m, row_max);
  if (m_new == kNegInf) {  // nothing visible yet: P = 0, O and l stay 0
    zero_row(s, cols);
    return;
  }
  const float alpha = std::exp(m - m_new);  // 0 on the first visible tile (m = −∞)
  const float tile_sum = exp_shifted_row(s, cols, m_new);
  l = alpha * l + tile_sum;
  if (alpha != 1.0f) scale_row(o, dv_pad, alpha);
  m = m_new;
}

// O[r][:] += Σ_{j<keys} P[r][j]·V[j][:] for r < rows (a multiple of kRowBlock). Each key
// broadcasts kRowBlock probabilities against two vectors of the value row.
void accumulate_values(const float* p, Index rows, const float* v, Index v_row, Index keys,
                       float* o, Index dv_pad) {
  const DF df;
  const Index n = lanes();
  for (Index r0 = 0; r0 < rows; r0 += kRowBlock) {
    const float* p0 = p + r0 * kKeyTile;
    const float* p1 = p0 + kKeyTile;
    const float* p2 = p1 + kKeyTile;
    const float* p3 = p2 + kKeyTile;
    float* o0 = o + r0 * dv_pad;
    float* o1 = o0 + dv_pad;
    float* o2 = o1 + dv_pad;
    float* o3 = o2 + dv_pad;
    Index c0 = 0;
    for (; c0 + 2 * n <= dv_pad; c0 += 2 * n) {
      auto a00 = hn::Load(df, o0 + c0), a01 = hn::Load(df, o0 + c0 + n);
      auto a10 = hn::Load(df, o1 + c0), a11 = hn::Load(df, o1 + c0 + n);
      auto a20 = hn::Load(df, o2 + c0), a21 = hn::Load(df, o2 + c0 + n);
      auto a30 = hn::Load(df, o3 + c0), a31 = hn::Load(df, o3 + c0 + n);
      const float* vj = v + c0;
      for (Index j = 0; j < keys; ++j, vj += v_row) {
        const auto v0 = hn::LoadU(df, vj);
        const auto v1 = hn::LoadU(df, vj + n);
        auto pj = hn::Set(df, p0[j]);
        a00 = hn::MulAdd(pj, v0, a00);
        a01 = hn::MulAdd(pj, v1, a01);
        pj = hn::Set(df, p1[j]);
        a10 = hn::MulAdd(pj, v0, a10);
        a11 = hn::MulAdd(pj, v1, a11);
        pj = hn::Set(df, p2[j]);
        a20 = hn::MulAdd(pj, v0, a20);
        a21 = hn::MulAdd(pj, v1, a21);
        pj = hn::Set(df, p3[j]);
        a30 = hn::MulAdd(pj, v0, a30);
        a31 = hn::MulAdd(pj, v1, a31);
      }
      hn::Store(a00, df, o0 + c0);
      hn::Store(a01, df, o0 + c0 + n);
      hn::Store(a10, df, o1 + c0);
      hn::Store(a11, df, o1 + c0 + n);
      hn::Store(a20, df, o2 + c0);
      hn::Store(a21, df, o2 + c0 + n);
      hn::Store(a30, df, o3 + c0);
      hn::Store(a31, df, o3 + c0 + n);
    }
    for (; c0 < dv_pad; c0 += n) {  // one vector left (AVX-512 with dv_pad = 16·odd)
      auto a0 = hn::Load(df, o0 + c0), a1 = hn::Load(df, o1 + c0);
      auto a2 = hn::Load(df, o2 + c0), a3 = hn::Load(df, o3 + c0);
      const float* vj = v + c0;
      for (Index j = 0; j < keys; ++j, vj += v_row) {
        const auto v0 = hn::LoadU(df, vj);
        a0 = hn::MulAdd(hn::Set(df, p0[j]), v0, a0);
        a1 = hn::MulAdd(hn::Set(df, p1[j]), v0, a1);
        a2 = hn::MulAdd(hn::Set(df, p2[j]), v0, a2);
        a3 = hn::MulAdd(hn::Set(df, p3[j]), v0, a3);
      }
      hn::Store(a0, df, o0 + c0);
      hn::Store(a1, df, o1 + c0);
      hn::Store(a2, df, o2 + c0);
      hn::Store(a3, df, o3 + c0);
    }
  }
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

// Everything one query tile needs that does not change from key tile to key tile.
struct QueryTile {
  Index b, h, g, i0, rows, rows_pad;
  Index first_key_tile, end_key_tile;  // key tiles with any visible key for some row
};

// Packs the tile's query rows (zero rows up to rows_pad) so the score loop reads them densely.
void pack_queries(const AttentionPlan& p, const QueryTile& t, float* q) {
  const TensorView<const float>& view = p.args->q;
  const float* base = view.data() + t.b * view.stride(0) + t.h * view.stride(1);
  for (Index r = 0; r < t.rows_pad; ++r) {
    float* dst = q + r * p.d;
    if (r >= t.rows) {
      std::fill(dst, dst + p.d, 0.0f);
      continue;
    }
    const float* src = base + (t.i0 + r) * view.stride(2);
    for (Index x = 0; x < p.d; ++x) dst[x] = src[x * view.stride(3)];
  }
}

// Scores of key tile `kt` for every row, scaled and masked (rows past Lq all −∞).
// Returns each row's maximum in row_max.
void masked_scores(const AttentionPlan& p, const QueryTile& t, Index kt, TileScratch& sc,
                   float* row_max) {
  const Index j0 = kt * kKeyTile;
  const Index width = std::min(kKeyTile, p.lk - j0);
  const Index cols = round_up(width, 2 * lanes());
  scores(sc.q, p.d, p.key_tile(t.b, t.g, kt), t.rows_pad, cols, sc.s);
  const std::span<const Mask> masks = p.args->params.masks;
  if (!masks.empty() && !p.masks_vary_by_row) mask_row_bias(masks, t.b, t.h, t.i0, j0, width, sc.bias);
  for (Index r = 0; r < t.rows_pad; ++r) {
    float* s_r = sc.s + r * kKeyTile;
    if (r >= t.rows) {
      zero_row(s_r, cols);
      row_max[r] = kNegInf;
      continue;
    }
    const float* bias = nullptr;
    if (!masks.empty()) {
      bias = sc.bias;
      if (p.masks_vary_by_row) {
        bias = sc.bias + r * kKeyTile;
        mask_row_bias(masks, t.b, t.h, t.i0 + r, j0, width, sc.bias + r * kKeyTile);
      }
    }
    const KeyRange keys = visible_keys(p, t.i0 + r);
    const Index lo = std::clamp<Index>(keys.lo - j0, 0, cols);
    const Index hi = std::clamp<Index>(keys.hi - j0, 0, width);
    row_max[r] = scale_and_mask_row(s_r, bias, cols, lo, hi, p.scale);
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
    if (visible) masked_scores(p, t, kt, sc, row_max);
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
  const Index lo = visible_keys(p, t.i0).lo;
  const Index hi = visible_keys(p, t.i0 + t.rows - 1).hi;
  t.first_key_tile = lo / kKeyTile;
  t.end_key_tile = hi > lo ? (hi + kKeyTile - 1) / kKeyTile : t.first_key_tile;

  pack_queries(p, t, sc.q);
  std::fill(sc.m, sc.m + t.rows_pad, kNegInf);
  std::fill(sc.l, sc.l + t.rows_pad, 0.0f);
  std::fill(sc.o, sc.o + t.rows_pad * p.dv_pad, 0.0f);
  float row_max[kQueryTile];
  const float* v = p.value_rows(b, t.g);

  for (Index kt = t.first_key_tile; kt < t.end_key_tile; ++kt) {
    const Index j0 = kt * kKeyTile;
    const Index width = std::min(kKeyTile, p.lk - j0);
    const Index cols = round_up(width, 2 * lanes());
    masked_scores(p, t, kt, sc, row_max);
    for (Index r = 0; r < t.rows; ++r)
      online_softmax_row(sc.s + r * kKeyTile, cols, row_max[r], sc.m[r], sc.l[r],
                         sc.o + r * p.dv_pad, p.dv_pad);
    if (p.nonfinite_values(b, t.g, kt))
      accumulate_values_skipping_zeros(sc.s, t.rows, v + j0 * p.v_row, p.v_row, width, sc.o,
                                       p.dv_pad);
    else
      accumulate_values(sc.s, t.rows_pad, v + j0 * p.v_row, p.v_row, width, sc.o, p.dv_pad);
  }

  // out_i = O_i / l_i and lse_i = m_i + log l_i; a row that saw no visible key keeps 0 and −∞.
  const AttentionArgs& a = *p.args;
  float* out = a.out.data() + b * a.out.stride(0) + h * a.out.stride(1);
  for (Index r = 0; r < t.rows; ++r) {
    float* dst = out + (t.i0 + r) * a.out.stride(2);
    const float* o_r = sc.o + r * p.dv_pad;
    const bool none_visible = sc.m[r] == kNegInf;
    for (Index c = 0; c < p.dv; ++c) dst[c * a.out.stride(3)] = none_visible ? 0.0f : o_r[c] / sc.l[r];
  }
  if (a.lse.defined()) {
    float* lse = a.lse.data() + b * a.lse.stride(0) + h * a.lse.stride(1);
    for (Index r = 0; r < t.rows; ++r)
      lse[(t.i0 + r) * a.lse.stride(2)] = sc.m[r] == kNegInf ? kNegInf : sc.m[r] + std::log(sc.l[r]);
  }
  if (a.weights.defined()) write_weights(p, t, sc);
}

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mha::cpu {

HWY_EXPORT(AttendQueryTile);
HWY_EXPORT(TargetName);

void attend_query_tile(const AttentionPlan& plan, Index b, Index h, Index t, TileScratch& scratch) {
  HWY_DYNAMIC_DISPATCH(AttendQueryTile)(plan, b, h, t, scratch);
}

const char* simd_target_name() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

}  // namespace mha::cpu
#endif
