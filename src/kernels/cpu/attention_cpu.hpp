// The fast CPU attention kernel: fused, tiled, streaming (online softmax), SIMD through Highway,
// threads through OpenMP; short key rows go to the unfused path (attention_unfused.hpp) by the
// rule of attention_path.hpp. Same contract as the reference (mha/kernels/attention.hpp).
// Where it runs (threads, SIMD target): mha/kernels/cpu_info.hpp.
#pragma once

#include "mha/core/context.hpp"
#include "mha/kernels/attention.hpp"

namespace mha {

// Contract in mha/kernels/attention.hpp; arguments already validated by mha::attention.
void attention_cpu(const AttentionArgs& args, const Context& ctx);

}  // namespace mha
