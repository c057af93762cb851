// The sizes of one attention call as the fast kernels' plans keep them, read once from the
// validated views (mha/kernels/attention.hpp: q [B, Hq, Lq, D], k [B, Hkv, Lk, D], v [B, Hkv, Lk, Dv]).
#pragma once

#include <span>

#include "mha/kernels/attention.hpp"

namespace mha::cpu {

struct AttentionSizes {
  Index batch = 0, heads = 0, kv_heads = 0, group = 1;  // group = Hq / Hkv
  Index lq = 0, lk = 0, d = 0, dv = 0;

  static AttentionSizes of(const TensorView<const float>& q, const TensorView<const float>& k,
                           const TensorView<const float>& v) {
    return {q.dim(0), q.dim(1), k.dim(1), q.dim(1) / k.dim(1), q.dim(2), k.dim(2), q.dim(3), v.dim(3)};
  }
};

// Whether some mask has a nonzero stride along Lq, so its terms must be read row by row.
inline bool masks_vary_by_row(std::span<const Mask> masks) {
  for (const Mask& m : masks) {
    const Shape& strides = m.kind == MaskKind::additive ? m.values.strides() : m.flags.strides();
    if (strides[2] != 0) return true;
  }
  return false;
}

}  // namespace mha::cpu
