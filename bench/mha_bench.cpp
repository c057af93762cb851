// Benchmarks of the full MultiHeadAttention forward and of the attention core alone, with
// GFLOP/s from mha_forward_flops (mha/layers/mha_flops.hpp) and the fraction of the fp32 peak measured by an FMA
// micro-benchmark in the same run:
//   projections 8·B·N·E² (self-attention)   core 4·B·N²·E (causal counted dense)
//   attention backward 10·B·N²·E (five N×N×D products per head: 2.5× the forward core; causal
//   counted dense)
//
// Run: build/<dir>/bench/mha_bench [--benchmark_filter=...]; MHA_THREADS=T sets the threads
// (0 or unset = the OpenMP default) and MHA_KERNEL=ref|cpu the kernel (default cpu).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

#include "mha/core/workspace.hpp"
#include "mha/kernels/attention.hpp"
#include "mha/kernels/attention_backward.hpp"
#include "mha/kernels/cpu_info.hpp"
#include "mha/layers/mha_flops.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace {

mha::Context bench_context() {
  const char* threads = std::getenv("MHA_THREADS");
  const char* kernel = std::getenv("MHA_KERNEL");
  return {kernel ? mha::parse_kernel(kernel, "MHA_KERNEL") : mha::KernelKind::cpu,
          threads ? std::atoi(threads) : 0};
}

double peak_gflops() {
  static const double peak = mha::measure_peak_gflops(bench_context().threads);
  return peak;
}

mha::Tensor<> random_tensor(mha::Shape shape, std::uint32_t seed) {
  mha::Tensor<> t(std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& x : t.values()) x = u(rng);
  return t;
}

