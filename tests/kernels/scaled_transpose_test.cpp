// The packing transpose (src/kernels/cpu/scaled_transpose.cpp) against the plain loop, on every
// SIMD target this CPU runs: whole register blocks, the edges they leave, strided sources, and
// an output pitch wider than the rows. It only moves values and scales them once, so the result
// must be bit-identical.
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <string>
#include <vector>

#include "kernels/cpu/attention_plan.hpp"
#include "kernels/cpu/scaled_transpose.hpp"
#include "testing/forced_target.hpp"

namespace mha::testing {
namespace {

TEST(ScaledTranspose, MatchesThePlainLoopOnEveryRunnableTarget) {
  struct Case {
    Index rows, cols, src_col;
  };
  const std::vector<Case> cases = {{0, 5, 1},   {1, 1, 1},   {7, 3, 1},   {8, 8, 1},    {16, 16, 1},
                                   {17, 33, 1}, {128, 64, 1}, {100, 70, 1}, {40, 24, 3}, {33, 16, 2}};
  constexpr float kFactor = 0.180336878f;  // 1/√64 · log2 e, as the forward packs Kᵀ
  for (const std::int64_t target : runnable_targets(cpu::compiled_simd_targets())) {
    const ForcedTarget forced(target);
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string("target ") + hwy::TargetName(target) + ", " + std::to_string(c.rows) +
                   " x " + std::to_string(c.cols) + ", step " + std::to_string(c.src_col));
      const Index src_row = c.cols * c.src_col + 5;  // rows not aligned to anything
      const Index dst_row = c.rows + 3;
      std::vector<float> src(static_cast<std::size_t>(c.rows * src_row + 1));
      for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i % 977) * 0.37f - 150.0f;
      std::vector<float> dst(static_cast<std::size_t>(c.cols * dst_row + 1), -7.0f);
      cpu::scaled_transpose(src.data(), src_row, c.src_col, c.rows, c.cols, kFactor, dst.data(), dst_row);
      for (Index x = 0; x < c.cols; ++x)
        for (Index r = 0; r < dst_row; ++r) {
          const float got = dst[static_cast<std::size_t>(x * dst_row + r)];
          if (r < c.rows)
            ASSERT_EQ(got, kFactor * src[static_cast<std::size_t>(r * src_row + x * c.src_col)])
                << "column " << x << ", row " << r;
          else
            ASSERT_EQ(got, -7.0f) << "pitch padding written at column " << x << ", row " << r;
        }
    }
  }
}

}  // namespace
}  // namespace mha::testing
