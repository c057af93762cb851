// Workspace: scratch memory a caller lends to forward passes, so that repeated calls make no
// large allocations after the first. Each buffer grows to the largest request it has seen and is
// kept until the workspace is destroyed (or release() is called); its contents do not carry over
// from one call to the next. Pass one through Context::workspace; without one, each call uses a
// workspace of its own that it frees on return.
//
// A workspace serves one call at a time: threads that run forward passes at once need one each.
// Layers run one after another (a BERT encoder's twelve) share one, since a call is done with
// its scratch when it returns.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>

#include "mha/core/context.hpp"
#include "mha/core/shape.hpp"

namespace mha {

class Workspace {
 public:
  // One buffer per use, so that one call can hold several at once.
  enum class Slot : std::uint8_t {
    projections,       // the layer's projected Q (or fused Q, K, V); heads write over dead Q
    projected_keys,    // the layer's K and V when they are projected separately
    projected_values,
    packed_keys,       // the fast kernel's Kᵀ tiles
    packed_values,     // the fast kernel's dense value rows
    value_flags,       // the fast kernel's per-tile "holds NaN or Inf" flags
    cached_attention,  // the decode kernel's packed queries and per-part softmax states
    widened_cache,     // a bf16 / f16 cache's rows widened to fp32 for the fused prefill path
    attention_backward,  // the fast backward's packed operands, per-thread tiles and dQ shares
    unfused_scores,      // the unfused attention path's score rows and per-thread mask rows
    dense_heads,         // the layer's heads as dense [B, L, E] rows for the output projection
    matmul_scratchpad,   // oneDNN's scratchpad for the projections and the unfused products
  };
  static constexpr std::size_t kSlots = 12;

  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  Workspace(Workspace&&) noexcept = default;
  Workspace& operator=(Workspace&&) noexcept = default;

  // `count` elements of a trivial type T in `slot`, 64-byte aligned, uninitialized. The pointer
  // stays valid until the same slot is asked for more, or release().
  // Throws std::bad_alloc when count·sizeof(T) does not fit in memory's address range.
  template <class T>
  T* get(Slot slot, Index count) {
    static_assert(std::is_trivial_v<T>);
    const auto n = static_cast<std::size_t>(count < 0 ? 0 : count);
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_alloc();
    return static_cast<T*>(bytes(slot, n * sizeof(T)));
  }

  // Bytes held across all slots.
  std::size_t reserved_bytes() const;
  // Frees every buffer.
  void release();

 private:
  struct Free {
    void operator()(void* block) const;
  };
  struct Buffer {
    std::unique_ptr<void, Free> data;
    std::size_t bytes = 0;
  };

  void* bytes(Slot slot, std::size_t bytes);

  std::array<Buffer, kSlots> buffers_;
};

// `ctx`, lending `fallback` when ctx lends no workspace: a call passes the result to everything
// it runs, so its own scratch and its callees' share one workspace either way.
inline Context with_workspace(const Context& ctx, Workspace& fallback) {
  Context lent = ctx;
  if (lent.workspace == nullptr) lent.workspace = &fallback;
  return lent;
}

}  // namespace mha
