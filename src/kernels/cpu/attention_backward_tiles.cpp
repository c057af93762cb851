// The SIMD heart of the fast attention backward: one key tile of one kv head against every query
// tile that sees it (FlashAttention-2's backward, Dao 2023, Algorithm 2: key tiles outside, so
// dK and dV stay in the tile's accumulators and only dQ is shared).
//
// Per (query tile, key tile), with the forward's lse_i and D_i = dO_i·out_i:
//   S = Q·Kᵀ,   P_ij = exp(scale·S_ij + bias_ij − lse_i)   (0 where a mask, causality, the
//               window, padding or a fully masked row blocks: selected, never multiplied)
//   dP = dO·Vᵀ,  dS_ij = scale·P_ij·(z_ij·dP_ij − D_i)     (0 wherever P_ij = 0, so NaN or Inf in
//               a blocked key's v never reaches it)
//   dV += (P∘Z)ᵀ·dO,   dK += dSᵀ·Q,   dQ += dS·K
// Five products of a 64-row tile, each one panel_product over packed operands (the transposed
// ones read P and dS column-wise). z_ij is the dropout factor (1 without dropout).
//
// Compiled once per SIMD target by Highway's foreach_target; select_backward_kernels() at the
// bottom is the one place that picks the target at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/attention_backward_tiles.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <span>

