// The fast CPU attention backward: tiled, SIMD through Highway, threads through OpenMP. Same
// contract as the reference (mha/kernels/attention_backward.hpp).
#pragma once

#include "mha/core/context.hpp"
#include "mha/core/shape.hpp"
#include "mha/kernels/attention_backward.hpp"

namespace mha {

// The bytes all threads' dQ shares may take together. Each thread adds its key tiles' dQ into a
// share of its own, so the shares cost threads × B·Hq·Lq·D floats; above this the (batch, kv
// head) pairs run in chunks whose shares fit (the chunk's dQ is summed before the next starts).
inline constexpr Index kMaxDqShareBytes = Index{128} << 20;

// Contract in mha/kernels/attention_backward.hpp; arguments already validated by
// mha::attention_backward. `max_dq_share_bytes`: the budget above (tests lower it to force
// chunks of one pair).
void attention_backward_cpu(const AttentionBackwardArgs& args, const Context& ctx,
                            Index max_dq_share_bytes = kMaxDqShareBytes);

}  // namespace mha
