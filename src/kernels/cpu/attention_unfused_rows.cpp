// The unfused path's softmax pass (attention_unfused.hpp), compiled once per SIMD target. The
// score rows already hold base-2 logits (the Q·Kᵀ matmul scaled them by scale·log2 e), so each
// row is: mask terms and visibility (mask_row), 2^(x − max) and its sum (exp_shifted_row), then
// one multiply by 1/sum: the same steps and the same exponential as the fused kernel's tiles.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/attention_unfused_rows.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cmath>
#include <numbers>

#include "hwy/highway.h"
#include "kernels/cpu/attention_plan.hpp"
#include "kernels/cpu/attention_unfused.hpp"
#include "kernels/cpu/softmax_row-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE {

void SoftmaxScoreRows(const ScoreRows& r) {
  using softmax_row::kNegInf;
  const AttentionArgs& a = *r.args;
  const std::span<const Mask> masks = a.params.masks;
  for (Index row = 0; row < r.rows; ++row) {
    const Index i = r.i0 + row;
    float* s = r.s + row * r.pitch;
    const float* bias = nullptr;
    if (!masks.empty()) {
      // Masks that broadcast over query rows (key padding) are read once per call of this pass.
      if (r.masks_vary_by_row || row == 0) mask_row_bias(masks, r.b, r.h, i, 0, r.lk, r.bias);
      bias = r.bias;
    }
    const KeyRange keys = r.visibility.keys(i);
    const float max2 = softmax_row::mask_row(s, bias, r.pitch, keys.lo, keys.hi);
    float lse = kNegInf;
    if (max2 == kNegInf) {  // fully masked: p = 0, out = 0, lse = −∞
      softmax_row::zero_row(s, r.pitch);
    } else {
      const float sum = softmax_row::exp_shifted_row(s, r.pitch, max2);
      softmax_row::scale_row(s, r.pitch, 1.0f / sum);
      lse = static_cast<float>(std::numbers::ln2 * (static_cast<double>(max2) +
                                                   std::log2(static_cast<double>(sum))));
    }
    if (a.lse.defined()) a.lse(r.b, r.h, i) = lse;
    if (a.weights.defined()) {
      float* w = a.weights.data() + r.b * a.weights.stride(0) + r.h * a.weights.stride(1) +
                 i * a.weights.stride(2);
      for (Index j = 0; j < r.lk; ++j) w[j * a.weights.stride(3)] = s[j];
    }
  }
}

}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mha::cpu {

HWY_EXPORT(SoftmaxScoreRows);

void softmax_score_rows(const ScoreRows& rows) { HWY_DYNAMIC_DISPATCH(SoftmaxScoreRows)(rows); }

}  // namespace mha::cpu
#endif
