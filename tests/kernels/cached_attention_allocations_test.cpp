// A decode step allocates nothing once the workspace has grown: this binary's global operator new
// counts calls (and only counts: it forwards to malloc, so other tests are unaffected).
#include <atomic>
#include <cstdlib>
#include <new>

#include <gtest/gtest.h>

#include "kernels/cached_attention_problem.hpp"
#include "mha/core/workspace.hpp"

namespace {
std::atomic<long> g_allocations{0};

void* counted(std::size_t bytes, std::size_t alignment) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  void* block = alignment <= alignof(std::max_align_t)
                    ? std::malloc(bytes == 0 ? 1 : bytes)
                    : std::aligned_alloc(alignment, (bytes + alignment - 1) / alignment * alignment);
  if (block == nullptr) throw std::bad_alloc();
  return block;
}
}  // namespace

void* operator new(std::size_t bytes) { return counted(bytes, 0); }
void* operator new[](std::size_t bytes) { return counted(bytes, 0); }
void* operator new(std::size_t bytes, std::align_val_t a) { return counted(bytes, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t bytes, std::align_val_t a) { return counted(bytes, static_cast<std::size_t>(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

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
      const long before = g_allocations.load();
      cached_attention(args, ctx);
      cached_attention(args, ctx);
      EXPECT_EQ(g_allocations.load() - before, 0) << cache_dtype_name(dtype) << ", threads " << threads;
    }
}

}  // namespace
}  // namespace mha
