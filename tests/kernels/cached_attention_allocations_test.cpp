// A decode step allocates nothing once the workspace has grown: this binary's global operator new
// counts calls (testing/counting_new.hpp; it only counts, so other tests are unaffected).
#include <gtest/gtest.h>

#include "kernels/cached_attention_problem.hpp"
#include "mha/core/workspace.hpp"
#include "testing/counting_new.hpp"

namespace mha {
namespace {

TEST(CachedAttentionAllocations, StepWithGrownWorkspaceAllocatesNothing) {
  for (const CacheDtype dtype : {CacheDtype::f32, CacheDtype::bf16, CacheDtype::f16})
    for (const int threads : {1, 2}) {
      testing::CachedProblem p({.heads = 8, .kv_heads = 2, .d = 64, .lengths = {900, 300},
                                .counts = {1, 2}, .n = 2, .dtype = dtype});
      const CachedAttentionArgs args = p.args();
      Workspace ws;
      const Context ctx{KernelKind::cpu, threads, &ws};
      cached_attention(args, ctx);  // grows the workspace
      const long before = testing::allocation_counts().blocks;
      cached_attention(args, ctx);
      cached_attention(args, ctx);
      EXPECT_EQ(testing::allocation_counts().blocks - before, 0) << cache_dtype_name(dtype) << ", threads " << threads;
    }
}

}  // namespace
}  // namespace mha
