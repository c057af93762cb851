// FeedForward = output(act(intermediate(x))), checked against the three steps done by hand.
#include <gtest/gtest.h>

#include "mha/layers/feed_forward.hpp"
#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

TEST(FeedForwardLayer, ComposesLinearActivationLinear) {
  const Linear first(testing::random_tensor({8, 4}, 1), testing::random_tensor({8}, 2));
  const Linear second(testing::random_tensor({4, 8}, 3), testing::random_tensor({4}, 4));
  const Tensor<> x = testing::random_tensor({2, 3, 4}, 5, -3.0f, 3.0f);
  for (Activation a :
       {Activation::gelu, Activation::gelu_tanh, Activation::quick_gelu, Activation::relu}) {
    const FeedForward ffn(first, a, second);
    Tensor<> hidden = first.forward(x.view());
    apply_activation(a, hidden.values());
    const Tensor<> expected = second.forward(hidden.view());
    EXPECT_TRUE(testing::all_close(ffn.forward(x.view()).view(), expected.view(), 0))
        << activation_name(a);
  }
}

TEST(FeedForwardLayer, RejectsMismatchedWidths) {
  EXPECT_TRUE(testing::throws_error(
      [] {
        FeedForward(Linear(Tensor<>({8, 4})), Activation::gelu, Linear(Tensor<>({4, 6})));
      },
      {"output: expected in_features = intermediate.out_features = 8", "got 6"}));
}

}  // namespace
}  // namespace mha
