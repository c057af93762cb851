// Workspace and aligned_memory: alignment, growth, reuse, release.
#include "mha/core/workspace.hpp"

#include <cstdint>
#include <limits>
#include <new>

#include <gtest/gtest.h>

#include "mha/core/aligned_memory.hpp"

namespace mha {
namespace {

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

TEST(AlignedMemory, SmallBlocksAreCacheLineAlignedAndLargeOnesHugePageAligned) {
  for (const std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{100}, std::size_t{4096}}) {
    void* block = aligned_memory::allocate(bytes);
    EXPECT_EQ(address(block) % 64, 0u) << bytes;
    aligned_memory::release(block);
  }
  const std::size_t large = (std::size_t{2} << 20) + 12;
  auto* block = static_cast<unsigned char*>(aligned_memory::allocate(large));
  EXPECT_EQ(address(block) % (std::size_t{2} << 20), 0u);
  block[0] = 1;
  block[large - 1] = 2;  // the whole request is writable (ASan checks the bounds)
  aligned_memory::release(block);
  aligned_memory::release(nullptr);
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
