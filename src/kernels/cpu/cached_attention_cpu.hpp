// The fast CPU kernel for attention over a KvCache (contract: mha/kernels/cached_attention.hpp),
// and the SIMD entry point it runs per (sequence, kv head, part of the keys).
#pragma once

#include <cstdint>

#include "mha/core/context.hpp"
#include "mha/kernels/cached_attention.hpp"
#include "kernels/cpu/online_softmax_rows.hpp"

namespace mha {

// Arguments already validated by mha::cached_attention.
void cached_attention_cpu(const CachedAttentionArgs& args, const Context& ctx);

namespace cpu {

// Which of the two algorithms runs: the decode kernel, the fused kernel over a view of the cache,
// or (automatic) the faster for the call's rows per sequence. Forcing one is for tests and timing.
enum class CachedPath : std::uint8_t { automatic, decode, fused };
void cached_attention_cpu(const CachedAttentionArgs& args, const Context& ctx, CachedPath path);

// Query rows with at least this many new rows per sequence go to the fused mha::attention kernel
// over a view of the cache instead of the decode kernel (measurement in cached_attention_cpu.cpp).
extern const Index kPrefillRows;

// rows attend keys [0, keys.count) of a run of the cache in its element type (`k`, `v` point at the
// run's first rows); the SIMD core of online_softmax-inl.h, best target of this CPU. Whole
// vectors are read past a row's end (the cache keeps slack), acc rows are padded to 16 floats.
void attend_cache_rows(CacheDtype dtype, const QueryRows& rows, const void* k, Index k_row,
                       const void* v, Index v_row, Index keys, Index d, Index dv, float scale_log2e);

}  // namespace cpu
}  // namespace mha
