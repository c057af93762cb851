// The fast CPU attention backward: tiled, SIMD through Highway, threads through OpenMP. Same
// contract as the reference (mha/kernels/attention_backward.hpp).
#pragma once

#include "mha/core/context.hpp"
#include "mha/kernels/attention_backward.hpp"

namespace mha {

// Contract in mha/kernels/attention_backward.hpp; arguments already validated by
// mha::attention_backward.
void attention_backward_cpu(const AttentionBackwardArgs& args, const Context& ctx);

}  // namespace mha
