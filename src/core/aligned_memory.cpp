#include "mha/core/aligned_memory.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <new>

namespace mha::aligned_memory {
namespace {

constexpr std::size_t kCacheLine = 64;
constexpr std::size_t kHugePage = std::size_t{2} << 20;
// The pointer malloc returned, kept just before the aligned block.
constexpr std::size_t kHeader = sizeof(void*);

}  // namespace

// Every block is cut from one plain malloc of bytes + alignment + a header, not from
// aligned_alloc. Why: glibc serves a 2 MiB-aligned request by mmap, and freeing it never raises
// its dynamic mmap threshold past the next such request (the alignment padding is cut off the
// chunk it records), so every one was mapped, faulted in and zeroed afresh: an (8, 512, 512, 8)
// forward's 8 MiB output cost 3.4 % of the call in clear_page_erms. A plain chunk is one glibc
// recycles like any other once its threshold has adapted (measured: the second and later 8 MiB
// blocks of a loop fault in nothing). A cache of freed blocks of our own was tried first; it kept
// glibc's threshold from ever rising, so the trainer's medium tensors were mmapped afresh on every
// step and `mha train` ran at half its speed.
void* allocate(std::size_t bytes) {
  const std::size_t alignment = bytes >= kHugePage ? kHugePage : kCacheLine;
  const std::size_t size = bytes == 0 ? 1 : bytes;
  if (size > ~std::size_t{0} - alignment - kHeader) throw std::bad_alloc();
  void* raw = std::malloc(size + alignment + kHeader);
  if (raw == nullptr) throw std::bad_alloc();
  const std::uintptr_t start = reinterpret_cast<std::uintptr_t>(raw) + kHeader;
  void* block = reinterpret_cast<void*>((start + alignment - 1) / alignment * alignment);
  static_cast<void**>(block)[-1] = raw;
#ifdef MADV_HUGEPAGE
  // Advice only: where huge pages are off or unavailable the block simply keeps small pages.
  if (alignment == kHugePage) (void)madvise(block, size / kHugePage * kHugePage, MADV_HUGEPAGE);
#endif
  return block;
}

void release(void* block) noexcept {
  if (block != nullptr) std::free(static_cast<void**>(block)[-1]);
}

}  // namespace mha::aligned_memory
