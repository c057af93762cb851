// Backward of the row-wise layers — LayerNorm, the activations, Linear, FeedForward, Embedding —
// against central differences of their own forward (the loss is Σ y·u for a fixed random u, so
// its gradient is what backward returns for grad_y = u), and the weight gradients written into
// views of a store.
#include <cmath>
#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "mha/layers/embedding.hpp"
#include "mha/layers/feed_forward.hpp"
#include "mha/layers/layer_norm.hpp"
#include "mha/layers/linear_layer.hpp"
#include "testing/expect_error.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

using testing::random_tensor;

double weighted_sum(const Tensor<>& y, const Tensor<>& u) {
  double s = 0;
  for (Index i = 0; i < y.numel(); ++i) s += static_cast<double>(y.data()[i]) * u.data()[i];
  return s;
}

// Central differences of loss() over every element of `target` (changed in place and restored).
// Float inputs limit the step: h = 1e-2 leaves a truncation error O(h²·f''') and a rounding error
// O(ε_f·|f|/h) ≈ 1e-5, both well inside the tolerance below.
void expect_gradient(float* target, Index count, const float* analytic, const std::function<double()>& loss,
                     const char* what) {
  const double h = 1e-2;
  for (Index i = 0; i < count; ++i) {
    const float saved = target[i];
    target[i] = static_cast<float>(saved + h);
    const double plus = loss();
    target[i] = static_cast<float>(saved - h);
    const double minus = loss();
    target[i] = saved;
    const double fd = (plus - minus) / (2 * h);
    EXPECT_NEAR(analytic[i], fd, 2e-3 + 2e-3 * std::fabs(fd)) << what << " element " << i;
  }
}

TEST(LayerNormBackward, MatchesCentralDifferences) {
  Tensor<> x = random_tensor({3, 8}, 1, -2, 2), gamma = random_tensor({8}, 2, 0.5, 1.5),
           beta = random_tensor({8}, 3), u = random_tensor({3, 8}, 4);
  const auto norm = [&] { return LayerNorm(Weight::borrowed(gamma.view()), Weight::borrowed(beta.view()), 1e-5); };
  LayerNormTape tape;
  (void)norm().forward(x.view(), &tape);
  Tensor<> d_gamma({8}), d_beta({8});
  const Tensor<> dx = norm().backward(tape, u.view(), {d_gamma.view(), d_beta.view()});
  const auto loss = [&] { return weighted_sum(norm().forward(x.view()), u); };
  expect_gradient(x.data(), x.numel(), dx.data(), loss, "dx");
  expect_gradient(gamma.data(), 8, d_gamma.data(), loss, "dγ");
  expect_gradient(beta.data(), 8, d_beta.data(), loss, "dβ");
}

TEST(LayerNormBackward, ResidualFormKeepsTheSum) {
  const Tensor<> x = random_tensor({2, 4}, 5), r = random_tensor({2, 4}, 6);
  const LayerNorm norm(Tensor<>({4}, {1, 1, 1, 1}), Tensor<>({4}), 1e-5);
  LayerNormTape tape;
  (void)norm.forward(x.view(), r.view(), &tape);
  for (Index i = 0; i < x.numel(); ++i) EXPECT_EQ(tape.input.data()[i], x.data()[i] + r.data()[i]);
  EXPECT_TRUE(testing::throws_error([&] { (void)norm.backward(tape, Tensor<>({2, 5}).view(), {}); },
                                    {"grad_y: expected the input's shape [2, 4], got [2, 5]"}));
}

TEST(ActivationBackward, EveryActivationMatchesCentralDifferences) {
  const Tensor<> x = random_tensor({64}, 5, -4, 4), u = random_tensor({64}, 6);
  for (const Activation a : {Activation::gelu, Activation::gelu_tanh, Activation::quick_gelu, Activation::relu}) {
    Tensor<> dx = u;
    activation_backward(a, x.values(), dx.values());
    for (Index i = 0; i < x.numel(); ++i) {
      const double h = 1e-3, v = x.data()[i];
      if (a == Activation::relu && std::fabs(v) < 2 * h) continue;  // the kink
      std::vector<float> plus{static_cast<float>(v + h)}, minus{static_cast<float>(v - h)};
      apply_activation(a, plus);
      apply_activation(a, minus);
      const double fd = (static_cast<double>(plus[0]) - minus[0]) / (2 * h) * u.data()[i];
      EXPECT_NEAR(dx.data()[i], fd, 2e-3) << activation_name(a) << " at x = " << v;
    }
  }
  std::vector<float> three(3);
  EXPECT_TRUE(testing::throws_error([&] { activation_backward(Activation::relu, x.values(), three); },
                                    {"grad: expected 64 values (like x), got 3"}));
}

