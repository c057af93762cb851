// Linear layer: y = x·Wᵀ + b for inputs of rank 1 to 3, strided inputs, no bias, and the errors.
#include "mha/layers/linear_layer.hpp"

#include <gtest/gtest.h>

#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

// y[r, o] = Σ_i x[r, i] · W[o, i] + b[o], on a contiguous [rows, In] copy.
Tensor<> by_hand(const Tensor<>& x, const Tensor<>& w, const Tensor<>& b) {
  const Index in = w.dim(1), out = w.dim(0), rows = x.numel() / in;
  Shape shape = x.shape();
  shape.back() = out;
  Tensor<> y(shape);
  for (Index r = 0; r < rows; ++r)
    for (Index o = 0; o < out; ++o) {
      double acc = b.defined() ? b.data()[o] : 0.0;
      for (Index i = 0; i < in; ++i) acc += double(x.data()[r * in + i]) * w.data()[o * in + i];
      y.data()[r * out + o] = static_cast<float>(acc);
    }
  return y;
}

TEST(LinearLayer, MatchesTheFormulaForEveryRank) {
  const Tensor<> w = testing::random_tensor({5, 3}, 1), b = testing::random_tensor({5}, 2);
  const Linear layer(w, b);
  EXPECT_EQ(layer.in_features(), 3);
  EXPECT_EQ(layer.out_features(), 5);
  for (const Shape& shape : {Shape{3}, Shape{4, 3}, Shape{2, 4, 3}}) {
    const Tensor<> x = testing::random_tensor(shape, 3);
    const Tensor<> y = layer.forward(x.view());
    EXPECT_TRUE(testing::all_close(y.view(), by_hand(x, w, b).view(), 1e-6)) << shape_str(shape);
  }
}

TEST(LinearLayer, ReadsStridedInputAndWorksWithoutBias) {
  const Tensor<> w = testing::random_tensor({2, 4}, 4);
  const Tensor<> x = testing::random_tensor({3, 4}, 5);
  Tensor<> storage;
  const TensorView<float> padded = testing::padded_copy(x.view(), 3, storage);
  const Linear layer(w);
  EXPECT_FALSE(layer.bias().defined());
  EXPECT_TRUE(testing::all_close(layer.forward(padded).view(), by_hand(x, w, {}).view(), 1e-6));
}

TEST(LinearLayer, RejectsBadShapes) {
  EXPECT_TRUE(testing::throws_error([] { Linear(Tensor<>({4})); },
                                    {"weight: expected a rank-2", "got [4]"}));
  EXPECT_TRUE(testing::throws_error(
      [] {
        Linear(Tensor<>({2, 4}), Tensor<>({3}));
      },
      {"bias: expected shape [2]", "got [3]"}));
  const Linear layer(Tensor<>({2, 4}));
  const Tensor<> x({3, 5});
  EXPECT_TRUE(testing::throws_error([&] { layer.forward(x.view()); },
                                    {"x: expected last dimension in_features = 4", "got [3, 5]"}));
}

}  // namespace
}  // namespace mha
