// Cross-entropy against values worked out by hand.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mha/train/cross_entropy.hpp"

namespace mha::train {
namespace {

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

}  // namespace
}  // namespace mha::train
