// The row-wise training pieces: LayerNorm and activation backward against central differences of
// their own forward, cross-entropy against values worked out by hand.
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "mha/train/functional.hpp"

namespace mha::train {
namespace {

Tensor<> uniform(Shape shape, std::uint32_t seed, float lo = -1, float hi = 1) {
  Tensor<> t(std::move(shape));
  std::mt19937 rng(seed);
  for (float& x : t.values()) x = lo + (hi - lo) * static_cast<float>(rng() % 100000) / 100000.0f;
  return t;
}

// Σ dy·f(x) as a function of x: its gradient is the backward's dx.
double weighted_sum(const Tensor<>& y, const Tensor<>& dy) {
  double s = 0;
  for (Index i = 0; i < y.numel(); ++i) s += static_cast<double>(y.data()[i]) * dy.data()[i];
  return s;
}

TEST(LayerNormBackward, MatchesCentralDifferences) {
  const Tensor<> x = uniform({3, 8}, 1, -2, 2), gamma = uniform({8}, 2, 0.5, 1.5),
                 beta = uniform({8}, 3), dy = uniform({3, 8}, 4);
  const double eps = 1e-5;
  const LayerNormGradients g = layer_norm_backward(x, gamma, dy, eps);
  const double h = 1e-2;
  for (Index i = 0; i < x.numel(); ++i) {
    Tensor<> plus = x, minus = x;
    plus.data()[i] += static_cast<float>(h);
    minus.data()[i] -= static_cast<float>(h);
    const double fd = (weighted_sum(layer_norm_forward(plus, gamma, beta, eps), dy) -
                       weighted_sum(layer_norm_forward(minus, gamma, beta, eps), dy)) / (2 * h);
    EXPECT_NEAR(g.dx.data()[i], fd, 2e-3 + 2e-3 * std::fabs(fd)) << "dx element " << i;
  }
  const Tensor<> y = layer_norm_forward(x, gamma, Tensor<>({8}), eps);  // x̂·γ
  for (Index n = 0; n < 8; ++n) {
    double dgamma = 0, dbeta = 0;
    for (Index r = 0; r < 3; ++r) {
      dgamma += static_cast<double>(dy(r, n)) * y(r, n) / gamma(n);
      dbeta += dy(r, n);
    }
    EXPECT_NEAR(g.dgamma(n), dgamma, 1e-5);
    EXPECT_NEAR(g.dbeta(n), dbeta, 1e-6);
  }
}

TEST(ActivationBackward, EveryActivationMatchesCentralDifferences) {
  const Tensor<> x = uniform({64}, 5, -4, 4), dy = uniform({64}, 6);
  for (const Activation a : {Activation::gelu, Activation::gelu_tanh, Activation::quick_gelu, Activation::relu}) {
    const Tensor<> dx = activation_backward(a, x, dy);
    for (Index i = 0; i < x.numel(); ++i) {
      const double h = 1e-3, v = x.data()[i];
      if (a == Activation::relu && std::fabs(v) < 2 * h) continue;  // the kink
      std::vector<float> plus{static_cast<float>(v + h)}, minus{static_cast<float>(v - h)};
      apply_activation(a, plus);
      apply_activation(a, minus);
      const double fd = (static_cast<double>(plus[0]) - minus[0]) / (2 * h) * dy.data()[i];
      EXPECT_NEAR(dx.data()[i], fd, 2e-3) << activation_name(a) << " at x = " << v;
    }
  }
}

TEST(CrossEntropy, UniformLogitsGiveLogVAndSkipUnpredictedRows) {
  const Tensor<> logits({3, 4});  // all zero: softmax = 1/4
  const std::vector<std::int64_t> targets{2, -1, 0};
  const CrossEntropy ce = cross_entropy(logits, targets);
  EXPECT_EQ(ce.predicted, 2);
  EXPECT_NEAR(ce.loss, std::log(4.0), 1e-12);
  // dz = (p − onehot) / T with T = 2.
  EXPECT_FLOAT_EQ(ce.dlogits(0, 2), (0.25f - 1) / 2);
  EXPECT_FLOAT_EQ(ce.dlogits(0, 1), 0.25f / 2);
  for (Index v = 0; v < 4; ++v) EXPECT_EQ(ce.dlogits(1, v), 0.0f);
}

TEST(CrossEntropy, LargeLogitsStayFiniteAndCountCorrectRows) {
  Tensor<> logits({2, 3});
  logits(0, 0) = 1000, logits(0, 1) = 0, logits(0, 2) = -1000;
  logits(1, 0) = 0, logits(1, 1) = 1000, logits(1, 2) = 1000;
  const std::vector<std::int64_t> targets{0, 0};
  const CrossEntropy ce = cross_entropy(logits, targets);
  EXPECT_NEAR(ce.loss, (0.0 + (1000 + std::log(2.0))) / 2, 1e-9);
  EXPECT_EQ(ce.correct, 1);
  for (const float g : ce.dlogits.values()) EXPECT_TRUE(std::isfinite(g));
}

TEST(CrossEntropy, TargetOutOfRangeIsNamed) {
  const Tensor<> logits({1, 3});
  const std::vector<std::int64_t> bad{3};
  try {
    (void)cross_entropy(logits, bad);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("targets"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("3 at row 0"), std::string::npos) << e.what();
  }
}

TEST(SinusoidalPositions, FollowThePaperFormula) {
  const Tensor<> pe = sinusoidal_positions(5, 6);
  EXPECT_FLOAT_EQ(pe(0, 0), 0.0f);
  EXPECT_FLOAT_EQ(pe(0, 1), 1.0f);
  EXPECT_FLOAT_EQ(pe(3, 2), static_cast<float>(std::sin(3 / std::pow(10000.0, 2.0 / 6))));
  EXPECT_FLOAT_EQ(pe(4, 5), static_cast<float>(std::cos(4 / std::pow(10000.0, 4.0 / 6))));
}

}  // namespace
}  // namespace mha::train
