// TensorView: pointer + shape + strides, any strides (0 broadcasts), const conversion.
#include <type_traits>

#include <gtest/gtest.h>

#include "mha/core/tensor.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

using testing::throws_error;

TEST(TensorView, DefaultIsAbsent) {
  const TensorView<const float> v;
  EXPECT_FALSE(v.defined());
  EXPECT_EQ(v.rank(), 0);
}

TEST(TensorView, ContiguousStridesByDefault) {
  float data[24] = {};
  const TensorView<float> v(data, {2, 3, 4});
  EXPECT_EQ(v.strides(), (Shape{12, 4, 1}));
  EXPECT_TRUE(v.is_contiguous());
  EXPECT_EQ(v.numel(), 24);
  EXPECT_EQ(&v(1, 2, 3), &data[23]);
}

TEST(TensorView, ElementAccessFollowsCustomStrides) {
  float data[12];
  for (int n = 0; n < 12; ++n) data[n] = static_cast<float>(n);
  // Column-major 3 × 4 view of the same buffer.
  const TensorView<const float> v(data, {3, 4}, {1, 3});
  EXPECT_FALSE(v.is_contiguous());
  EXPECT_EQ(v(0, 1), 3.0f);
  EXPECT_EQ(v(2, 3), 11.0f);
  EXPECT_EQ(v.stride(0), 1);
  EXPECT_EQ(v.stride(-1), 3);
}

TEST(TensorView, StrideZeroBroadcasts) {
  const float row[3] = {1, 2, 3};
  const TensorView<const float> v(row, {5, 3}, {0, 1});
  for (Index i = 0; i < 5; ++i) {
    EXPECT_EQ(&v(i, 0), &row[0]);
    EXPECT_EQ(v(i, 2), 3.0f);
  }
  EXPECT_EQ(v.numel(), 15);
}

TEST(TensorView, NegativeDimCountsFromTheEnd) {
  float data[30] = {};
  const TensorView<float> v(data, {2, 3, 5});
  EXPECT_EQ(v.dim(-1), 5);
  EXPECT_EQ(v.dim(-2), 3);
  EXPECT_EQ(v.dim(-3), 2);
  EXPECT_EQ(v.stride(-2), 5);
  EXPECT_EQ(v.rank(), 3);
}

TEST(TensorView, MutableConvertsToConstButNotBack) {
  static_assert(std::is_convertible_v<TensorView<float>, TensorView<const float>>);
  static_assert(!std::is_convertible_v<TensorView<const float>, TensorView<float>>);
  static_assert(!std::is_convertible_v<TensorView<float>, TensorView<const double>>);
  float data[6] = {};
  const TensorView<float> v(data, {2, 3}, {1, 2});
  const TensorView<const float> c = v;
  EXPECT_EQ(c.data(), v.data());
  EXPECT_EQ(c.shape(), v.shape());
  EXPECT_EQ(c.strides(), v.strides());
}

TEST(TensorView, WritesThroughAMutableView) {
  Tensor<> t({2, 2});
  const TensorView<float> v = t.view();
  v(1, 0) = 5.0f;
  EXPECT_EQ(t(1, 0), 5.0f);
}

TEST(TensorView, StridesMustMatchTheRank) {
  float data[6] = {};
  EXPECT_TRUE(throws_error([&] { TensorView<float>(data, {2, 3}, {3, 1, 1}); },
                           {"strides: expected one stride per dimension (2), got 3"}));
  EXPECT_TRUE(throws_error([&] { TensorView<float>(data, {2, 3}, {}); },
                           {"strides: expected one stride per dimension (2), got 0"}));
}

TEST(TensorView, NegativeExtentIsRejected) {
  float data[1] = {};
  EXPECT_TRUE(throws_error([&] { TensorView<float>(data, {-2}); }, {"shape: expected non-negative extents, got [-2]"}));
}

}  // namespace
}  // namespace mha
