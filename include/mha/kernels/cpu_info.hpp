// What the fast CPU kernels run on: their thread count, the SIMD target the dispatcher picked,
// and the machine's measured fp32 peak that benchmarks report GFLOP/s against.
#pragma once

#include <string_view>

#include "mha/core/context.hpp"

namespace mha {

// Threads the fast kernels run on for this context (ctx.threads, or the OpenMP default for 0).
int cpu_threads(const Context& ctx);

// The SIMD instruction set the dispatcher picks on this machine ("AVX2", "AVX3", "EMU128", …).
std::string_view cpu_simd_target();

// The fp32 peak: independent FMA chains on the widest SIMD target the dispatcher picks, on
// `threads` OpenMP threads (0 = the OpenMP default). Best of a few ~20 ms runs, in GFLOP/s
// (2 FLOPs per lane per FMA).
double measure_peak_gflops(int threads);

}  // namespace mha
