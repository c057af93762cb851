// The sinusoidal positions against the paper's formula, element by element.
#include <cmath>

#include <gtest/gtest.h>

#include "mha/layers/positional_encoding.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

TEST(SinusoidalPositions, FollowThePaperFormula) {
  const Tensor<> pe = sinusoidal_positions(5, 6);
  EXPECT_FLOAT_EQ(pe(0, 0), 0.0f);
  EXPECT_FLOAT_EQ(pe(0, 1), 1.0f);
  EXPECT_FLOAT_EQ(pe(3, 2), static_cast<float>(std::sin(3 / std::pow(10000.0, 2.0 / 6))));
  EXPECT_FLOAT_EQ(pe(4, 5), static_cast<float>(std::cos(4 / std::pow(10000.0, 4.0 / 6))));
  EXPECT_TRUE(testing::throws_error([] { (void)sinusoidal_positions(3, 0); },
                                    {"length, width: expected length ≥ 0 and width ≥ 1, got 3, 0"}));
}

}  // namespace
}  // namespace mha
