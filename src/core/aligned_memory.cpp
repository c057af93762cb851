#include "mha/core/aligned_memory.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <new>

namespace mha::aligned_memory {
namespace {

constexpr std::size_t kCacheLine = 64;
constexpr std::size_t kHugePage = std::size_t{2} << 20;

}  // namespace

void* allocate(std::size_t bytes) {
  const std::size_t alignment = bytes >= kHugePage ? kHugePage : kCacheLine;
  // aligned_alloc wants a size that is a multiple of the alignment.
  const std::size_t size = (bytes == 0 ? 1 : bytes + alignment - 1) / alignment * alignment;
  if (size < bytes) throw std::bad_alloc();  // the rounding overflowed
  void* block = std::aligned_alloc(alignment, size);
  if (block == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  // Advice only: where huge pages are off or unavailable the block simply keeps small pages.
  if (alignment == kHugePage) (void)madvise(block, size, MADV_HUGEPAGE);
#endif
  return block;
}

void release(void* block) noexcept { std::free(block); }

}  // namespace mha::aligned_memory
