// Peak fp32 throughput: each thread runs kChains independent multiply-add chains, enough to
// cover the FMA latency (4–5 cycles) on two FMA pipes, so the loop is bound by FMA issue alone.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/peak_fma.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cstdint>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr int kChains = 12;

// Runs `iterations` rounds of kChains FMAs; returns the FLOPs done, and the chains' sum in sink
// so the compiler keeps them.
double FmaChains(std::int64_t iterations, float* sink) {
  const hn::ScalableTag<float> df;
  // x ← x·a + b with a just below 1 keeps every chain bounded and never denormal.
  const auto a = hn::Set(df, 0.999999f);
  const auto b = hn::Set(df, 1e-3f);
  hn::Vec<decltype(df)> acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = hn::Set(df, static_cast<float>(c));
  for (std::int64_t it = 0; it < iterations; ++it)
    for (int c = 0; c < kChains; ++c) acc[c] = hn::MulAdd(acc[c], a, b);
  auto total = acc[0];
  for (int c = 1; c < kChains; ++c) total = hn::Add(total, acc[c]);
  *sink = hn::GetLane(hn::SumOfLanes(df, total));
  return 2.0 * kChains * static_cast<double>(hn::Lanes(df)) * static_cast<double>(iterations);
}

}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <omp.h>

#include <algorithm>
#include <chrono>

#include "mha/kernels/cpu_info.hpp"

namespace mha {
namespace cpu {
HWY_EXPORT(FmaChains);
}  // namespace cpu

double measure_peak_gflops(int threads) {
  const int team = threads > 0 ? threads : omp_get_max_threads();
  constexpr std::int64_t kIterations = 2'000'000;  // ~20 ms per thread at 3 GHz (AVX2)
  double best = 0.0;
  for (int run = 0; run < 3; ++run) {
    double flops = 0.0;
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(team) reduction(+ : flops)
    {
      float sink = 0.0f;
      flops += HWY_DYNAMIC_DISPATCH(cpu::FmaChains)(kIterations, &sink);
      flops += sink * 0.0f;  // keeps sink observable without changing the count
    }
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    best = std::max(best, flops / seconds.count() * 1e-9);
  }
  return best;
}

}  // namespace mha
#endif
