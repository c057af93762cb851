// What `mha bench --dist` measured, and the one place that prints it (text or --json). Every
// time is a median over the timed runs; docs/distributed.md defines each figure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dist_bench.hpp"
#include "dist_probes.hpp"

namespace mha::cli {

struct DistBenchResult {
  DistBenchOptions options;
  std::string algorithm, layout, kernel, cpu, simd;
  int ranks = 1;
  int threads = 1;  // per rank
  int rank0_cpus = 1;  // CPUs rank 0 may run on (mpirun may bind it to one core)
  // The distributed forward: the slowest rank of each run.
  double median_ms = 0;
  // Means over the ranks: the attention call, its local kernels and merges, its waits, and the
  // rest of the forward (the projections).
  double attention_ms = 0, compute_ms = 0, wait_ms = 0, projection_ms = 0;
  double agreement_ms = 0;       // the all-gather of sizes opening the call (absorbs the ranks' skew)
  double other_ms = 0;           // the rest of the attention call (packing, unpacking, buffers)
  double least_wait_ms = 0;      // the wait of the rank that waited least in each run
  std::int64_t bytes_sent = 0;   // by one rank in one forward (the largest over the ranks)
  std::int64_t block_bytes = 0;  // ring: one rank's K/V block; ulysses: its Q, K, V
  double exchange_ms = 0;        // the same messages alone, no compute (0 for one rank)
  std::optional<double> hidden{};  // ring, P ≥ 2: 1 − least_wait / exchange in [0, 1]; ulysses: 0
  std::optional<LinkProbe> link{};  // P ≥ 2: ranks 0 ↔ 1, messages of block_bytes
  double single_ms = 0;  // rank 0 alone, P·T threads, the whole sequence
  int single_threads = 1;
  double max_abs_diff = 0;  // distributed output against the single-process one
  // Operation counts (mha_forward_flops; causal counted dense, as the plain bench does).
  double flops = 0, core_flops_per_rank = 0, projection_flops_per_rank = 0;
};

void print_dist_bench(const DistBenchResult& result);

}  // namespace mha::cli
