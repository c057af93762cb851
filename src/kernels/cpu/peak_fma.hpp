// The machine's measured fp32 peak: independent FMA chains on the widest SIMD target the
// dispatcher picks, on `threads` OpenMP threads. Benchmarks report GFLOP/s as a fraction of it.
#pragma once

namespace mha {

// Best of a few ~20 ms runs, in GFLOP/s (2 FLOPs per lane per FMA). threads = 0: OpenMP default.
double measure_peak_gflops(int threads);

}  // namespace mha
