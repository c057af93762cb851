// One row of scores at a time: the masking and exponent steps of a softmax over base-2 logits,
// shared by the fused kernel's tiles (attention_tiles.cpp) and the unfused path's whole rows
// (attention_unfused_rows.cpp). Per-target code, included by files that Highway compiles once
// per target, hence the toggling include guard of Highway's -inl headers.
//
// Rows are `cols` floats, a whole number of vectors, readable and writable in full.
#if defined(MHA_KERNELS_CPU_SOFTMAX_ROW_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_KERNELS_CPU_SOFTMAX_ROW_INL_H_
#undef MHA_KERNELS_CPU_SOFTMAX_ROW_INL_H_
#else
#define MHA_KERNELS_CPU_SOFTMAX_ROW_INL_H_
#endif

#include <limits>
#include <numbers>

#include "hwy/highway.h"
#include "kernels/cpu/exp2-inl.h"
#include "mha/core/shape.hpp"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE::softmax_row {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

HWY_INLINE Index lanes() { return static_cast<Index>(hn::Lanes(DF())); }

// Whether mask_row must test positions: some column of [0, cols) lies outside [lo, hi).
inline bool masks_positions(Index cols, Index lo, Index hi) { return lo > 0 || hi < cols; }

// x_c = s_c + log2(e)·bias_c (s_c already a base-2 logit), −∞ where bias_c = −∞ (a mask
// blocks) or c ∉ [lo, hi) (causality, window, keys past Lk). Blocked keys are replaced, not added
// to, so NaN/Inf in their k stays out. Writes x over s where it differs and returns max_c x_c: an
// interior row (no mask terms, every key visible) is only read.
inline float mask_row(float* s, const float* bias, Index cols, Index lo, Index hi) {
  const DF df;
  const Index n = lanes();
  const auto vlog2e = hn::Set(df, std::numbers::log2e_v<float>);
  const auto neg_inf = hn::Set(df, kNegInf);
  const auto vlo = hn::Set(df, static_cast<float>(lo));
  const auto vhi = hn::Set(df, static_cast<float>(hi));
  // Whether some column is outside [lo, hi) is decided once per row, not per vector: a test per
  // vector flips at a different column in every row of a causal diagonal tile, and its
  // mispredictions made masking the rows of a causal (1, 2048, 8, 64) call 7.4 % of its time
  // (perf, 1 thread; 4.1 % after), as long as in a dense call; applying the position test to every
  // vector of such a row is cheaper.
  const bool positions = masks_positions(cols, lo, hi);
  auto vmax = neg_inf;
  for (Index c0 = 0; c0 < cols; c0 += n) {
    auto x = hn::Load(df, s + c0);
    if (bias != nullptr) {
      const auto b = hn::Load(df, bias + c0);
      x = hn::IfThenElse(hn::Eq(b, neg_inf), neg_inf, hn::MulAdd(b, vlog2e, x));
    }
    if (positions) {
      const auto c = hn::Iota(df, static_cast<float>(c0));
      x = hn::IfThenElse(hn::And(hn::Ge(c, vlo), hn::Lt(c, vhi)), x, neg_inf);
    }
    if (bias != nullptr || positions) hn::Store(x, df, s + c0);
    vmax = hn::Max(vmax, x);
  }
  return hn::GetLane(hn::MaxOfLanes(df, vmax));
}

// s_c ← 2^(s_c − shift) for base-2 logits s_c ≤ shift; returns Σ_c of the results.
inline float exp_shifted_row(float* s, Index cols, float shift) {
  const DF df;
  const Index n = lanes();
  const auto vshift = hn::Set(df, shift);
  auto sum = hn::Zero(df);
  for (Index c0 = 0; c0 < cols; c0 += n) {
    const auto p = exp2_nonpositive(df, hn::Sub(hn::Load(df, s + c0), vshift));
    hn::Store(p, df, s + c0);
    sum = hn::Add(sum, p);
  }
  return hn::GetLane(hn::SumOfLanes(df, sum));
}

inline void scale_row(float* row, Index count, float factor) {
  const DF df;
  const auto f = hn::Set(df, factor);
  for (Index c0 = 0; c0 < count; c0 += lanes()) hn::Store(hn::Mul(hn::Load(df, row + c0), f), df, row + c0);
}

inline void zero_row(float* row, Index count) {
  const DF df;
  for (Index c0 = 0; c0 < count; c0 += lanes()) hn::Store(hn::Zero(df), df, row + c0);
}

}  // namespace mha::cpu::HWY_NAMESPACE::softmax_row
HWY_AFTER_NAMESPACE();

#endif  // MHA_KERNELS_CPU_SOFTMAX_ROW_INL_H_ toggle
