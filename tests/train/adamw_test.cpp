// AdamW: the schedule, one update worked out by hand, clipping, and decay on matrices only.
#include <cmath>

#include <gtest/gtest.h>

#include "mha/train/adamw.hpp"

namespace mha::train {
namespace {

TEST(AdamW, WarmupThenLinearDecayToZero) {
  const Parameters none;
  const AdamW opt({.learning_rate = 1.0, .warmup_steps = 4, .total_steps = 12}, none);
  EXPECT_DOUBLE_EQ(opt.learning_rate(1), 0.25);
  EXPECT_DOUBLE_EQ(opt.learning_rate(4), 1.0);
  EXPECT_DOUBLE_EQ(opt.learning_rate(8), 0.5);
  EXPECT_DOUBLE_EQ(opt.learning_rate(12), 0.0);
  EXPECT_DOUBLE_EQ(opt.learning_rate(20), 0.0);
}

TEST(AdamW, FirstStepMovesByLearningRateTimesSignPlusDecay) {
  Parameters params;
  params.emplace("w", Tensor<>({1, 2}, {1.0f, -2.0f}));
  params.emplace("b", Tensor<>({2}, {0.5f, 0.5f}));
  Parameters grads;
  grads.emplace("w", Tensor<>({1, 2}, {0.1f, -0.3f}));
  grads.emplace("b", Tensor<>({2}, {0.2f, 0.0f}));
  AdamW opt({.learning_rate = 0.01, .weight_decay = 0.1, .warmup_steps = 0, .total_steps = 100,
             .clip_norm = 0},
            params);
  opt.step(params, grads);
  // Step 1: m̂ = g, v̂ = g², so m̂/(√v̂ + ε) = sign(g); lr_1 = 0.01·99/100.
  const double lr = 0.01 * 99 / 100;
  EXPECT_NEAR(params.at("w")(0, 0), 1.0 - lr * (1 + 0.1 * 1.0), 1e-6);
  EXPECT_NEAR(params.at("w")(0, 1), -2.0 - lr * (-1 + 0.1 * -2.0), 1e-6);
  EXPECT_NEAR(params.at("b")(0), 0.5 - lr * 1, 1e-6);  // no decay on a bias
  EXPECT_FLOAT_EQ(params.at("b")(1), 0.5f);              // zero gradient, no decay: unchanged
  EXPECT_EQ(opt.steps_done(), 1);
}

TEST(AdamW, ClipsTheGlobalNormAndReportsItBeforeClipping) {
  Parameters params;
  params.emplace("a", Tensor<>({2}, {0, 0}));
  Parameters grads;
  grads.emplace("a", Tensor<>({2}, {3, 4}));
  AdamW opt({.warmup_steps = 0, .clip_norm = 1.0}, params);
  EXPECT_DOUBLE_EQ(opt.step(params, grads), 5.0);
  // m after one step = (1 − β₁)·g·(1/5).
  EXPECT_NEAR(opt.first_moments().at("a")(0), 0.1 * 3 / 5, 1e-7);
  EXPECT_NEAR(opt.first_moments().at("a")(1), 0.1 * 4 / 5, 1e-7);
}

TEST(AdamW, MismatchedGradientsAndBadSettingsAreNamed) {
  Parameters params;
  params.emplace("a", Tensor<>({2}));
  Parameters grads;
  grads.emplace("a", Tensor<>({3}));
  AdamW opt({}, params);
  EXPECT_THROW(opt.step(params, grads), Error);
  try {
    AdamW bad({.warmup_steps = 20, .total_steps = 10}, params);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("warmup_steps"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mha::train
