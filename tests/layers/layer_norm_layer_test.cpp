// LayerNorm against F.layer_norm (PyTorch 1.13, float64) and its residual form.
#include <gtest/gtest.h>

#include "mha/layers/layer_norm.hpp"
#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

TEST(LayerNormLayer, MatchesTorch) {
  const LayerNorm norm(Tensor<>({4}, {1, 2, 0.5f, 1}), Tensor<>({4}, {0, 0.1f, 0, -1}), 1e-5);
  const Tensor<> x({2, 4}, {1, 2, 3, 4, 101, 102, 103, 104});
  // F.layer_norm(x, (4,), weight, bias, eps=1e-5): both rows normalise to the same values.
  const Tensor<> expected({2, 4}, {-1.341635419968927f, -0.7944236133126182f, 0.22360590332815444f,
                                   0.3416354199689269f, -1.341635419968927f, -0.7944236133126182f,
                                   0.22360590332815444f, 0.3416354199689269f});
  EXPECT_TRUE(testing::all_close(norm.forward(x.view()).view(), expected.view(), 1e-6));
}

TEST(LayerNormLayer, ConstantRowGivesBeta) {
  const LayerNorm norm(Tensor<>({3}, {2, 2, 2}), Tensor<>({3}, {0.5f, -1, 3}), 1e-12);
  const Tensor<> x({1, 3}, {7, 7, 7});
  EXPECT_TRUE(
      testing::all_close(norm.forward(x.view()).view(), Tensor<>({1, 3}, {0.5f, -1, 3}).view(), 0));
}

TEST(LayerNormLayer, ResidualFormNormalisesTheSum) {
  const LayerNorm norm(testing::random_tensor({6}, 1), testing::random_tensor({6}, 2), 1e-12);
  const Tensor<> x = testing::random_tensor({2, 3, 6}, 3), r = testing::random_tensor({2, 3, 6}, 4);
  Tensor<> sum = x;
  for (Index i = 0; i < sum.numel(); ++i) sum.data()[i] += r.data()[i];
  EXPECT_TRUE(testing::all_close(norm.forward(x.view(), r.view()).view(),
                                 norm.forward(sum.view()).view(), 0));
}

TEST(LayerNormLayer, RejectsBadArguments) {
  EXPECT_TRUE(testing::throws_error([] { LayerNorm(Tensor<>({4}), Tensor<>({3}), 1e-5); },
                                    {"bias: expected shape [4]", "got [3]"}));
  EXPECT_TRUE(testing::throws_error([] { LayerNorm(Tensor<>({4}), Tensor<>({4}), 0.0); },
                                    {"eps: expected a finite number > 0"}));
  const LayerNorm norm(Tensor<>({4}), Tensor<>({4}), 1e-5);
  const Tensor<> x({2, 5}), y({2, 4}), r({4, 2});
  EXPECT_TRUE(
      testing::throws_error([&] { norm.forward(x.view()); }, {"x: expected last dimension 4"}));
  EXPECT_TRUE(testing::throws_error([&] { norm.forward(y.view(), r.view()); },
                                    {"residual: expected shape [2, 4]", "got [4, 2]"}));
}

}  // namespace
}  // namespace mha
