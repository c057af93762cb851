// The fast CPU attention kernel: fused, tiled, streaming (online softmax), SIMD through Highway,
// threads through OpenMP. Same contract as the reference (mha/kernels/attention.hpp).
#pragma once

#include <string_view>

#include "mha/core/context.hpp"
#include "mha/kernels/attention.hpp"

namespace mha {

// Contract in mha/kernels/attention.hpp; arguments already validated by mha::attention.
void attention_cpu(const AttentionArgs& args, const Context& ctx);

// Threads the fast kernels run on for this context (ctx.threads, or the OpenMP default for 0).
int cpu_threads(const Context& ctx);

// The SIMD instruction set the dispatcher picked on this machine ("AVX2", "AVX3", "EMU128", …).
std::string_view cpu_simd_target();

}  // namespace mha
