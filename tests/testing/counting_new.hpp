// Replaces the global operator new and delete of a test binary with ones that count allocations
// and forward to malloc / aligned_alloc / free, so that a test can show a call allocates nothing.
// Include it in exactly one source file of a binary (the replacement is per program). Every form
// is replaced, the aligned, sized and nothrow ones too: a sanitizer build pairs each allocation with its
// own deallocation, and a form left out is allocated by one allocator and freed by another.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace mha::testing {

struct AllocationCounts {
  long blocks = 0;   // every allocation
  long buffers = 0;  // those of 1 KiB or more (small ones: shape vectors, argument maps)
};

inline std::atomic<long> allocated_blocks{0}, allocated_buffers{0};

inline AllocationCounts allocation_counts() { return {allocated_blocks.load(), allocated_buffers.load()}; }

inline void* counted_allocation(std::size_t bytes, std::size_t alignment) {
  allocated_blocks.fetch_add(1, std::memory_order_relaxed);
  if (bytes >= 1024) allocated_buffers.fetch_add(1, std::memory_order_relaxed);
  void* block = alignment <= alignof(std::max_align_t)
                    ? std::malloc(bytes == 0 ? 1 : bytes)
                    : std::aligned_alloc(alignment, (bytes + alignment - 1) / alignment * alignment);
  if (block == nullptr) throw std::bad_alloc();
  return block;
}

}  // namespace mha::testing

void* operator new(std::size_t bytes) { return mha::testing::counted_allocation(bytes, 0); }
void* operator new[](std::size_t bytes) { return mha::testing::counted_allocation(bytes, 0); }
void* operator new(std::size_t bytes, std::align_val_t a) {
  return mha::testing::counted_allocation(bytes, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t bytes, std::align_val_t a) {
  return mha::testing::counted_allocation(bytes, static_cast<std::size_t>(a));
}
// The nothrow forms (std::stable_sort's temporary buffer uses them).
void* operator new(std::size_t bytes, const std::nothrow_t&) noexcept {
  try {
    return mha::testing::counted_allocation(bytes, 0);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t bytes, const std::nothrow_t& tag) noexcept { return operator new(bytes, tag); }
void* operator new(std::size_t bytes, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return mha::testing::counted_allocation(bytes, static_cast<std::size_t>(a));
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t bytes, std::align_val_t a, const std::nothrow_t& tag) noexcept {
  return operator new(bytes, a, tag);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
