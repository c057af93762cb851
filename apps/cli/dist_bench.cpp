#include "dist_bench.hpp"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "bench_decode.hpp"  // median_of, cpu_model_name
#include "cli_options.hpp"
#include "dist_bench_report.hpp"
#include "dist_gather.hpp"
#include "dist_probes.hpp"
#include "dist_session.hpp"
#include "mha/core/error.hpp"
#include "mha/core/workspace.hpp"
#include "mha/dist/sequence_parallel.hpp"
#include "mha/dist/shards.hpp"
#include "mha/kernels/cpu_info.hpp"
#include "mha/layers/mha_flops.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha::cli {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// What one rank measured in each timed run of the distributed forward.
struct RankRuns {
  std::vector<double> total, attention, compute, wait, agreement, other, projection;
  double bytes_sent = 0;
};

// The CPUs this process may run on: under mpirun's default binding, one core per rank.
int allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
}

double max_abs_diff(const Tensor<>& a, const Tensor<>& b) {
  double worst = 0;
  for (Index i = 0; i < a.numel(); ++i)
    worst = std::max(worst, static_cast<double>(std::abs(a.data()[i] - b.data()[i])));
  return worst;
}

}  // namespace

void run_dist_bench(const DistBenchOptions& o) {
  if (o.repeats < 1) throw_invalid("--repeats", "at least 1", std::to_string(o.repeats));
  if (o.threads < 0) throw_invalid("--threads", "0 (all cores) or more", std::to_string(o.threads));
  // Parsed before MPI starts, so a typo fails the same way with and without mpirun.
  const dist::Options options{.algorithm = dist::parse_algorithm(o.algorithm, "--dist"),
                              .layout = dist::parse_layout(o.layout, "--layout")};
  const KernelKind kernel = resolve_kernel(o.kernel);

  DistSession session;  // before `sp`: its communicator is freed before MPI_Finalize
  const MPI_Comm comm = session.comm();
  const int ranks = session.ranks(), rank = session.rank();
  // The plain bench's layer and input (same seeds), so both benches time the same numbers.
  const auto layer = MultiHeadAttention::random(
      {.embed_dim = o.embed, .num_heads = o.heads, .batch_first = true}, 1);
  Tensor<> x({o.batch, o.length, o.embed});
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float& v : x.values()) v = uniform(rng);
  const Tensor<> mine = dist::take_shard<float>(x.view(), 1, ranks, rank, options.layout);
  MhaOptions attend;
  attend.is_causal = o.causal;

  const dist::SequenceParallel sp(comm, options);
  Workspace workspace;  // one for every run, as the plain bench lends it
  const Context ctx{kernel, o.threads, &workspace, &sp};
  RankRuns runs;
  Tensor<> output;
  for (int run = 0; run <= o.repeats; ++run) {  // run 0 warms up (caches, oneDNN primitives)
    bounded_barrier(comm, dist_timeout(), "the start of a timed run", std::chrono::microseconds(0));
    const auto start = Clock::now();
    output = layer.forward(mine.view(), mine.view(), mine.view(), attend, ctx).output;
    const double total = ms_since(start);
    if (run == 0) continue;
    const dist::Stats stats = sp.last_stats();
    runs.total.push_back(total);
    runs.attention.push_back(stats.seconds * 1e3);
    runs.compute.push_back(stats.compute_seconds * 1e3);
    runs.wait.push_back(stats.wait_seconds * 1e3);
    runs.agreement.push_back(stats.agreement_seconds * 1e3);
    runs.other.push_back((stats.seconds - stats.agreement_seconds - stats.compute_seconds - stats.wait_seconds) * 1e3);
    runs.projection.push_back(total - stats.seconds * 1e3);
    runs.bytes_sent = static_cast<double>(stats.bytes_sent);
  }

  // Per run: the slowest rank's forward; the mean over ranks of its parts.
  const auto mean_over_ranks = [&](const std::vector<double>& mine_runs) {
    std::vector<double> sum = all_reduce(comm, mine_runs, MPI_SUM, "the ranks' times");
    for (double& v : sum) v /= ranks;
    return median_of(sum);
  };
  DistBenchResult r{.options = o,
                    .algorithm = std::string(dist::algorithm_name(options.algorithm)),
                    .layout = std::string(dist::layout_name(options.layout)),
                    .kernel = std::string(kernel_name(kernel)),
                    .cpu = cpu_model_name(),
                    .simd = std::string(cpu_simd_target()),
                    .ranks = ranks,
                    .threads = cpu_threads(ctx),
                    .rank0_cpus = allowed_cpus()};
  const std::vector<double> slowest = all_reduce(comm, runs.total, MPI_MAX, "the ranks' times");
  r.median_ms = median_of(slowest);
  r.attention_ms = mean_over_ranks(runs.attention);
  r.compute_ms = mean_over_ranks(runs.compute);
  r.wait_ms = mean_over_ranks(runs.wait);
  r.agreement_ms = mean_over_ranks(runs.agreement);
  r.other_ms = mean_over_ranks(runs.other);
  // The exchange is symmetric, so a message that is not hidden makes every rank wait; what one
  // rank waits beyond the least-waiting rank is waiting for a slower rank (imbalance).
  r.least_wait_ms = median_of(all_reduce(comm, runs.wait, MPI_MIN, "the ranks' waits"));
  r.projection_ms = mean_over_ranks(runs.projection);
  r.bytes_sent = static_cast<std::int64_t>(all_reduce(comm, {runs.bytes_sent}, MPI_MAX, "bytes")[0]);

  // The same messages with nothing to hide behind. Rank 0 holds the longest shard.
  const Index rows = dist::shard_length(o.length, ranks, 0, options.layout);
  const std::int64_t shard_bytes =
      o.batch * rows * o.embed * static_cast<std::int64_t>(sizeof(float));
  const bool ring = options.algorithm == dist::Algorithm::ring;
  r.block_bytes = ring ? 2 * shard_bytes : 3 * shard_bytes;  // K and V; or Q, K and V
  r.exchange_ms = 1e3 * (ring ? time_ring_exchange(comm, r.block_bytes, o.repeats)
                              : time_ulysses_exchange(comm, r.block_bytes, shard_bytes, o.repeats));
  if (ranks > 1) {
    r.hidden = ring ? std::clamp(1.0 - r.least_wait_ms / r.exchange_ms, 0.0, 1.0) : 0.0;
    r.link = probe_link(comm, r.block_bytes, o.repeats);
  }

  // The whole sequence on rank 0 alone with the threads of all ranks; the others sleep in a
  // barrier meanwhile, leaving it their cores. Its wait allows for a P-times-slower run.
  r.single_threads = ranks * r.threads;
  Tensor<> single;
  if (rank == 0) {
    Workspace single_workspace;
    const Context single_ctx{kernel, r.single_threads, &single_workspace};
    std::vector<double> times;
    for (int run = 0; run <= o.repeats; ++run) {
      const auto start = Clock::now();
      single = layer.forward(x.view(), x.view(), x.view(), attend, single_ctx).output;
      if (run > 0) times.push_back(ms_since(start));
    }
    r.single_ms = median_of(times);
  }
  const double slowest_run_ms = *std::max_element(slowest.begin(), slowest.end());
  const auto single_wait = dist_timeout() + std::chrono::milliseconds(static_cast<std::int64_t>(
                                                4.0 * ranks * (o.repeats + 1) * slowest_run_ms));
  bounded_barrier(comm, std::chrono::duration_cast<std::chrono::milliseconds>(single_wait),
                  "rank 0's single-process run");

  const Tensor<> whole = gather_shards(comm, output.view(), x.shape(), 1, options.layout,
                                       dist_timeout());
  if (rank != 0) return;
  r.max_abs_diff = max_abs_diff(whole, single);
  const MhaForwardFlops flops = mha_forward_flops(o.batch, o.length, o.embed);
  r.flops = static_cast<double>(flops.total());
  // The attention work a rank does: 1/P of the core, half of it causal (masked blocks skipped).
  r.core_flops_per_rank = static_cast<double>(flops.core) / ranks * (o.causal ? 0.5 : 1.0);
  r.projection_flops_per_rank = static_cast<double>(flops.projections) / ranks;
  print_dist_bench(r);
}

}  // namespace mha::cli
