// mha bench: times the MultiHeadAttention forward on random inputs and prints the median time,
// GFLOP/s (mha_forward_flops: projections 8·B·N·E² + core 4·B·N²·E, causal counted dense) and the
// fraction of the fp32 peak, measured by an FMA micro-benchmark in the same run. With --decode,
// a decode step over a KV cache or a generation loop (bench_decode.hpp).
//
//   mha bench --shape 1,2048,512,8 [--causal] [--kernel ref|cpu] [--threads T] [--repeats R] [--json]
//             [--explain-dispatch]
//   mha bench --decode --context S [--batch B] [--shape E,H[,H_kv]] [--cache-dtype f32|bf16|f16]
//             [--caches N] [--threads T] [--repeats R] [--json]
//   mha bench --decode --generate P,G [--batch B] [--shape E,H[,H_kv]] [--cache-dtype …] [--json]
//   mpirun -np P mha bench --dist ring|ulysses --shape B,N,E,H [--causal] [--layout L] [--json]
//             the sequence shared by P ranks (dist_bench.hpp)
#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bench_decode.hpp"
#include "cli_options.hpp"
#include "commands.hpp"
#include "dist_bench.hpp"
#include "mha/core/error.hpp"
#include "mha/core/workspace.hpp"
#include "mha/kernels/cpu_info.hpp"
#include "mha/layers/mha_flops.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha::cli {
namespace {

struct BenchOptions {
  std::string shape;  // empty: 1,2048,512,8 (512,8 with --decode)
  bool causal = false;
  std::string kernel;
  bool json = false;
  bool explain_dispatch = false;
  int threads = 0;
  int repeats = 10;
  bool decode = false;
  DecodeBenchOptions decoding;  // --context, --batch, --cache-dtype, --generate, --caches
  std::string dist;             // --dist ring|ulysses
  std::string layout = "zigzag";
};

struct BenchShape {
  Index batch, len, embed, heads;
};

BenchShape parse_shape(const std::string& text) {
  const std::vector<Index> values = parse_index_list(text);
  const bool ok = values.size() == 4 &&
                  std::all_of(values.begin(), values.end(), [](Index v) { return v > 0; }) &&
                  values[2] % values[3] == 0;
  if (!ok) throw_invalid("--shape", "B,N,E,H: four positive integers with H dividing E", "'" + text + "'");
  return {values[0], values[1], values[2], values[3]};
}

// --dist: the shape is checked here, the rest by run_dist_bench.
void run_dist(const BenchOptions& o) {
  const BenchShape s = parse_shape(o.shape.empty() ? std::string("1,2048,512,8") : o.shape);
  run_dist_bench({.batch = s.batch,
                  .length = s.len,
                  .embed = s.embed,
                  .heads = s.heads,
                  .causal = o.causal,
                  .algorithm = o.dist,
                  .layout = o.layout,
                  .kernel = o.kernel,
                  .threads = o.threads,
                  .repeats = o.repeats,
                  .json = o.json});
}

void run_bench(const BenchOptions& o) {
  const BenchShape s = parse_shape(o.shape.empty() ? std::string("1,2048,512,8") : o.shape);
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
  const AttentionDispatch dispatch = layer.explain_dispatch(x.view(), x.view(), x.view(), options, ctx);

  std::vector<double> ms;
  for (int r = 0; r <= o.repeats; ++r) {  // run 0 warms caches and the primitive cache
    const auto start = std::chrono::steady_clock::now();
    const MhaOutput out = layer.forward(x.view(), x.view(), x.view(), options, ctx);
    const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
    if (r > 0) ms.push_back(elapsed.count());
  }
  const double median_ms = median_of(ms);

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
                              {"simd", std::string(cpu_simd_target())},
                              {"attention_path", dispatch.path},
                              {"dispatch_reason", dispatch.reason}};
    fmt::print("{}\n", j.dump());
    return;
  }
  fmt::print("shape B={} N={} E={} H={}{}  kernel {} ({} path)  threads {}  ({} runs)\n", s.batch,
             s.len, s.embed, s.heads, o.causal ? " causal" : "", kernel, dispatch.path, threads,
             o.repeats);
  if (o.explain_dispatch) fmt::print("attention path: {}, because {}\n", dispatch.path, dispatch.reason);
  fmt::print("median {:.3f} ms   {:.1f} GFLOP/s   {:.2f} of the fp32 peak ({:.1f} GFLOP/s, {})\n",
             median_ms, gflops, gflops / peak, peak, cpu_simd_target());
}

