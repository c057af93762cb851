// A decode step allocates no buffer once the workspace has grown: the cache was allocated when it
// was made, and the new tokens' projections live in the lent workspace. Counted by replacing the
// global operator new in this test binary (testing/counting_new.hpp; it only counts). Small
// blocks (under 1 KiB: the views' shape vectors, oneDNN's argument map) are counted apart from
// buffers, and neither may grow with the context length.
#include <gtest/gtest.h>

#include "mha/core/workspace.hpp"
#include "mha/layers/multi_head_attention.hpp"
#include "testing/counting_new.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

struct StepCount {
  long small_blocks, buffers;
};

// Allocations of one decode step after `context` tokens are cached and a warm-up step ran.
StepCount count_step(KernelKind kind, Index context) {
  const MhaConfig config{.embed_dim = 64, .num_heads = 8, .num_kv_heads = 2, .batch_first = true};
  const MultiHeadAttention layer = MultiHeadAttention::random(config, 1);
  KvCache cache = layer.make_cache(1, context + 2);
  Workspace workspace;
  Context ctx{kind, 2};
  ctx.workspace = &workspace;
  const Tensor<> prompt = testing::random_tensor({1, context, 64}, 2);
  Tensor<> prompt_out({1, context, 64});
  layer.forward_with_cache(prompt.view(), cache, prompt_out.view(), {}, ctx);
  const Tensor<> token = testing::random_tensor({1, 1, 64}, 3);
  Tensor<> out({1, 1, 64});
  layer.forward_with_cache(token.view(), cache, out.view(), {}, ctx);  // the first step may grow things
  const testing::AllocationCounts before = testing::allocation_counts();
  layer.forward_with_cache(token.view(), cache, out.view(), {}, ctx);
  const testing::AllocationCounts after = testing::allocation_counts();
  return {after.blocks - after.buffers - (before.blocks - before.buffers), after.buffers - before.buffers};
}

// The fast path's promise (the float64 reference is the oracle, not built for this).
TEST(MhaCacheAllocations, AStepAllocatesNoBuffer) {
  const StepCount shorter = count_step(KernelKind::cpu, 40), longer = count_step(KernelKind::cpu, 400);
  EXPECT_EQ(shorter.buffers, 0);
  EXPECT_EQ(longer.buffers, 0);
  EXPECT_EQ(longer.small_blocks, shorter.small_blocks) << "grows with the context";
}

}  // namespace
}  // namespace mha
