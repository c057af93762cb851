// The setup the reference kernel's tests share (reference_attention_test.cpp for values, scale,
// GQA and sizes; reference_masks_test.cpp for masking): the test helpers they call, their
// tolerance, and the one-head example small enough to work out by hand.
#pragma once

#include "mha/core/tensor.hpp"
#include "testing/allclose.hpp"
#include "testing/naive_attention.hpp"
#include "testing/random_tensor.hpp"
#include "testing/run_attention.hpp"

namespace mha::reference_test {

using testing::all_close;
using testing::naive_attention;
using testing::random_tensor;
using testing::run_attention;

// The reference kernel accumulates in float64 and stores float32: results of order 1 agree with
// hand-derived values and the naive oracle to a few float32 ulps (ε ≈ 1.2e-7).
inline constexpr double kTol = 1e-6;

// One batch, one head, two queries, three keys:
//   q0 = [1, 0], q1 = [0, 1];  k0 = [1, 0], k1 = [0, 1], k2 = [1, 1];  v = [1, 2], [3, 4], [5, 6].
// Scores (scale 1): row 0 = [1, 0, 1], row 1 = [0, 1, 1].
struct HandExample {
  Tensor<> q{{1, 1, 2, 2}, {1, 0, 0, 1}};
  Tensor<> k{{1, 1, 3, 2}, {1, 0, 0, 1, 1, 1}};
  Tensor<> v{{1, 1, 3, 2}, {1, 2, 3, 4, 5, 6}};
};

}  // namespace mha::reference_test