// --decode: hands the shared options over and runs the step or the generation bench.
void run_decode(const BenchOptions& o, bool repeats_given) {
  if (o.causal) throw Error("--causal: not with --decode (a decode step is causal)");
  DecodeBenchOptions d = o.decoding;
  d.shape = o.shape;
  d.kernel = o.kernel;
  d.threads = o.threads;
  d.json = o.json;
  d.repeats = repeats_given || d.generate.empty() ? o.repeats : 3;
  if (!d.generate.empty()) {
    if (d.context != 0) throw Error("--context: not with --generate (the loop sets the context)");
    if (d.caches != 0) throw Error("--caches: not with --generate (the loop has one cache)");
    run_generate_bench(d);
    return;
  }
  if (d.context == 0)
    throw_invalid("--context", "S >= 1 cached tokens with --decode (or --generate P,G)", "0");
  run_decode_step_bench(d);
}

}  // namespace

void register_bench(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Time the attention layer forward: median ms, GFLOP/s, fraction of the fp32 peak; "
               "with --decode, a decode step's ms/token and GB/s");
  cmd->add_option("--shape", options->shape,
                  "B,N,E,H: batch, sequence length, embed_dim, heads (default 1,2048,512,8); "
                  "with --decode E,H[,H_kv] (default 512,8)");
  cmd->add_flag("--causal", options->causal, "Causal self-attention (FLOPs still counted dense)");
  add_kernel_option(*cmd, options->kernel);
  cmd->add_option("--threads", options->threads, "Threads (0 = all cores)")->capture_default_str();
  CLI::Option* repeats =
      cmd->add_option("--repeats", options->repeats,
                      "Timed runs after one warm-up (--decode: passes over the caches; "
                      "--generate: whole loops, default 3)")
          ->capture_default_str();
  cmd->add_flag("--json", options->json,
                "One JSON object: median_ms, gflops, peak_fraction, peak_gflops, kernel, threads, "
                "attention_path, dispatch_reason (--decode: docs/performance.md, Decoding, lists "
                "the keys)");
  CLI::Option* explain = cmd->add_flag(
      "--explain-dispatch", options->explain_dispatch,
      "Say which attention path the layer's core runs (fused or unfused) and why");
  DecodeBenchOptions& d = options->decoding;
  cmd->add_flag("--decode", options->decode,
                "Time one decode step over a KV cache (or, with --generate, a generation loop)");
  // Options that mean something only with --decode (checked in the callback: exit 2, one line).
  const std::vector<CLI::Option*> decode_only = {
      cmd->add_option("--context", d.context, "--decode: S, tokens in the cache"),
      cmd->add_option("--batch", d.batch, "--decode: B, sequences decoded together")->capture_default_str(),
      cmd->add_option("--cache-dtype", d.cache_dtype, "--decode: cache element type f32, bf16 or f16")
          ->capture_default_str(),
      cmd->add_option("--caches", d.caches,
                      "--decode: caches the timed steps cycle over, as a model's layers would "
                      "(0 = enough to pass twice the last-level cache)")
          ->capture_default_str(),
      cmd->add_option("--generate", d.generate,
                      "--decode: P,G: prefill P tokens, then G one-token steps, with and without "
                      "the cache; ms/token over the last 32 steps")};
  CLI::Option* dist = cmd->add_option(
      "--dist", options->dist,
      "ring|ulysses: time the layer with the sequence shared by the ranks of an mpirun job "
      "(docs/distributed.md)");
  cmd->add_option("--layout", options->layout,
                  "with --dist: contiguous or zigzag (each rank holds an early and a late chunk)")
      ->needs(dist)
      ->capture_default_str();
  cmd->callback([options, repeats, decode_only, dist, explain] {
    if (explain->count() > 0 && (options->decode || dist->count() > 0))
      throw Error("--explain-dispatch: only for the layer forward (not with --decode or --dist)");
    if (options->decode) {
      if (dist->count() > 0) throw Error("--dist: not with --decode (a decode step runs in one process)");
      run_decode(*options, repeats->count() > 0);
      return;
    }
    for (const CLI::Option* option : decode_only)
      if (option->count() > 0) throw Error(option->get_name() + ": only with --decode");
    if (dist->count() > 0)
      run_dist(*options);
    else
      run_bench(*options);
  });
}

}  // namespace mha::cli
