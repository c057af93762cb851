// A decode step allocates no buffer once the workspace has grown: the cache was allocated when it
// was made, and the new tokens' projections live in the lent workspace. Counted by replacing the
// global operator new in this test binary (counting only while a step runs; other tests see the
// usual allocator). Small blocks (under 1 KiB: the views' shape vectors, oneDNN's argument map)
// are counted apart from buffers, and neither may grow with the context length.
#include <atomic>
#include <cstdlib>
#include <new>

#include <gtest/gtest.h>

#include "mha/core/workspace.hpp"
#include "mha/layers/multi_head_attention.hpp"
#include "testing/random_tensor.hpp"

namespace {

std::atomic<bool> counting{false};
std::atomic<long> small_blocks{0}, buffers{0};

void* counted(std::size_t bytes) {
  if (counting.load(std::memory_order_relaxed)) (bytes < 1024 ? small_blocks : buffers).fetch_add(1);
  if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t bytes) { return counted(bytes); }
void* operator new[](std::size_t bytes) { return counted(bytes); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

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
  small_blocks = 0;
  buffers = 0;
  counting = true;
  layer.forward_with_cache(token.view(), cache, out.view(), {}, ctx);
  counting = false;
  return {small_blocks.load(), buffers.load()};
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
