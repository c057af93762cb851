// The vectorised exponential of the fast attention kernels (attention_tiles.cpp and the online
// softmax core): per-target code, included by files that Highway compiles once per target, so
// the usual toggling include guard of Highway's -inl headers instead of #pragma once.
#if defined(MHA_KERNELS_CPU_EXP2_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_KERNELS_CPU_EXP2_INL_H_
#undef MHA_KERNELS_CPU_EXP2_INL_H_
#else
#define MHA_KERNELS_CPU_EXP2_INL_H_
#endif

#include <cstddef>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE {

// 2^t for t ≤ 0. t = k + f with k the nearest integer (adding 1.5·2^23 rounds t and leaves k in
// the low mantissa bits), 2^f on [−1/2, 1/2] by a degree-6 polynomial (near-minimax fit of our
// own; evaluated in float, relative error < 2^−23, one ulp: 9.5e-8 at worst over a sweep of 10⁶
// points of [−125, 0] on every target, tests/kernels/exp2_test.cpp), then multiplied by 2^k
// (exact: the result is normal). t < −125 (also −∞, a masked score) gives 0: such a term is below
// 2^−125 of the row maximum's 1, far under one ulp of any sum it joins. NaN gives NaN, so a NaN
// score that no mask blocks reaches the row's sum and output, as in PyTorch (numerics.md).
//
// AVX-512 rounds with vrndscaleps and scales with vscalefps, zeroing t < −125 in the same
// instruction: 10 vector instructions instead of 14 (the exponential is about a tenth of the
// fast kernel's vector work). Both ways give the same bits: k and f are the same, and scaling a
// normal result by 2^k is exact.
#if HWY_TARGET <= HWY_AVX3
namespace exp2_detail {
template <std::size_t N>
HWY_INLINE hwy::HWY_NAMESPACE::Vec128<float, N> scale_where(hwy::HWY_NAMESPACE::Mask128<float, N> m,
                                                           hwy::HWY_NAMESPACE::Vec128<float, N> y,
                                                           hwy::HWY_NAMESPACE::Vec128<float, N> k) {
  return hwy::HWY_NAMESPACE::Vec128<float, N>{_mm_maskz_scalef_ps(m.raw, y.raw, k.raw)};
}
HWY_INLINE hwy::HWY_NAMESPACE::Vec256<float> scale_where(hwy::HWY_NAMESPACE::Mask256<float> m,
                                                        hwy::HWY_NAMESPACE::Vec256<float> y,
                                                        hwy::HWY_NAMESPACE::Vec256<float> k) {
  return hwy::HWY_NAMESPACE::Vec256<float>{_mm256_maskz_scalef_ps(m.raw, y.raw, k.raw)};
}
HWY_INLINE hwy::HWY_NAMESPACE::Vec512<float> scale_where(hwy::HWY_NAMESPACE::Mask512<float> m,
                                                        hwy::HWY_NAMESPACE::Vec512<float> y,
                                                        hwy::HWY_NAMESPACE::Vec512<float> k) {
  return hwy::HWY_NAMESPACE::Vec512<float>{_mm512_maskz_scalef_ps(m.raw, y.raw, k.raw)};
}
}  // namespace exp2_detail
#endif

template <class DF, class VF = hwy::HWY_NAMESPACE::Vec<DF>>
HWY_INLINE VF exp2_nonpositive(DF df, VF t) {
  namespace hn = hwy::HWY_NAMESPACE;
#if HWY_TARGET <= HWY_AVX3
  const VF k = hn::Round(t);  // ties to even, as the magic-number rounding below
  const VF f = hn::Sub(t, k);
#else
  const hn::RebindToSigned<DF> di;
  const VF magic = hn::Set(df, 12582912.0f);  // 1.5·2^23
  const VF shifted = hn::Add(t, magic);
  const VF f = hn::Sub(t, hn::Sub(shifted, magic));
#endif
  VF poly = hn::Set(df, 1.534591138e-4f);
  poly = hn::MulAdd(poly, f, hn::Set(df, 1.339993207e-3f));
  poly = hn::MulAdd(poly, f, hn::Set(df, 9.618488140e-3f));
  poly = hn::MulAdd(poly, f, hn::Set(df, 5.550328642e-2f));
  poly = hn::MulAdd(poly, f, hn::Set(df, 2.402264625e-1f));
  poly = hn::MulAdd(poly, f, hn::Set(df, 6.931471825e-1f));
  poly = hn::MulAdd(poly, f, hn::Set(df, 1.0f));
  // Kept unless t < −125: NaN compares false, so it stays (and scaling NaN gives NaN).
  const auto keep = hn::Not(hn::Lt(t, hn::Set(df, -125.0f)));
#if HWY_TARGET <= HWY_AVX3
  return exp2_detail::scale_where(keep, poly, k);
#else
  // 2^k as a float: (k + 127)·2^23 as bits, k in shifted's low mantissa bits (magic's drop out
  // of the shift). A multiply rather than adding k to poly's exponent bits, which could turn a
  // NaN with payload bits into a number.
  const auto two_k = hn::BitCast(df, hn::ShiftLeft<23>(hn::Add(hn::BitCast(di, shifted), hn::Set(di, 127))));
  return hn::IfThenElseZero(keep, hn::Mul(poly, two_k));
#endif
}

}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // MHA_KERNELS_CPU_EXP2_INL_H_ toggle
