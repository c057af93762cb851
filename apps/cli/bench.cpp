// mha bench: times the MultiHeadAttention forward on random inputs and prints the median time,
// GFLOP/s (mha_forward_flops: projections 8·B·N·E² + core 4·B·N²·E, causal counted dense) and the
// fraction of the fp32 peak, measured by an FMA micro-benchmark in the same run.
//
//   mha bench --shape 1,2048,512,8 [--causal] [--kernel ref|cpu] [--threads T] [--repeats R] [--json]
#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli_options.hpp"
#include "commands.hpp"
#include "mha/core/error.hpp"
#include "mha/core/workspace.hpp"
#include "mha/kernels/cpu_info.hpp"
#include "mha/layers/mha_flops.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha::cli {
namespace {

struct BenchOptions {
  std::string shape = "1,2048,512,8";
  bool causal = false;
  std::string kernel;
  bool json = false;
  int threads = 0;
  int repeats = 10;
};

struct BenchShape {
  Index batch, len, embed, heads;
};

BenchShape parse_shape(const std::string& text) {
  std::vector<Index> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      values.push_back(std::stoll(item, &used));
      if (used != item.size()) values.back() = 0;
    } catch (const std::exception&) {
      values.push_back(0);
    }
  }
  const bool ok = values.size() == 4 &&
                  std::all_of(values.begin(), values.end(), [](Index v) { return v > 0; }) &&
                  values[2] % values[3] == 0;
  if (!ok) throw_invalid("--shape", "B,N,E,H: four positive integers with H dividing E", "'" + text + "'");
  return {values[0], values[1], values[2], values[3]};
}

void run_bench(const BenchOptions& o) {
  const BenchShape s = parse_shape(o.shape);
  if (o.repeats < 1) throw_invalid("--repeats", "at least 1", std::to_string(o.repeats));
  if (o.threads < 0) throw_invalid("--threads", "0 (all cores) or more", std::to_string(o.threads));
  // One workspace for every run, as a serving loop would lend it: only the warm-up allocates.
  Workspace workspace;
  const Context ctx{resolve_kernel(o.kernel), o.threads, &workspace};

  const auto layer = MultiHeadAttention::random(
      {.embed_dim = s.embed, .num_heads = s.heads, .batch_first = true}, 1);
  Tensor<> x({s.batch, s.len, s.embed});
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float& v : x.values()) v = uniform(rng);
  MhaOptions options;
  options.is_causal = o.causal;

  std::vector<double> ms;
  for (int r = 0; r <= o.repeats; ++r) {  // run 0 warms caches and the primitive cache
    const auto start = std::chrono::steady_clock::now();
    const MhaOutput out = layer.forward(x.view(), x.view(), x.view(), options, ctx);
    const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
    if (r > 0) ms.push_back(elapsed.count());
  }
  std::sort(ms.begin(), ms.end());
  const std::size_t mid = ms.size() / 2;
  const double median_ms = ms.size() % 2 == 1 ? ms[mid] : 0.5 * (ms[mid - 1] + ms[mid]);

  const double flops = static_cast<double>(mha_forward_flops(s.batch, s.len, s.embed).total());
  const double gflops = flops / (median_ms * 1e-3) * 1e-9;
  const int threads = cpu_threads(ctx);
  const double peak = measure_peak_gflops(threads);
  const std::string kernel(kernel_name(ctx.kernel));

  if (o.json) {
    const nlohmann::json j = {{"median_ms", median_ms},     {"gflops", gflops},
                              {"peak_fraction", gflops / peak}, {"peak_gflops", peak},
                              {"kernel", kernel},           {"threads", threads},
                              {"shape", {s.batch, s.len, s.embed, s.heads}},
                              {"causal", o.causal},         {"repeats", o.repeats},
                              {"simd", std::string(cpu_simd_target())}};
    fmt::print("{}\n", j.dump());
    return;
  }
  fmt::print("shape B={} N={} E={} H={}{}  kernel {}  threads {}  ({} runs)\n", s.batch, s.len,
             s.embed, s.heads, o.causal ? " causal" : "", kernel, threads, o.repeats);
  fmt::print("median {:.3f} ms   {:.1f} GFLOP/s   {:.2f} of the fp32 peak ({:.1f} GFLOP/s, {})\n",
             median_ms, gflops, gflops / peak, peak, cpu_simd_target());
}

}  // namespace

void register_bench(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Time the attention layer forward: median ms, GFLOP/s, fraction of the fp32 peak");
  cmd->add_option("--shape", options->shape, "B,N,E,H: batch, sequence length, embed_dim, heads")
      ->capture_default_str();
  cmd->add_flag("--causal", options->causal, "Causal self-attention (FLOPs still counted dense)");
  add_kernel_option(*cmd, options->kernel);
  cmd->add_option("--threads", options->threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--repeats", options->repeats, "Timed runs after one warm-up")->capture_default_str();
  cmd->add_flag("--json", options->json,
                "One JSON object: median_ms, gflops, peak_fraction, peak_gflops, kernel, threads");
  cmd->callback([options] { run_bench(*options); });
}

}  // namespace mha::cli
