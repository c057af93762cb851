#include "mha/core/workspace.hpp"

#include "mha/core/aligned_memory.hpp"

namespace mha {

void Workspace::Free::operator()(void* block) const { aligned_memory::release(block, bytes); }

void* Workspace::bytes(Slot slot, std::size_t bytes) {
  Buffer& buffer = buffers_.at(static_cast<std::size_t>(slot));
  if (buffer == nullptr || buffer.get_deleter().bytes < bytes) {
    buffer.reset();  // free first: the old contents are not kept, so they need not coexist
    buffer = Buffer(aligned_memory::allocate(bytes), Free{bytes});
  }
  return buffer.get();
}

std::size_t Workspace::reserved_bytes() const {
  std::size_t total = 0;
  for (const Buffer& buffer : buffers_)
    if (buffer != nullptr) total += buffer.get_deleter().bytes;
  return total;
}

void Workspace::release() {
  for (Buffer& buffer : buffers_) buffer.reset();
}

}  // namespace mha