#include "hwy/highway.h"
#include "kernels/cpu/attention_backward_plan.hpp"
#include "kernels/cpu/attention_plan.hpp"
#include "kernels/cpu/exp2-inl.h"
#include "kernels/cpu/panel_product-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
namespace {  // the forward's tile file has helpers of the same names in this namespace

constexpr Index kQt = kBackwardQueryTile;
constexpr Index kKt = kBackwardKeyTile;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

HWY_INLINE Index lanes() { return static_cast<Index>(hn::Lanes(DF())); }

// p_c = exp(scale·s_c + bias_c − lse) for c ∈ [lo, hi) with bias_c ≠ −∞, else 0; over `cols`
// (whole vectors). The exponent is formed in natural units and multiplied by log2 e only once it
// is small, so large logits (|s| ~ 1e4) lose nothing to a rounded lse·log2 e. NaN scores stay
// NaN (exp2_nonpositive keeps them).
void probabilities_row(float* s, const float* bias, Index cols, Index lo, Index hi, float scale,
                       float lse) {
  const DF df;
  const Index n = lanes();
  const auto vscale = hn::Set(df, scale);
  const auto vlse = hn::Set(df, lse);
  const auto vlog2e = hn::Set(df, std::numbers::log2e_v<float>);
  const auto neg_inf = hn::Set(df, kNegInf);
  const auto vlo = hn::Set(df, static_cast<float>(lo));
  const auto vhi = hn::Set(df, static_cast<float>(hi));
  for (Index c0 = 0; c0 < cols; c0 += n) {
    const auto sc = hn::Load(df, s + c0);
    auto x = bias != nullptr ? hn::MulAdd(sc, vscale, hn::Load(df, bias + c0)) : hn::Mul(sc, vscale);
    const auto t = hn::Mul(hn::Sub(x, vlse), vlog2e);
    auto p = exp2_nonpositive(df, t);
    if (bias != nullptr) p = hn::IfThenZeroElse(hn::Eq(hn::Load(df, bias + c0), neg_inf), p);
    if (c0 < lo || c0 + n > hi) {
      const auto c = hn::Iota(df, static_cast<float>(c0));
      p = hn::IfThenElseZero(hn::And(hn::Ge(c, vlo), hn::Lt(c, vhi)), p);
    }
    hn::Store(p, df, s + c0);
  }
}

// ds_c ← scale·p_c·(dp_c − delta), 0 where p_c = 0 (blocked, or an underflow of exp).
void score_gradient_row(const float* p, float* ds, Index cols, float delta, float scale) {
  const DF df;
  const auto vdelta = hn::Set(df, delta);
  const auto vscale = hn::Set(df, scale);
  for (Index c0 = 0; c0 < cols; c0 += lanes()) {
    const auto pc = hn::Load(df, p + c0);
    const auto g = hn::Mul(hn::Mul(pc, vscale), hn::Sub(hn::Load(df, ds + c0), vdelta));
    hn::Store(hn::IfThenZeroElse(hn::Eq(pc, hn::Zero(df)), g), df, ds + c0);
  }
}

// The same with dropout: z_ij from the forward's counter-based hash, one element at a time
// (the hash is scalar); P becomes P∘Z for dV.
void score_gradient_row_dropout(const BackwardPlan& plan, Index b, Index h, Index i, Index j0,
                                float* p, float* ds, Index width, float delta) {
  const AttentionDropout& dropout = plan.args->dropout;
  const float keep_scale = static_cast<float>(1.0 / (1.0 - dropout.rate));
  for (Index c = 0; c < width; ++c) {
    if (p[c] == 0.0f) {
      ds[c] = 0.0f;
      continue;
    }
    const float z = dropout_keeps(dropout, b, h, i, j0 + c) ? keep_scale : 0.0f;
    ds[c] = plan.scale * p[c] * (z * ds[c] - delta);
    p[c] *= z;
  }
}

// Σ_c p_c·z_c·dp_c of one row (D_i's share of this key tile, when out was not given).
float row_delta(const BackwardPlan& plan, Index b, Index h, Index i, Index j0, const float* p,
                const float* dp, Index cols) {
  if (plan.dropout) {
    const AttentionDropout& dropout = plan.args->dropout;
    const double keep_scale = 1.0 / (1.0 - dropout.rate);
    double sum = 0.0;
    for (Index c = 0; c < cols; ++c)
      if (p[c] != 0.0f && dropout_keeps(dropout, b, h, i, j0 + c))
        sum += keep_scale * static_cast<double>(p[c]) * static_cast<double>(dp[c]);
    return static_cast<float>(sum);
  }
  const DF df;
  auto sum = hn::Zero(df);
  for (Index c0 = 0; c0 < cols; c0 += lanes()) {
    const auto pc = hn::Load(df, p + c0);
    sum = hn::Add(sum, hn::IfThenZeroElse(hn::Eq(pc, hn::Zero(df)), hn::Mul(pc, hn::Load(df, dp + c0))));
  }
  return hn::GetLane(hn::SumOfLanes(df, sum));
}

// One (query tile, key tile) pair of (b, h).
struct TilePair {
  Index b, h, i0, rows, j0, width, cols;  // cols: width rounded up to whole vectors
};

// P of the pair into scratch.p (rows × cols, row pitch kKt).
void probabilities(const BackwardPlan& plan, const TilePair& t, const float* q,
                   const float* keys_t, BackwardScratch& sc) {
  panel_product({.a = q, .a_row = plan.d_pad, .a_col = 1, .b = keys_t, .b_row = kKt,
                 .depth = plan.d, .c = sc.p, .c_row = kKt, .accumulate = false},
                t.rows, t.cols);
  const float* lse = plan.lse + plan.row_item(t.b, t.h) * plan.lq + t.i0;
  for (Index r = 0; r < t.rows; ++r) {
    const float* bias = tile_row_bias(plan.args->params.masks, plan.masks_vary_by_row, t.b, t.h,
                                      t.i0, r, t.j0, t.width, sc.bias, kKt);
    const KeyRange keys = plan.visibility.in_tile(t.i0 + r, t.j0, t.width, t.cols);
    probabilities_row(sc.p + r * kKt, bias, t.cols, keys.lo, keys.hi, plan.scale, lse[r]);
  }
}

// dP = dO·Vᵀ of the pair into scratch.ds.
void probability_gradients(const BackwardPlan& plan, const TilePair& t, const float* dout,
                           const float* values_t, BackwardScratch& sc) {
  panel_product({.a = dout, .a_row = plan.dv_pad, .a_col = 1, .b = values_t, .b_row = kKt,
                 .depth = plan.dv, .c = sc.ds, .c_row = kKt, .accumulate = false},
                t.rows, t.cols);
}

// dQ_i += Σ_j dS_ij·k_j for a key tile holding NaN or Inf: keys with dS_ij = 0 are skipped one by
// one, so 0·NaN never reaches dQ.
void add_query_gradients_skipping_zeros(const BackwardPlan& plan, const TilePair& t,
                                        const float* ds, const float* keys, float* dq) {
  const DF df;
  for (Index r = 0; r < t.rows; ++r) {
    float* dq_r = dq + r * plan.d_pad;
    for (Index c = 0; c < t.width; ++c) {
      const float g = ds[r * kKt + c];
      if (g == 0.0f) continue;
      const auto vg = hn::Set(df, g);
      for (Index x0 = 0; x0 < plan.d_pad; x0 += lanes())
        hn::Store(hn::MulAdd(vg, hn::Load(df, keys + c * plan.d_pad + x0), hn::Load(df, dq_r + x0)),
                  df, dq_r + x0);
    }
  }
}

void BackwardKeyTile(const BackwardPlan& plan, Index b, Index g, Index kt, BackwardScratch& sc) {
  const Index j0 = kt * kKt;
  const Index width = std::min(kKt, plan.lk - j0);
  const Index cols = round_up(width, lanes());
  std::fill(sc.dk, sc.dk + kKt * plan.d_pad, 0.0f);
  std::fill(sc.dv, sc.dv + kKt * plan.dv_pad, 0.0f);
  const float* keys = plan.key_rows(b, g, kt);
  const float* keys_t = plan.key_tile_t(b, g, kt);
  const float* values_t = plan.value_tile_t(b, g, kt);
  const bool keys_nonfinite = plan.keys_nonfinite[plan.key_item(b, g, kt)] != 0;
  const KeyRange seen_by = plan.visibility.rows_seeing(j0, j0 + width, plan.lq);

  for (Index h = g * plan.group; h < (g + 1) * plan.group && seen_by.hi > seen_by.lo; ++h) {
    const float* q_rows = plan.query_rows(b, h);
    const float* dout_rows = plan.grad_out_rows(b, h);
    const Index item = plan.row_item(b, h);
    const float* delta = plan.delta + item * plan.lq;
    const Index share = item - sc.dq_first;
    float* dq_rows = sc.dq + share * plan.lq * plan.d_pad;
    if (sc.dq_touched[share] == 0) {
      std::fill(dq_rows, dq_rows + plan.lq * plan.d_pad, 0.0f);
      sc.dq_touched[share] = 1;
    }
    for (Index i0 = seen_by.lo / kQt * kQt; i0 < seen_by.hi; i0 += kQt) {
      const TilePair t{b, h, i0, std::min(kQt, plan.lq - i0), j0, width, cols};
      const float* q = q_rows + i0 * plan.d_pad;
      const float* dout = dout_rows + i0 * plan.dv_pad;
      probabilities(plan, t, q, keys_t, sc);
      probability_gradients(plan, t, dout, values_t, sc);
      for (Index r = 0; r < t.rows; ++r) {
        if (plan.dropout)
          score_gradient_row_dropout(plan, b, h, i0 + r, j0, sc.p + r * kKt, sc.ds + r * kKt,
                                     width, delta[i0 + r]);
        else
          score_gradient_row(sc.p + r * kKt, sc.ds + r * kKt, cols, delta[i0 + r], plan.scale);
      }
      // dV += (P∘Z)ᵀ·dO and dK += dSᵀ·Q: A read transposed (a_row 1, a_col the tile pitch).
      panel_product({.a = sc.p, .a_row = 1, .a_col = kKt, .b = dout, .b_row = plan.dv_pad,
                     .depth = t.rows, .c = sc.dv, .c_row = plan.dv_pad, .accumulate = true},
                    width, plan.dv_pad);
      panel_product({.a = sc.ds, .a_row = 1, .a_col = kKt, .b = q, .b_row = plan.d_pad,
                     .depth = t.rows, .c = sc.dk, .c_row = plan.d_pad, .accumulate = true},
                    width, plan.d_pad);
      float* dq = dq_rows + i0 * plan.d_pad;
      if (keys_nonfinite)
        add_query_gradients_skipping_zeros(plan, t, sc.ds, keys, dq);
      else
        panel_product({.a = sc.ds, .a_row = kKt, .a_col = 1, .b = keys, .b_row = plan.d_pad,
                       .depth = width, .c = dq, .c_row = plan.d_pad, .accumulate = true},
                      t.rows, plan.d_pad);
    }
  }

  const AttentionBackwardArgs& a = *plan.args;
  for (Index r = 0; r < width; ++r) {
    float* dk = a.grad_k.data() + b * a.grad_k.stride(0) + g * a.grad_k.stride(1) +
                (j0 + r) * a.grad_k.stride(2);
    float* dv = a.grad_v.data() + b * a.grad_v.stride(0) + g * a.grad_v.stride(1) +
                (j0 + r) * a.grad_v.stride(2);
    for (Index c = 0; c < plan.d; ++c) dk[c * a.grad_k.stride(3)] = sc.dk[r * plan.d_pad + c];
    for (Index c = 0; c < plan.dv; ++c) dv[c * a.grad_v.stride(3)] = sc.dv[r * plan.dv_pad + c];
  }
}

void DeltaQueryTile(const BackwardPlan& plan, Index b, Index h, Index qt, BackwardScratch& sc,
                    float* delta) {
  const Index g = h / plan.group;
  const Index i0 = qt * kQt;
  const Index rows = std::min(kQt, plan.lq - i0);
  std::fill(delta, delta + rows, 0.0f);
  const KeyRange first = plan.visibility.keys(i0), last = plan.visibility.keys(i0 + rows - 1);
  if (last.hi <= first.lo) return;
  const float* q = plan.query_rows(b, h) + i0 * plan.d_pad;
  const float* dout = plan.grad_out_rows(b, h) + i0 * plan.dv_pad;
  for (Index kt = first.lo / kKt; kt * kKt < last.hi; ++kt) {
    const Index j0 = kt * kKt;
    const Index width = std::min(kKt, plan.lk - j0);
    const TilePair t{b, h, i0, rows, j0, width, round_up(width, lanes())};
    probabilities(plan, t, q, plan.key_tile_t(b, g, kt), sc);
    probability_gradients(plan, t, dout, plan.value_tile_t(b, g, kt), sc);
    for (Index r = 0; r < rows; ++r)
      delta[r] += row_delta(plan, b, h, i0 + r, j0, sc.p + r * kKt, sc.ds + r * kKt,
                            plan.dropout ? width : t.cols);
  }
}

}  // namespace

BackwardKernels SelectBackwardKernels() { return {&BackwardKeyTile, &DeltaQueryTile}; }

}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mha::cpu {

HWY_EXPORT(SelectBackwardKernels);

BackwardKernels select_backward_kernels() { return HWY_DYNAMIC_DISPATCH(SelectBackwardKernels)(); }

}  // namespace mha::cpu
#endif
