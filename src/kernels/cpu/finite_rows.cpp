// The SIMD scan of finite_rows.hpp, compiled once per target. x·0 is 0 for finite x and NaN for
// NaN or ±Inf, so one multiply-add per vector finds any of them and the sum is checked once.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/finite_rows.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/cpu/finite_rows.hpp"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

bool RowsAllFinite(const float* rows, Index count, Index pitch, Index width) {
  const hn::ScalableTag<float> df;
  const auto n = static_cast<Index>(hn::Lanes(df));
  const auto zero = hn::Zero(df);
  auto probe = zero;
  float tail = 0.0f;
  for (Index r = 0; r < count; ++r) {
    const float* row = rows + r * pitch;
    Index c = 0;
    for (; c + n <= width; c += n) probe = hn::MulAdd(hn::LoadU(df, row + c), zero, probe);
    for (; c < width; ++c) tail += row[c] * 0.0f;
  }
  return hn::GetLane(hn::SumOfLanes(df, probe)) == 0.0f && tail == 0.0f;
}

}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>

namespace mha::cpu {

HWY_EXPORT(RowsAllFinite);

bool rows_all_finite(const float* rows, Index count, Index pitch, Index width, Index step) {
  if (width <= 1 || step == 1) return HWY_DYNAMIC_DISPATCH(RowsAllFinite)(rows, count, pitch, width);
  for (Index r = 0; r < count; ++r)
    for (Index c = 0; c < width; ++c)
      if (!std::isfinite(rows[r * pitch + c * step])) return false;
  return true;
}

bool values_all_finite(const TensorView<const float>& v) {
  for (Index b = 0; b < v.dim(0); ++b)
    for (Index h = 0; h < v.dim(1); ++h)
      if (!rows_all_finite(v.data() + b * v.stride(0) + h * v.stride(1), v.dim(2), v.stride(2),
                           v.dim(3), v.stride(3)))
        return false;
  return true;
}

}  // namespace mha::cpu
#endif
