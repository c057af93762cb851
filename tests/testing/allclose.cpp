#include "testing/allclose.hpp"

#include <cmath>
#include <cstring>
#include <sstream>

namespace mha::testing {
namespace {

// Flat row-major index → multi-index text "[i, j, k]".
std::string index_str(const Shape& shape, Index flat) {
  Shape idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] > 0 ? flat % shape[d] : 0;
    flat = shape[d] > 0 ? flat / shape[d] : 0;
  }
  return shape_str(idx);
}

}  // namespace

Comparison compare(TensorView<const float> actual, TensorView<const float> expected, double atol,
                   double rtol) {
  Comparison c;
  if (actual.shape() != expected.shape()) {
    c.shape_mismatch = true;
    return c;
  }
  const Tensor<> a = Tensor<>::copy_of(actual);
  const Tensor<> e = Tensor<>::copy_of(expected);
  double worst_excess = -1;
  for (Index n = 0; n < a.numel(); ++n) {
    const double x = a.data()[n], y = e.data()[n];
    const bool both_nan = std::isnan(x) && std::isnan(y);
    const bool same_inf = std::isinf(x) && x == y;
    double diff = (both_nan || same_inf) ? 0.0 : std::abs(x - y);
    if (std::isnan(diff)) diff = std::numeric_limits<double>::infinity();
    const double tol = atol + rtol * std::abs(y);
    if (diff > tol) ++c.count_outside;
    const double excess = diff - tol;
    if (excess > worst_excess || c.worst_flat_index < 0) {
      worst_excess = excess;
      c.worst_flat_index = n;
      c.worst_actual = x;
      c.worst_expected = y;
      c.worst_abs_diff = diff;
    }
  }
  return c;
}

double max_abs_diff(TensorView<const float> actual, TensorView<const float> expected) {
  const Comparison c = compare(actual, expected, 0.0);
  if (c.shape_mismatch) return std::nan("");
  double worst = 0;
  const Tensor<> a = Tensor<>::copy_of(actual);
  const Tensor<> e = Tensor<>::copy_of(expected);
  for (Index n = 0; n < a.numel(); ++n) {
    const double x = a.data()[n], y = e.data()[n];
    if (std::isnan(x) != std::isnan(y)) return std::nan("");
    if (!std::isnan(x) && !(std::isinf(x) && x == y)) worst = std::max(worst, std::abs(x - y));
  }
  return worst;
}

::testing::AssertionResult bit_identical(TensorView<const float> actual,
                                         TensorView<const float> expected) {
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape mismatch: actual " << shape_str(actual.shape())
                                         << ", expected " << shape_str(expected.shape());
  const Tensor<> a = Tensor<>::copy_of(actual);
  const Tensor<> e = Tensor<>::copy_of(expected);
  for (Index n = 0; n < a.numel(); ++n)
    if (std::memcmp(a.data() + n, e.data() + n, sizeof(float)) != 0) {
      std::ostringstream msg;
      msg.precision(9);
      msg << "first difference at " << index_str(actual.shape(), n) << ": actual " << a.data()[n]
          << ", expected " << e.data()[n];
      return ::testing::AssertionFailure() << msg.str();
    }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult all_close(TensorView<const float> actual,
                                     TensorView<const float> expected, double atol, double rtol) {
  const Comparison c = compare(actual, expected, atol, rtol);
  if (c.shape_mismatch)
    return ::testing::AssertionFailure() << "shape mismatch: actual " << shape_str(actual.shape())
                                         << ", expected " << shape_str(expected.shape());
  if (c.count_outside == 0) return ::testing::AssertionSuccess();
  std::ostringstream msg;
  msg.precision(9);
  msg << c.count_outside << " of " << actual.numel() << " elements outside |Δ| <= " << atol
      << " + " << rtol << "·|expected|; worst at " << index_str(actual.shape(), c.worst_flat_index)
      << ": actual " << c.worst_actual << ", expected " << c.worst_expected
      << ", |Δ| = " << c.worst_abs_diff;
  return ::testing::AssertionFailure() << msg.str();
}

}  // namespace mha::testing