void report(benchmark::State& state, double flops) {
  const double peak = peak_gflops();
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_fraction"] =
      benchmark::Counter(flops * 1e-9 / peak, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_GFLOP/s"] = peak;
}

// The FMA peak itself, so it shows in the same report.
void BM_PeakFma(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(mha::measure_peak_gflops(bench_context().threads));
  state.counters["peak_GFLOP/s"] = peak_gflops();
  state.SetLabel(std::string(mha::cpu_simd_target()));
}

// The register-blocked tile product alone (64 × 64 × 64, operands in cache): the ceiling of the
// attention loops built from it, as a fraction of the FMA peak.
void BM_TileProduct(benchmark::State& state) {
  double gflops = 0.0;
  for (auto _ : state) gflops = mha::measure_tile_product_gflops(bench_context().threads);
  state.counters["GFLOP/s"] = gflops;
  state.counters["peak_fraction"] = gflops / peak_gflops();
  state.counters["peak_GFLOP/s"] = peak_gflops();
  state.SetLabel(std::string(mha::cpu_simd_target()));
}

// The attention path a benchmark's sixth argument forces: 0 the rule's choice, 1 fused, 2 unfused.
mha::AttentionPath path_arg(const benchmark::State& state) {
  if (state.range(5) == 1) return mha::AttentionPath::fused;
  if (state.range(5) == 2) return mha::AttentionPath::unfused;
  return mha::AttentionPath::automatic;
}

// Full layer forward, self-attention, batch_first: args B, N, E, H, causal, path.
void BM_Layer(benchmark::State& state) {
  const mha::Index b = state.range(0), n = state.range(1), e = state.range(2), h = state.range(3);
  const bool causal = state.range(4) != 0;
  const auto layer = mha::MultiHeadAttention::random({.embed_dim = e, .num_heads = h, .batch_first = true}, 1);
  const mha::Tensor<> x = random_tensor({b, n, e}, 2);
  mha::MhaOptions options;
  options.is_causal = causal;
  // One workspace lent to every call, as a serving loop would: only the first call allocates.
  mha::Workspace workspace;
  mha::Context ctx = bench_context();
  ctx.workspace = &workspace;
  ctx.attention_path = path_arg(state);
  for (auto _ : state) {
    mha::MhaOutput out = layer.forward(x.view(), x.view(), x.view(), options, ctx);
    benchmark::DoNotOptimize(out.output.data());
  }
  report(state, static_cast<double>(mha::mha_forward_flops(b, n, e).total()));
}

// The attention core alone: q, k, v [B, H, N, D] contiguous; args B, N, H, D, causal, path.
void BM_Core(benchmark::State& state) {
  const mha::Index b = state.range(0), n = state.range(1), h = state.range(2), d = state.range(3);
  const mha::Tensor<> q = random_tensor({b, h, n, d}, 3), k = random_tensor({b, h, n, d}, 4),
                      v = random_tensor({b, h, n, d}, 5);
  mha::Tensor<> out({b, h, n, d});
  mha::AttentionArgs args{q.view(), k.view(), v.view(), out.view(), {}, {}, {}};
  args.params.scale = 1.0 / std::sqrt(static_cast<double>(d));
  args.params.causal = state.range(4) != 0;
  mha::Workspace workspace;
  mha::Context ctx = bench_context();
  ctx.workspace = &workspace;
  ctx.attention_path = path_arg(state);
  state.SetLabel(mha::explain_attention_dispatch(args, ctx).path);
  for (auto _ : state) {
    mha::attention(args, ctx);
    benchmark::DoNotOptimize(out.data());
  }
  report(state, static_cast<double>(mha::mha_forward_flops(b, n, h * d).core));
}

// The attention backward alone (dQ, dK, dV from the forward's out and lse): args B, N, H, D,
// causal. The forward runs once, outside the timed loop.
void BM_Backward(benchmark::State& state) {
  const mha::Index b = state.range(0), n = state.range(1), h = state.range(2), d = state.range(3);
  const mha::Tensor<> q = random_tensor({b, h, n, d}, 3), k = random_tensor({b, h, n, d}, 4),
                      v = random_tensor({b, h, n, d}, 5), grad_out = random_tensor({b, h, n, d}, 6);
  mha::Tensor<> out({b, h, n, d}), lse({b, h, n});
  mha::Tensor<> grad_q({b, h, n, d}), grad_k({b, h, n, d}), grad_v({b, h, n, d});
  mha::AttentionParams params;
  params.scale = 1.0 / std::sqrt(static_cast<double>(d));
  params.causal = state.range(4) != 0;
  mha::Workspace workspace;
  mha::Context ctx = bench_context();
  ctx.workspace = &workspace;
  mha::attention({q.view(), k.view(), v.view(), out.view(), {}, lse.view(), params}, ctx);
  const mha::AttentionBackwardArgs args{.q = q.view(), .k = k.view(), .v = v.view(),
                                        .lse = lse.view(), .grad_out = grad_out.view(),
                                        .out = out.view(), .grad_q = grad_q.view(),
                                        .grad_k = grad_k.view(), .grad_v = grad_v.view(),
                                        .params = params, .dropout = {}};
  for (auto _ : state) {
    mha::attention_backward(args, ctx);
    benchmark::DoNotOptimize(grad_q.data());
  }
  report(state, 2.5 * static_cast<double>(mha::mha_forward_flops(b, n, h * d).core));
}

BENCHMARK(BM_PeakFma)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_TileProduct)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_Layer)
    ->ArgNames({"B", "N", "E", "H", "causal", "path"})
    ->Args({1, 128, 512, 8, 0, 0})
    ->Args({8, 512, 512, 8, 0, 0})
    ->Args({1, 2048, 512, 8, 0, 0})
    ->Args({1, 2048, 512, 8, 1, 0})
    ->Args({1, 4096, 1024, 16, 0, 0})
    ->Args({1, 8192, 512, 8, 0, 0})
    ->Args({1, 128, 512, 8, 0, 1})  // the short shape on each attention path
    ->Args({1, 128, 512, 8, 0, 2})
    ->Args({8, 512, 512, 8, 0, 1})
    ->Args({8, 512, 512, 8, 0, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Core)
    ->ArgNames({"B", "N", "H", "D", "causal", "path"})
    ->Args({1, 2048, 8, 64, 0, 0})
    ->Args({1, 2048, 8, 64, 1, 0})
    ->Args({1, 4096, 16, 64, 0, 0})
    ->Args({1, 4096, 8, 64, 0, 0})
    ->Args({1, 4096, 8, 64, 1, 0})
    ->Args({1, 128, 8, 64, 0, 0})   // short sequences: where an unfused path could win
    ->Args({32, 128, 8, 64, 0, 0})
    ->Args({32, 32, 8, 64, 0, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// The crossover that the fused/unfused rule (src/kernels/cpu/attention_path.cpp) is read from:
// short and middling lengths on both paths (path 1 fused, 2 unfused).
void path_grid(benchmark::internal::Benchmark* bench) {
  for (std::int64_t batch : {1, 8})
    for (std::int64_t n : {32, 64, 128, 192, 256, 384, 512, 768, 1024})
      for (std::int64_t causal : {0, 1})
        for (std::int64_t path : {1, 2}) bench->Args({batch, n, 8, 64, causal, path});
}
BENCHMARK(BM_Core)
    ->Name("BM_CorePath")
    ->ArgNames({"B", "N", "H", "D", "causal", "path"})
    ->Apply(path_grid)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Backward)
    ->ArgNames({"B", "N", "H", "D", "causal"})
    ->Args({1, 2048, 8, 64, 0})
    ->Args({1, 2048, 8, 64, 1})
    ->Args({8, 512, 8, 64, 0})
    ->Args({1, 128, 8, 64, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
