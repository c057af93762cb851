// AdamW: the schedule, one update worked out by hand, clipping, and decay on matrices only.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "mha/train/adamw.hpp"

namespace mha::train {
namespace {

// A store holding `tensors` (name, values), in that order.
TensorStore store_of(const std::vector<std::pair<std::string, Tensor<>>>& tensors) {
  auto layout = std::make_shared<TensorLayout>();
  for (const auto& [name, t] : tensors) layout->add(name, t.shape());
  TensorStore store(layout);
  for (std::size_t i = 0; i < tensors.size(); ++i)
    std::copy_n(tensors[i].second.data(), tensors[i].second.numel(), store[static_cast<Index>(i)].data());
  return store;
}

TEST(AdamW, WarmupThenLinearDecayToZero) {
  const TensorStore none = store_of({});
  const AdamW opt({.learning_rate = 1.0, .warmup_steps = 4, .total_steps = 12}, none);
  EXPECT_DOUBLE_EQ(opt.learning_rate(1), 0.25);
  EXPECT_DOUBLE_EQ(opt.learning_rate(4), 1.0);
  EXPECT_DOUBLE_EQ(opt.learning_rate(8), 0.5);
  EXPECT_DOUBLE_EQ(opt.learning_rate(12), 0.0);
  EXPECT_DOUBLE_EQ(opt.learning_rate(20), 0.0);
}

TEST(AdamW, FirstStepMovesByLearningRateTimesSignPlusDecay) {
  TensorStore params = store_of({{"w", Tensor<>({1, 2}, {1.0f, -2.0f})}, {"b", Tensor<>({2}, {0.5f, 0.5f})}});
  const TensorStore grads =
      store_of({{"w", Tensor<>({1, 2}, {0.1f, -0.3f})}, {"b", Tensor<>({2}, {0.2f, 0.0f})}});
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
  TensorStore params = store_of({{"a", Tensor<>({2}, {0, 0})}});
  const TensorStore grads = store_of({{"a", Tensor<>({2}, {3, 4})}});
  AdamW opt({.warmup_steps = 0, .clip_norm = 1.0}, params);
  EXPECT_DOUBLE_EQ(opt.step(params, grads), 5.0);
  // m after one step = (1 − β₁)·g·(1/5).
  EXPECT_NEAR(opt.first_moments().at("a")(0), 0.1 * 3 / 5, 1e-7);
  EXPECT_NEAR(opt.first_moments().at("a")(1), 0.1 * 4 / 5, 1e-7);
}

TEST(AdamW, MismatchedGradientsAndBadSettingsAreNamed) {
  TensorStore params = store_of({{"a", Tensor<>({2})}});
  const TensorStore grads = store_of({{"a", Tensor<>({3})}});
  AdamW opt({}, params);
  try {
    opt.step(params, grads);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a: expected shape [2], got [3]"), std::string::npos) << e.what();
  }
  try {
    AdamW bad({.warmup_steps = 20, .total_steps = 10}, params);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("warmup_steps"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mha::train
