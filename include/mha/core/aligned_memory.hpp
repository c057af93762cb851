// Heap blocks for tensors and workspaces: 64-byte aligned, and blocks of 2 MiB or more start on a
// 2 MiB boundary and ask the kernel for transparent huge pages. Why: a first touch of a 4 KiB page
// costs about 3 µs on a virtual machine like ours (measured), and a 2 MiB page fault does the work
// of 512 small ones for about a tenth of their time; the kernels that walk rows 3·E floats apart
// also miss the TLB less.
//
// Freed blocks of 2 MiB or more are kept for reuse by a later request of the same rounded size:
// at most kCachedBlocks blocks and kCachedBytes bytes, the oldest going back to the system first,
// and a block over half of kCachedBytes is never kept (one huge free must not flush the rest).
// Why: glibc returns a 2 MiB-aligned block to the system on every free (its dynamic mmap threshold
// never rises past the request because of the alignment padding), so a forward that returns a
// fresh [B, L, E] output faulted in and zeroed every page of it on every call: 8 MiB, 3.4 % of an
// (8, 512, 512, 8) layer forward (perf, clear_page_erms).
#pragma once

#include <cstddef>

namespace mha::aligned_memory {

inline constexpr std::size_t kCachedBlocks = 8;
inline constexpr std::size_t kCachedBytes = std::size_t{128} << 20;

// At least `bytes` bytes (one byte for 0), uninitialized; throws std::bad_alloc.
void* allocate(std::size_t bytes);
// Frees a block from allocate(bytes), given the same `bytes`; null is ignored.
void release(void* block, std::size_t bytes) noexcept;

// Bytes held in freed blocks kept for reuse.
std::size_t cached_bytes();
// Returns every kept block to the system.
void release_cached() noexcept;

}  // namespace mha::aligned_memory
