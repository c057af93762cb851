// Workspace and aligned_memory: alignment, growth, reuse, release.
#include "mha/core/workspace.hpp"

#include <cstdint>
#include <limits>
#include <new>
#include <vector>

#include <gtest/gtest.h>

#include "mha/core/aligned_memory.hpp"

namespace mha {
namespace {

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

TEST(AlignedMemory, SmallBlocksAreCacheLineAlignedAndLargeOnesHugePageAligned) {
  for (const std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{100}, std::size_t{4096}}) {
    void* block = aligned_memory::allocate(bytes);
    EXPECT_EQ(address(block) % 64, 0u) << bytes;
    aligned_memory::release(block, bytes);
  }
  const std::size_t large = (std::size_t{2} << 20) + 12;
  auto* block = static_cast<unsigned char*>(aligned_memory::allocate(large));
  EXPECT_EQ(address(block) % (std::size_t{2} << 20), 0u);
  block[0] = 1;
  block[large - 1] = 2;  // the whole request is writable (ASan checks the bounds)
  aligned_memory::release(block, large);
  aligned_memory::release(nullptr, large);
}

constexpr std::size_t kMiB = std::size_t{1} << 20;

TEST(AlignedMemory, FreedLargeBlocksAreReusedForTheSameRoundedSizeOnly) {
  aligned_memory::release_cached();
  void* first = aligned_memory::allocate(8 * kMiB);
  aligned_memory::release(first, 8 * kMiB);
  EXPECT_EQ(aligned_memory::cached_bytes(), 8 * kMiB);
  void* other_size = aligned_memory::allocate(4 * kMiB);  // not handed the 8 MiB block
  EXPECT_NE(other_size, first);
  EXPECT_EQ(aligned_memory::allocate(8 * kMiB - 100), first);  // rounds to the same 8 MiB
  EXPECT_EQ(aligned_memory::cached_bytes(), 0u);
  aligned_memory::release(first, 8 * kMiB - 100);
  aligned_memory::release(other_size, 4 * kMiB);
  EXPECT_EQ(aligned_memory::cached_bytes(), 12 * kMiB);
  aligned_memory::release_cached();
  EXPECT_EQ(aligned_memory::cached_bytes(), 0u);
}

TEST(AlignedMemory, SmallBlocksAreNeverKept) {
  aligned_memory::release_cached();
  void* block = aligned_memory::allocate(2 * kMiB - 1);
  aligned_memory::release(block, 2 * kMiB - 1);
  EXPECT_EQ(aligned_memory::cached_bytes(), 0u);
}

TEST(AlignedMemory, TheCacheStaysWithinItsLimits) {
  aligned_memory::release_cached();
  // One block more than the count limit: the oldest goes back to the system.
  std::vector<void*> blocks;
  for (std::size_t i = 0; i <= aligned_memory::kCachedBlocks; ++i)
    blocks.push_back(aligned_memory::allocate(2 * kMiB));
  for (void* block : blocks) aligned_memory::release(block, 2 * kMiB);
  EXPECT_EQ(aligned_memory::cached_bytes(), aligned_memory::kCachedBlocks * 2 * kMiB);
  // Blocks that pass the byte limit together: the older are evicted.
  const std::size_t big = aligned_memory::kCachedBytes / 2;
  void* a = aligned_memory::allocate(big);
  void* b = aligned_memory::allocate(big);
  void* c = aligned_memory::allocate(big);
  aligned_memory::release(a, big);
  aligned_memory::release(b, big);
  aligned_memory::release(c, big);
  EXPECT_EQ(aligned_memory::cached_bytes(), aligned_memory::kCachedBytes);
  // A block over half the limit is never kept, and flushes nothing.
  void* huge = aligned_memory::allocate(big + 2 * kMiB);
  aligned_memory::release(huge, big + 2 * kMiB);
  EXPECT_EQ(aligned_memory::cached_bytes(), aligned_memory::kCachedBytes);
  aligned_memory::release_cached();
}

TEST(AlignedMemory, ImpossibleSizeThrowsBadAlloc) {
  EXPECT_THROW(aligned_memory::allocate(~std::size_t{0} - 10), std::bad_alloc);
}

TEST(Workspace, SlotKeepsItsBufferForEqualOrSmallerRequests) {
  Workspace ws;
  float* first = ws.get<float>(Workspace::Slot::projections, 1000);
  EXPECT_EQ(address(first) % 64, 0u);
  first[999] = 1.0f;
  EXPECT_EQ(ws.get<float>(Workspace::Slot::projections, 1000), first);
  EXPECT_EQ(ws.get<float>(Workspace::Slot::projections, 10), first);
  EXPECT_EQ(ws.reserved_bytes(), 1000 * sizeof(float));
}

TEST(Workspace, SlotGrowsForLargerRequestsAndSlotsAreIndependent) {
  Workspace ws;
  float* q = ws.get<float>(Workspace::Slot::projections, 16);
  std::uint8_t* flags = ws.get<std::uint8_t>(Workspace::Slot::value_flags, 3);
  float* grown = ws.get<float>(Workspace::Slot::projections, 1 << 20);
  grown[(1 << 20) - 1] = 2.0f;
  EXPECT_EQ(ws.get<std::uint8_t>(Workspace::Slot::value_flags, 3), flags);
  EXPECT_NE(static_cast<void*>(q), static_cast<void*>(flags));
  EXPECT_EQ(ws.reserved_bytes(), (std::size_t{1} << 20) * sizeof(float) + 3);
}

TEST(Workspace, SizeOverflowThrowsBadAllocAndKeepsTheSlot) {
  Workspace ws;
  float* p = ws.get<float>(Workspace::Slot::projections, 8);
  EXPECT_THROW(ws.get<float>(Workspace::Slot::projections, std::numeric_limits<Index>::max()),
               std::bad_alloc);
  EXPECT_EQ(ws.get<float>(Workspace::Slot::projections, 8), p);
}

TEST(Workspace, ReleaseFreesEverySlot) {
  Workspace ws;
  ws.get<float>(Workspace::Slot::packed_keys, 100);
  ws.get<float>(Workspace::Slot::packed_values, 100);
  ws.release();
  EXPECT_EQ(ws.reserved_bytes(), 0u);
  EXPECT_NE(ws.get<float>(Workspace::Slot::packed_keys, 0), nullptr);  // usable again
}

TEST(Workspace, MovesKeepTheBuffers) {
  Workspace a;
  float* p = a.get<float>(Workspace::Slot::projected_keys, 64);
  Workspace b = std::move(a);
  EXPECT_EQ(b.get<float>(Workspace::Slot::projected_keys, 64), p);
}

}  // namespace
}  // namespace mha
