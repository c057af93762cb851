// Numeric comparison helpers for tests. A failure names the worst element's index, both values,
// |Δ|, the tolerance and how many elements are outside it (../shared/numerics.md).
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "mha/core/tensor.hpp"

namespace mha::testing {

struct Comparison {
  Index count_outside = 0;
  Index worst_flat_index = -1;
  double worst_actual = 0, worst_expected = 0, worst_abs_diff = 0;
  bool shape_mismatch = false;
};

// Element-wise |actual − expected| ≤ atol + rtol·|expected|. NaN anywhere fails unless both are
// NaN at the same place.
Comparison compare(TensorView<const float> actual, TensorView<const float> expected, double atol,
                   double rtol = 0.0);

// Largest |actual − expected| (NaN if the shapes differ or a NaN appears on one side only).
double max_abs_diff(TensorView<const float> actual, TensorView<const float> expected);

// GoogleTest assertion: the same shape and the same bits in every element (so −0 differs from
// +0); prints the first element that differs.
::testing::AssertionResult bit_identical(TensorView<const float> actual,
                                         TensorView<const float> expected);

// GoogleTest assertion: EXPECT_TRUE(all_close(a, b, 1e-5)) prints the worst element on failure.
::testing::AssertionResult all_close(TensorView<const float> actual,
                                     TensorView<const float> expected, double atol,
                                     double rtol = 0.0);

}  // namespace mha::testing
