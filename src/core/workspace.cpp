#include "mha/core/workspace.hpp"

#include "mha/core/aligned_memory.hpp"

namespace mha {

void Workspace::Free::operator()(void* block) const { aligned_memory::release(block); }

void* Workspace::bytes(Slot slot, std::size_t bytes) {
  Buffer& buffer = buffers_.at(static_cast<std::size_t>(slot));
  if (buffer.data == nullptr || buffer.bytes < bytes) {
    buffer.data.reset();  // free first: the old contents are not kept, so they need not coexist
    buffer.bytes = 0;
    buffer.data.reset(aligned_memory::allocate(bytes));
    buffer.bytes = bytes;
  }
  return buffer.data.get();
}

std::size_t Workspace::reserved_bytes() const {
  std::size_t total = 0;
  for (const Buffer& buffer : buffers_) total += buffer.bytes;
  return total;
}

void Workspace::release() {
  for (Buffer& buffer : buffers_) {
    buffer.data.reset();
    buffer.bytes = 0;
  }
}

}  // namespace mha
