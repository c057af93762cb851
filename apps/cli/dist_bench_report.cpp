#include "dist_bench_report.hpp"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

namespace mha::cli {
namespace {

double gflops(double flops, double ms) { return ms > 0 ? flops / (ms * 1e-3) * 1e-9 : 0.0; }

// JSON null for what this run could not measure (one rank: no link, nothing to hide).
template <class T>
nlohmann::json or_null(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

void print_json(const DistBenchResult& r) {
  const DistBenchOptions& o = r.options;
  const nlohmann::json j = {
      {"dist", r.algorithm},
      {"layout", r.layout},
      {"ranks", r.ranks},
      {"threads", r.threads},
      {"shape", {o.batch, o.length, o.embed, o.heads}},
      {"causal", o.causal},
      {"kernel", r.kernel},
      {"repeats", o.repeats},
      {"cpu", r.cpu},
      {"simd", r.simd},
      {"rank0_cpus", r.rank0_cpus},
      {"median_ms", r.median_ms},
      {"gflops", gflops(r.flops, r.median_ms)},
      {"attention_ms", r.attention_ms},
      {"compute_ms", r.compute_ms},
      {"wait_ms", r.wait_ms},
      {"least_wait_ms", r.least_wait_ms},
      {"agreement_ms", r.agreement_ms},
      {"other_ms", r.other_ms},
      {"projection_ms", r.projection_ms},
      {"core_gflops_per_rank", gflops(r.core_flops_per_rank, r.compute_ms)},
      {"projection_gflops_per_rank", gflops(r.projection_flops_per_rank, r.projection_ms)},
      {"bytes_sent", r.bytes_sent},
      {"block_bytes", r.block_bytes},
      {"exchange_ms", r.exchange_ms},
      {"hidden", or_null(r.hidden)},
      {"link_gbps", r.link ? nlohmann::json(r.link->bandwidth_gbps) : nlohmann::json(nullptr)},
      {"latency_us", r.link ? nlohmann::json(r.link->latency_us) : nlohmann::json(nullptr)},
      {"single_ms", r.single_ms},
      {"single_threads", r.single_threads},
      {"single_gflops", gflops(r.flops, r.single_ms)},
      {"speedup", r.median_ms > 0 ? r.single_ms / r.median_ms : 0.0},
      {"max_abs_diff", r.max_abs_diff}};
  fmt::print("{}\n", j.dump());
}

void print_text(const DistBenchResult& r) {
  const DistBenchOptions& o = r.options;
  fmt::print("dist {}  layout {}  {} rank{} x {} thread{}  shape B={} N={} E={} H={}{}  kernel {}  ({} runs)\n",
             r.algorithm, r.layout, r.ranks, r.ranks == 1 ? "" : "s", r.threads,
             r.threads == 1 ? "" : "s", o.batch, o.length, o.embed, o.heads,
             o.causal ? " causal" : "", r.kernel, o.repeats);
  fmt::print("cpu {}  SIMD {}\n", r.cpu, r.simd);
  fmt::print("distributed  median {:.3f} ms  {:.1f} GFLOP/s  (slowest rank of each run)\n",
             r.median_ms, gflops(r.flops, r.median_ms));
  fmt::print("  per rank   attention {:.3f} ms = agreeing {:.3f} + compute {:.3f} + waiting {:.3f} + "
             "other {:.3f}; projections {:.3f} ms\n",
             r.attention_ms, r.agreement_ms, r.compute_ms, r.wait_ms, r.other_ms, r.projection_ms);
  fmt::print("  rates      attention core {:.1f} GFLOP/s per rank, projections {:.1f} GFLOP/s per rank\n",
             gflops(r.core_flops_per_rank, r.compute_ms),
             gflops(r.projection_flops_per_rank, r.projection_ms));
  const std::string hidden =
      !r.hidden ? std::string("n/a (one rank sends nothing)")
      : r.algorithm == "ulysses"
          ? std::string("0 (ulysses: nothing computes while an all-to-all runs)")
          : fmt::format("{:.2f} of it (1 - least waiting / alone; least waiting {:.3f} ms)",
                        *r.hidden, r.least_wait_ms);
  fmt::print("  exchange   {:.2f} MB sent per rank; alone (no compute) {:.3f} ms; hidden {}\n",
             static_cast<double>(r.bytes_sent) * 1e-6, r.exchange_ms, hidden);
  if (r.link)
    fmt::print("  link       rank 0 <-> 1: {:.2f} GB/s for {:.2f} MB messages, latency {:.1f} us\n",
               r.link->bandwidth_gbps, static_cast<double>(r.block_bytes) * 1e-6,
               r.link->latency_us);
  fmt::print("single       median {:.3f} ms  {:.1f} GFLOP/s  (rank 0 alone, {} thread{})  "
             "speedup {:.2f}x\n",
             r.single_ms, gflops(r.flops, r.single_ms), r.single_threads,
             r.single_threads == 1 ? "" : "s",
             r.median_ms > 0 ? r.single_ms / r.median_ms : 0.0);
  fmt::print("check        max |distributed - single| = {:.2e}\n", r.max_abs_diff);
  if (r.rank0_cpus < r.single_threads)
    fmt::print("note         rank 0 may run on {} CPU{} only, fewer than the {} threads of the "
               "single-process run (mpirun binds ranks to cores; add --bind-to none)\n",
               r.rank0_cpus, r.rank0_cpus == 1 ? "" : "s", r.single_threads);
}

}  // namespace

void print_dist_bench(const DistBenchResult& result) {
  if (result.options.json)
    print_json(result);
  else
    print_text(result);
}

}  // namespace mha::cli
