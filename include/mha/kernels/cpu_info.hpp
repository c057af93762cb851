// What the fast CPU kernels run on: their thread count, the SIMD target the dispatcher picked,
// the machine's measured fp32 peak that benchmarks report GFLOP/s against, and its measured
// memory read bandwidth that decode benchmarks report GB/s against.
#pragma once

#include <cstddef>
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

// The fast kernels' register-blocked tile product alone (64 × 64 × 64 products, operands in
// cache, src/kernels/cpu/panel_product-inl.h) on `threads` OpenMP threads (0 = the OpenMP
// default): the ceiling of the attention loops built from it. Best of a few runs, in GFLOP/s.
double measure_tile_product_gflops(int threads);

// Bytes of the largest CPU cache (the last level): the larger of what sysfs and sysconf report,
// 32 MiB when neither does. Benchmarks size their data beyond it to measure memory, not cache.
std::size_t last_level_cache_bytes();

// Streaming-read bandwidth from main memory: `threads` OpenMP threads (0 = the OpenMP default)
// each sum a disjoint part of a buffer ≥ 4× the last-level cache with SIMD loads, pages touched
// before timing; best of a few passes, in GB/s (10⁹ bytes). The roof of a decode step.
double measure_read_bandwidth_gbps(int threads);

}  // namespace mha
