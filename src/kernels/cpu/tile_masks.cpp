// Mask terms for one row of a key tile, read through the masks' strides (0 = broadcast).
// Scalar on purpose: it runs once per (row, tile) only when masks are given, and once per tile
// when every mask broadcasts over query rows (key padding), which is cheap next to the
// D-long dot products of the same tile.
#include <limits>

#include "kernels/cpu/attention_plan.hpp"

namespace mha::cpu {

void mask_row_bias(std::span<const Mask> masks, Index b, Index h, Index i, Index j0, Index width,
                   float* bias) {
  constexpr float kBlocked = -std::numeric_limits<float>::infinity();
  for (Index c = 0; c < width; ++c) bias[c] = 0.0f;
  for (const Mask& mask : masks) {
    if (mask.kind == MaskKind::additive) {
      const TensorView<const float>& v = mask.values;
      const float* row = v.data() + b * v.stride(0) + h * v.stride(1) + i * v.stride(2);
      const Index step = v.stride(3);
      for (Index c = 0; c < width; ++c) {
        const float add = row[(j0 + c) * step];
        // −∞ blocks; a blocked key stays −∞ whatever else is added (no −∞ + ∞ = NaN).
        if (add == kBlocked || bias[c] == kBlocked)
          bias[c] = kBlocked;
        else
          bias[c] += add;
      }
      continue;
    }
    const TensorView<const std::uint8_t>& f = mask.flags;
    const std::uint8_t* row = f.data() + b * f.stride(0) + h * f.stride(1) + i * f.stride(2);
    const Index step = f.stride(3);
    const bool blocked_when_set = mask.kind == MaskKind::block;
    for (Index c = 0; c < width; ++c)
      if ((row[(j0 + c) * step] != 0) == blocked_when_set) bias[c] = kBlocked;
  }
}

const float* tile_row_bias(std::span<const Mask> masks, bool vary_by_row, Index b, Index h,
                           Index i0, Index r, Index j0, Index width, float* bias, Index pitch) {
  if (masks.empty()) return nullptr;
  if (!vary_by_row) {
    if (r == 0) mask_row_bias(masks, b, h, i0, j0, width, bias);
    return bias;
  }
  float* row = bias + r * pitch;
  mask_row_bias(masks, b, h, i0 + r, j0, width, row);
  return row;
}

}  // namespace mha::cpu
