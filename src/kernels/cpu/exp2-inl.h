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
// points of [−125, 0] on every target, tests/kernels/exp2_test.cpp), then k added to the
// exponent bits. t < −125 (also −∞ and NaN) gives 0: such a term is below 2^−125 of the row
// maximum's 1, far under one ulp of any sum it joins.
//
// AVX-512 rounds with vrndscaleps and scales with vscalefps under the t ≥ −125 mask, 10 vector
// instructions instead of 13 (the exponential is about a tenth of the fast kernel's vector work);
// both ways give the same bits: k and f are the same, and scaling a normal result by 2^k is exact.
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
#if HWY_TARGET <= HWY_AVX3
  return exp2_detail::scale_where(hn::Ge(t, hn::Set(df, -125.0f)), poly, k);
#else
  const auto exponent = hn::ShiftLeft<23>(hn::BitCast(di, shifted));  // k·2^23 (magic's bits drop)
  const VF y = hn::BitCast(df, hn::Add(hn::BitCast(di, poly), exponent));
  return hn::IfThenElseZero(hn::Ge(t, hn::Set(df, -125.0f)), y);
#endif
}

}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // MHA_KERNELS_CPU_EXP2_INL_H_ toggle
