// Whether rows of floats hold NaN or ±Inf: both attention paths must know it of the values before
// P·V (a blocked key's value may not be multiplied by p = 0), so one SIMD scan serves both.
#pragma once

#include "mha/core/tensor.hpp"

namespace mha::cpu {

// Whether `count` rows of `width` floats are all finite: element c of row r at
// rows[r·pitch + c·step] (SIMD where step is 1, element by element otherwise).
bool rows_all_finite(const float* rows, Index count, Index pitch, Index width, Index step);

// Whether every element of v ([B, H, L, W], any strides) is finite.
bool values_all_finite(const TensorView<const float>& v);

}  // namespace mha::cpu
