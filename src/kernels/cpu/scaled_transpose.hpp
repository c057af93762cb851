// dst = factor·srcᵀ for the fast kernels' packing (the forward's scaled Kᵀ tiles, the backward's Kᵀ and Vᵀ):
// a register transpose per SIMD target.
#pragma once

#include "mha/core/shape.hpp"

namespace mha::cpu {

// dst[c·dst_row + r] = factor·src[r·src_row + c·src_col] for r < rows, c < cols.
void scaled_transpose(const float* src, Index src_row, Index src_col, Index rows, Index cols,
                      float factor, float* dst, Index dst_row);

}  // namespace mha::cpu
