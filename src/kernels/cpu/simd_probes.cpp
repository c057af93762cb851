// The fast kernels' SIMD building blocks run on their own, on the target the dispatcher picks:
// the register-blocked tile product (panel_product-inl.h) for its speed, the ceiling of the
// attention loops that are built from it, and the exponential (exp2-inl.h) for its values, which
// the tests hold to its stated error bound.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/simd_probes.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cstdint>

#include "hwy/highway.h"
#include "kernels/cpu/exp2-inl.h"
#include "kernels/cpu/panel_product-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mha::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// `repeats` products C += A·B of size × size tiles (depth size): the operands stay in L1/L2, so
// this is the loop's own speed. Returns the FLOPs done.
double TileProducts(std::int64_t repeats, Index size, float* a, float* b, float* c) {
  for (std::int64_t r = 0; r < repeats; ++r)
    panel_product({.a = a, .a_row = size, .a_col = 1, .b = b, .b_row = size, .depth = size,
                   .c = c, .c_row = size, .accumulate = true},
                  size, size);
  return 2.0 * static_cast<double>(size * size * size) * static_cast<double>(repeats);
}

void Exp2Nonpositive(const float* t, float* y, Index count) {
  const hn::ScalableTag<float> df;
  const Index n = static_cast<Index>(hn::Lanes(df));
  Index i = 0;
  for (; i + n <= count; i += n) hn::StoreU(exp2_nonpositive(df, hn::LoadU(df, t + i)), df, y + i);
  for (; i < count; ++i) {  // the tail one lane at a time, through the same code
    const hn::CappedTag<float, 1> d1;
    hn::StoreU(exp2_nonpositive(d1, hn::LoadU(d1, t + i)), d1, y + i);
  }
}

}  // namespace mha::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <omp.h>

#include <algorithm>
#include <chrono>

#include "hwy/aligned_allocator.h"
#include "kernels/cpu/simd_probes.hpp"
#include "mha/kernels/cpu_info.hpp"

namespace mha {
namespace cpu {
HWY_EXPORT(TileProducts);
HWY_EXPORT(Exp2Nonpositive);

void exp2_nonpositive_values(const float* t, float* y, Index count) {
  HWY_DYNAMIC_DISPATCH(Exp2Nonpositive)(t, y, count);
}
}  // namespace cpu

double measure_tile_product_gflops(int threads) {
  const int team = threads > 0 ? threads : omp_get_max_threads();
  constexpr std::int64_t kRepeats = 2'000;  // ~1 GFLOP per thread, a few ms
  double best = 0.0;
  for (int run = 0; run < 3; ++run) {
    double flops = 0.0;
    std::chrono::duration<double> seconds{};
    // 64: the backward's tile products and a forward panel. A run-time value: GCC's loop
    // analysis of the fully constant one-lane instantiation reports a false overflow.
    const Index size = 64 + 0 * run;
#pragma omp parallel num_threads(team) reduction(+ : flops)
    {
      const auto kTile = static_cast<std::size_t>(size * size);
      auto a = hwy::AllocateAligned<float>(kTile), b = hwy::AllocateAligned<float>(kTile),
           c = hwy::AllocateAligned<float>(kTile);
      // Small values: 2000 accumulations stay far from overflow and denormals.
      for (std::size_t i = 0; i < kTile; ++i) {
        a[i] = 1e-3f * static_cast<float>(i % 7);
        b[i] = 1e-3f * static_cast<float>(i % 5);
        c[i] = 0.0f;
      }
      HWY_DYNAMIC_DISPATCH(cpu::TileProducts)(1, size, a.get(), b.get(), c.get());  // warm the caches
#pragma omp barrier
      const auto start = std::chrono::steady_clock::now();
      flops += HWY_DYNAMIC_DISPATCH(cpu::TileProducts)(kRepeats, size, a.get(), b.get(), c.get());
#pragma omp barrier
#pragma omp master
      seconds = std::chrono::steady_clock::now() - start;
      flops += static_cast<double>(c[0]) * 0.0;  // keeps c observable without changing the count
    }
    best = std::max(best, flops / seconds.count() * 1e-9);
  }
  return best;
}

}  // namespace mha
#endif
