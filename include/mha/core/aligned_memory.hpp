// Heap blocks for tensors and workspaces: 64-byte aligned, and blocks of 2 MiB or more start on a
// 2 MiB boundary and ask the kernel for transparent huge pages. Why: a first touch of a 4 KiB page
// costs about 3 µs on a virtual machine like ours (measured), so a fresh 4 MiB layer output paid
// about 3 ms in page faults per forward; a 2 MiB page fault does the work of 512 small ones for
// about a tenth of their time, and the kernels that walk rows 3·E floats apart miss the TLB less.
// Freed blocks go back to glibc as ordinary chunks, which it reuses for the next forward's output
// without faulting its pages in again (aligned_memory.cpp says why that needed care).
#pragma once

#include <cstddef>

namespace mha::aligned_memory {

// At least `bytes` bytes (one byte for 0), uninitialized; throws std::bad_alloc.
void* allocate(std::size_t bytes);
// Frees a block from allocate(); null is ignored.
void release(void* block) noexcept;

}  // namespace mha::aligned_memory
