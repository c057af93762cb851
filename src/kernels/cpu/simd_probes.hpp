// Test seams of the SIMD building blocks (simd_probes.cpp); the speed probe is public
// (mha::measure_tile_product_gflops in mha/kernels/cpu_info.hpp).
#pragma once

#include "mha/core/shape.hpp"

namespace mha::cpu {

// y[i] = 2^t[i] by the fast kernels' exponential (exp2-inl.h), on the dispatcher's target.
void exp2_nonpositive_values(const float* t, float* y, Index count);

}  // namespace mha::cpu
