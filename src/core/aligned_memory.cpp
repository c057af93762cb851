#include "mha/core/aligned_memory.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace mha::aligned_memory {
namespace {

constexpr std::size_t kCacheLine = 64;
constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t alignment_for(std::size_t bytes) { return bytes >= kHugePage ? kHugePage : kCacheLine; }

// aligned_alloc wants a size that is a multiple of the alignment; 0 when the rounding overflows.
std::size_t rounded_size(std::size_t bytes) {
  const std::size_t alignment = alignment_for(bytes);
  if (bytes > ~std::size_t{0} - alignment) return 0;
  return (std::max<std::size_t>(bytes, 1) + alignment - 1) / alignment * alignment;
}

// The freed huge-page blocks kept for reuse, oldest first. Large blocks are a few per forward, so
// one mutex costs nothing measurable.
class BlockCache {
 public:
  void* take(std::size_t size) {
    const std::lock_guard lock(mutex_);
    const auto it = std::find_if(blocks_.rbegin(), blocks_.rend(),
                                 [&](const Block& b) { return b.size == size; });
    if (it == blocks_.rend()) return nullptr;
    void* data = it->data;
    bytes_ -= size;
    blocks_.erase(std::next(it).base());
    return data;
  }

  // Keeps the block, freeing the oldest ones to stay within the limits; false when the block is
  // over half of the byte limit (the caller frees it).
  bool keep(void* data, std::size_t size) noexcept {
    if (size > kCachedBytes / 2) return false;
    std::vector<void*> evicted;
    {
      const std::lock_guard lock(mutex_);
      try {
        blocks_.reserve(kCachedBlocks);
      } catch (...) {
        return false;
      }
      while (!blocks_.empty() && (blocks_.size() == kCachedBlocks || bytes_ + size > kCachedBytes)) {
        evicted.push_back(blocks_.front().data);
        bytes_ -= blocks_.front().size;
        blocks_.erase(blocks_.begin());
      }
      blocks_.push_back({data, size});
      bytes_ += size;
    }
    for (void* block : evicted) std::free(block);
    return true;
  }

  std::size_t bytes() {
    const std::lock_guard lock(mutex_);
    return bytes_;
  }

  void clear() noexcept {
    std::vector<Block> blocks;
    {
      const std::lock_guard lock(mutex_);
      blocks.swap(blocks_);
      bytes_ = 0;
    }
    for (const Block& b : blocks) std::free(b.data);
  }

 private:
  struct Block {
    void* data;
    std::size_t size;
  };
  std::mutex mutex_;
  std::vector<Block> blocks_;
  std::size_t bytes_ = 0;
};

// Never destroyed: tensors in static storage may be freed after any destructor here would run.
BlockCache& cache() {
  static BlockCache* const instance = new BlockCache;
  return *instance;
}

}  // namespace

void* allocate(std::size_t bytes) {
  const std::size_t alignment = alignment_for(bytes);
  const std::size_t size = rounded_size(bytes);
  if (size == 0) throw std::bad_alloc();
  if (alignment == kHugePage) {
    if (void* reused = cache().take(size)) return reused;
  }
  void* block = std::aligned_alloc(alignment, size);
  if (block == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  // Advice only: where huge pages are off or unavailable the block simply keeps small pages.
  if (alignment == kHugePage) (void)madvise(block, size, MADV_HUGEPAGE);
#endif
  return block;
}

void release(void* block, std::size_t bytes) noexcept {
  if (block == nullptr) return;
  if (alignment_for(bytes) == kHugePage && cache().keep(block, rounded_size(bytes))) return;
  std::free(block);
}

std::size_t cached_bytes() { return cache().bytes(); }

void release_cached() noexcept { cache().clear(); }

}  // namespace mha::aligned_memory
