// The fast CPU kernel on every SIMD target that is compiled in and that this CPU can run, not
// only the one the dispatcher picks: on an AVX2 machine, AVX2 (8 lanes) and the portable
// fallback (one lane: HWY_SCALAR with GCC 12, EMU128 with newer compilers); on an AVX-512
// machine also AVX3 (16 lanes). Each must meet the same tier-2 rule (attention_cpu_problem.hpp)
// on lengths around the tile, register-block and vector widths, odd head sizes, causal and
// windowed rows, masks and GQA.
#include <string>

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include "kernels/attention_cpu_problem.hpp"
#include "kernels/cpu/attention_cpu.hpp"
#include "mha/kernels/cpu_info.hpp"
#include "kernels/cpu/attention_plan.hpp"
#include "testing/forced_target.hpp"

namespace mha::testing {
namespace {


TEST(AttentionCpuTargets, EveryRunnableTargetMeetsTheRule) {
  const std::vector<std::int64_t> targets = runnable_targets(cpu::compiled_simd_targets());
  ASSERT_GE(targets.size(), 2u) << "a SIMD target and the portable fallback";
  bool ran_portable = false;
  for (const std::int64_t target : targets) {
    const ForcedTarget forced(target);
    const std::string name = hwy::TargetName(target);
    SCOPED_TRACE("target " + name);
    ASSERT_EQ(std::string(cpu_simd_target()), name);  // the dispatcher really switched
    ran_portable = ran_portable || target == HWY_EMU128 || target == HWY_SCALAR;
    for (auto [lq, lk] : {std::pair<Index, Index>{1, 1}, {5, 7}, {73, 129}, {145, 260}}) {
      SCOPED_TRACE("lq=" + std::to_string(lq) + " lk=" + std::to_string(lk));
      Problem p({.lq = lq, .lk = lk, .d = 8, .dv = 8, .seed = static_cast<std::uint32_t>(lq + lk)});
      expect_cpu_meets_rule(p);
    }
    for (Index d : {1, 7, 17, 64, 100}) {
      SCOPED_TRACE("d=" + std::to_string(d));
      Problem p({.heads = 1, .kv_heads = 1, .lq = 19, .lk = 70, .d = d, .dv = d});
      expect_cpu_meets_rule(p);
    }
    for (Alignment align : {Alignment::top_left, Alignment::bottom_right}) {
      Problem causal({.lq = 150, .lk = 200, .d = 16, .dv = 16, .causal = true, .alignment = align});
      expect_cpu_meets_rule(causal);
    }
    Problem window({.lq = 90, .lk = 300, .d = 8, .dv = 8, .window_left = 40});
    expect_cpu_meets_rule(window);
    Problem gqa({.batch = 2, .heads = 4, .kv_heads = 2, .lq = 21, .lk = 150, .d = 16, .dv = 24, .pad = 3});
    auto& pad = gqa.add_flags(MaskKind::block, {2, 150}, {150, 0, 0, 1});
    for (Index j = 100; j < 150; ++j) pad(0, j) = 1;
    expect_cpu_meets_rule(gqa);
  }
  EXPECT_TRUE(ran_portable) << "the portable fallback is compiled in and runs everywhere";
}

}  // namespace
}  // namespace mha::testing