TEST(LinearBackward, MatchesCentralDifferencesForInputWeightAndBias) {
  Tensor<> x = random_tensor({2, 3, 5}, 7), w = random_tensor({4, 5}, 8), b = random_tensor({4}, 9),
           u = random_tensor({2, 3, 4}, 10);
  const auto layer = [&] { return Linear(Weight::borrowed(w.view()), Weight::borrowed(b.view())); };
  LinearTape tape;
  (void)layer().forward(x.view(), {}, &tape);
  Tensor<> dw({4, 5}), db({4});
  const Tensor<> dx = layer().backward(tape, u.view(), {dw.view(), db.view()});
  const auto loss = [&] { return weighted_sum(layer().forward(x.view()), u); };
  expect_gradient(x.data(), x.numel(), dx.data(), loss, "dx");
  expect_gradient(w.data(), w.numel(), dw.data(), loss, "dW");
  expect_gradient(b.data(), b.numel(), db.data(), loss, "db");
}

TEST(FeedForwardBackward, MatchesCentralDifferences) {
  Tensor<> x = random_tensor({2, 3, 4}, 11), w1 = random_tensor({6, 4}, 12), b1 = random_tensor({6}, 13),
           w2 = random_tensor({4, 6}, 14), b2 = random_tensor({4}, 15), u = random_tensor({2, 3, 4}, 16);
  const auto ffn = [&] {
    return FeedForward(Linear(Weight::borrowed(w1.view()), Weight::borrowed(b1.view())), Activation::gelu,
                       Linear(Weight::borrowed(w2.view()), Weight::borrowed(b2.view())));
  };
  FeedForwardTape tape;
  (void)ffn().forward(x.view(), {}, &tape);
  Tensor<> dw1({6, 4}), db1({6}), dw2({4, 6}), db2({4});
  const Tensor<> dx = ffn().backward(tape, u.view(), {{dw1.view(), db1.view()}, {dw2.view(), db2.view()}});
  const auto loss = [&] { return weighted_sum(ffn().forward(x.view()), u); };
  expect_gradient(x.data(), x.numel(), dx.data(), loss, "dx");
  expect_gradient(w1.data(), w1.numel(), dw1.data(), loss, "dW1");
  expect_gradient(b1.data(), b1.numel(), db1.data(), loss, "db1");
  expect_gradient(w2.data(), w2.numel(), dw2.data(), loss, "dW2");
  expect_gradient(b2.data(), b2.numel(), db2.data(), loss, "db2");
}

TEST(EmbeddingBackward, SumsTheRowsOfRepeatedIdsAndOverwritesTheRest) {
  const Embedding table(random_tensor({4, 3}, 17));
  const Tensor<std::int64_t> ids({2, 2}, {1, 3, 1, 0});
  const Tensor<> u = random_tensor({2, 2, 3}, 18);
  Tensor<> grad({4, 3});
  for (float& g : grad.values()) g = 99;  // stale values must not survive
  table.backward(ids.view(), u.view(), grad.view());
  for (Index d = 0; d < 3; ++d) {
    EXPECT_EQ(grad(1, d), u(0, 0, d) + u(1, 0, d));
    EXPECT_EQ(grad(3, d), u(0, 1, d));
    EXPECT_EQ(grad(0, d), u(1, 1, d));
    EXPECT_EQ(grad(2, d), 0.0f);
  }
  EXPECT_TRUE(testing::throws_error([&] { table.backward(ids.view(), u.view(), Tensor<>({4, 2}).view()); },
                                    {"grad_table: expected a contiguous view of shape [4, 3], got [4, 2]"}));
}

TEST(Weight, BorrowedViewsSeeTheStoreAndOwnedCopiesShare) {
  Tensor<> w({2, 2}, {1, 2, 3, 4});
  const Linear borrowed(Weight::borrowed(w.view()));
  w(0, 0) = 10;  // an optimizer's update, seen by the next call
  const Tensor<> x({1, 2}, {1, 0});
  EXPECT_EQ(borrowed.forward(x.view())(0, 0), 10.0f);
  const Linear owned(Tensor<>({2, 2}, {1, 0, 0, 1}));
  const Linear copy = owned;  // NOLINT(performance-unnecessary-copy-initialization): the point
  EXPECT_EQ(copy.weight().data(), owned.weight().data());
  Tensor<> strided({2, 4});
  EXPECT_TRUE(testing::throws_error(
      [&] { (void)Weight::borrowed(TensorView<const float>(strided.data(), {2, 2}, {4, 1})); },
      {"weight: expected a contiguous view, got strides [4, 1]"}));
}

}  // namespace
}  // namespace mha
