// The decode kernel (on the online-softmax core) on every SIMD target that is compiled in and
// runs here (AVX2 and the portable one-lane fallback on this machine; AVX3 on AVX-512 ones):
// each meets the fast-vs-reference rule, with f32 and 16-bit caches, odd head sizes and GQA.
#include <string>

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include "kernels/cached_attention_problem.hpp"
#include "kernels/cpu/attention_plan.hpp"
#include "testing/forced_target.hpp"

namespace mha::testing {
namespace {


TEST(CachedAttentionTargets, EveryRunnableTargetMeetsTheRule) {
  for (const std::int64_t target : runnable_targets(cpu::compiled_simd_targets())) {
    const ForcedTarget forced(target);
    SCOPED_TRACE(std::string("target ") + hwy::TargetName(target));
    for (const CacheDtype dtype : {CacheDtype::f32, CacheDtype::bf16, CacheDtype::f16})
      for (const Index d : {3, 16, 40}) {
        CachedProblem p({.heads = 8, .kv_heads = 2, .d = d, .lengths = {300, 7}, .counts = {2, 1}, .n = 2,
                         .dtype = dtype});
        const auto ref = p.run(KernelKind::reference);
        const auto naive = p.run_naive();
        for (const int threads : {1, 2}) expect_within_rule(p.run(KernelKind::cpu, threads), ref, naive);
        CachedProblem one_head({.heads = 2, .kv_heads = 2, .d = d, .lengths = {130}, .dtype = dtype});
        expect_within_rule(one_head.run(KernelKind::cpu, 2), one_head.run(KernelKind::reference),
                           one_head.run_naive());
      }
  }
}

}  // namespace
}  // namespace mha::testing
