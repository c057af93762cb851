// Activations against PyTorch 1.13 values (float64): F.gelu, F.gelu(approximate="tanh"),
// x·sigmoid(1.702·x), relu.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "mha/layers/activation.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

const std::vector<float> kInputs = {-2.0f, -0.5f, 0.0f, 1.0f, 3.0f};

std::vector<float> activated(Activation a) {
  std::vector<float> v = kInputs;
  apply_activation(a, v);
  return v;
}

void expect_values(Activation a, const std::array<double, 5>& expected) {
  const std::vector<float> got = activated(a);
  for (std::size_t i = 0; i < expected.size(); ++i)
    // Computed in float64 and rounded once: within half a float ulp (1.2e-7 near 3).
    EXPECT_NEAR(got[i], expected[i], 1.3e-7) << activation_name(a) << " at x = " << kInputs[i];
}

TEST(ActivationLayer, ExactGeluMatchesTorch) {
  expect_values(Activation::gelu, {-0.04550026389635842, -0.15426876936299344, 0.0,
                                   0.841344746068543, 2.99595030590511});
}

TEST(ActivationLayer, TanhGeluMatchesTorch) {
  expect_values(Activation::gelu_tanh, {-0.04540230591222494, -0.15428599017485606, 0.0,
                                        0.8411919906082768, 2.996362607918227});
}

TEST(ActivationLayer, QuickGeluAndRelu) {
  expect_values(Activation::quick_gelu, {-0.06434137685579186, -0.1496115633936199, 0.0,
                                         0.8457957659328212, 2.981928690292214});
  expect_values(Activation::relu, {0.0, 0.0, 0.0, 1.0, 3.0});
}

TEST(ActivationLayer, ParsesHuggingFaceNames) {
  EXPECT_EQ(parse_activation("gelu"), Activation::gelu);
  EXPECT_EQ(parse_activation("gelu_new"), Activation::gelu_tanh);
  EXPECT_EQ(parse_activation("gelu_pytorch_tanh"), Activation::gelu_tanh);
  EXPECT_EQ(parse_activation("gelu_fast"), Activation::gelu_tanh);
  EXPECT_EQ(parse_activation("quick_gelu"), Activation::quick_gelu);
  EXPECT_EQ(parse_activation("relu"), Activation::relu);
  for (Activation a :
       {Activation::gelu, Activation::gelu_tanh, Activation::quick_gelu, Activation::relu})
    EXPECT_EQ(parse_activation(activation_name(a)), a);
}

TEST(ActivationLayer, UnknownNameIsAnErrorNamingIt) {
  EXPECT_TRUE(testing::throws_error([] { parse_activation("swish", "hidden_act"); },
                                    {"hidden_act: expected one of gelu", "got \"swish\""}));
}

}  // namespace
}  // namespace mha
