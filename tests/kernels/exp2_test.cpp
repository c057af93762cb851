// The fast kernels' exponential (src/kernels/cpu/exp2-inl.h) against exp2 in double, on every
// SIMD target this CPU runs. Its stated bound: relative error below 2^−23 ≈ 1.19e-7 (one float
// ulp) for −125 ≤ t ≤ 0 (the worst seen, 9.5e-8, is near t = −8.5), exactly 0 below −125 and
// at −∞, and NaN at NaN, also for NaNs with payload bits (which adding k to the exponent bits
// could turn into numbers).
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/attention_plan.hpp"
#include "kernels/cpu/simd_probes.hpp"
#include "testing/forced_target.hpp"

namespace mha::testing {
namespace {

constexpr double kBound = 0x1p-23;

TEST(FastExp2, MeetsItsBoundOnEveryRunnableTarget) {
  // A dense sweep of [−125, 0] (odd count: the vector loop and its tail both run) plus the ends,
  // the polynomial's seams at half-integers and their neighbours.
  std::vector<float> t;
  constexpr int kSteps = 1'000'001;
  for (int i = 0; i < kSteps; ++i) t.push_back(-125.0f * static_cast<float>(i) / (kSteps - 1));
  for (float k = 0.0f; k >= -124.0f; k -= 1.0f)
    for (float x : {k - 0.5f, k, k - 0.25f})
      for (float y : {std::nextafter(x, -200.0f), x, std::nextafter(x, 0.0f)})
        if (y <= 0.0f && y >= -125.0f) t.push_back(y);
  const std::size_t finite = t.size();
  for (float x : {-125.5f, -200.0f, -1e30f, -std::numeric_limits<float>::infinity()}) t.push_back(x);
  const std::size_t zeros = t.size();
  for (std::uint32_t bits : {0x7fc00000u, 0xffc00000u, 0x7fc001ffu, 0x7fffffffu, 0xffc12345u})
    t.push_back(std::bit_cast<float>(bits));

  for (const std::int64_t target : runnable_targets(cpu::compiled_simd_targets())) {
    const ForcedTarget forced(target);
    SCOPED_TRACE(std::string("target ") + hwy::TargetName(target));
    std::vector<float> y(t.size(), -1.0f);
    cpu::exp2_nonpositive_values(t.data(), y.data(), static_cast<Index>(t.size()));
    double worst = 0.0;
    std::size_t worst_at = 0;
    for (std::size_t i = 0; i < finite; ++i) {
      const double exact = std::exp2(static_cast<double>(t[i]));
      const double error = std::abs(static_cast<double>(y[i]) - exact) / exact;
      if (error > worst) {
        worst = error;
        worst_at = i;
      }
    }
    EXPECT_LE(worst, kBound) << "at t = " << t[worst_at] << ": " << y[worst_at] << " vs "
                             << std::exp2(static_cast<double>(t[worst_at]));
    for (std::size_t i = finite; i < zeros; ++i) EXPECT_EQ(y[i], 0.0f) << "t = " << t[i];
    for (std::size_t i = zeros; i < t.size(); ++i)
      EXPECT_TRUE(std::isnan(y[i])) << "NaN with bits " << std::hex << std::bit_cast<std::uint32_t>(t[i])
                                    << " gave " << y[i];
  }
}

}  // namespace
}  // namespace mha::testing
