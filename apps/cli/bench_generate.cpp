// mha bench --decode --generate P,G: a generation loop of one layer, with and without a cache.
//
// With the cache: one prefill of the P prompt tokens (forward_with_cache over P rows), then G
// one-token steps of forward_with_cache. Without: each of the G steps runs the full causal
// MultiHeadAttention::forward over all P + i + 1 tokens so far (what a loop without a cache, or
// nn.MultiheadAttention fed a torch.cat-grown history, computes). Both report the median ms of
// one step over the last min(32, G) steps of the loop, where the context is longest, pooled over
// --repeats loops after one warm-up loop (which also fills oneDNN's per-shape primitive cache).
// The inputs are random rows: one layer alone has no tokens to sample.
//
// JSON keys: mode ("generate"), prompt, generate, tail_steps, ms_per_token (cached, tail median),
// no_cache_ms_per_token (tail median), speedup_vs_no_cache, mean_ms_per_token (cached, all G
// steps), no_cache_mean_ms_per_token, prefill_ms (median), cache_dtype, threads, batch, shape
// [E, H, H_kv], repeats, kernel, simd, cpu.
#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bench_decode.hpp"
#include "cli_options.hpp"
#include "mha/core/error.hpp"
#include "mha/core/workspace.hpp"
#include "mha/kernels/cpu_info.hpp"
#include "mha/kernels/kv_cache.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha::cli {
namespace {

struct GenerateLength {
  Index prompt, steps;
};

GenerateLength parse_generate(const std::string& text) {
  const std::vector<Index> values = parse_index_list(text);
  if (values.size() != 2 || values[0] < 1 || values[1] < 1)
    throw_invalid("--generate", "P,G: prompt tokens and generated tokens, both at least 1", "'" + text + "'");
  return {values[0], values[1]};
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

double mean_of(const std::vector<double>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

}  // namespace

void run_generate_bench(const DecodeBenchOptions& o) {
  const DecodeShape s = parse_decode_shape(o.shape);
  const GenerateLength g = parse_generate(o.generate);
  const CacheDtype dtype = parse_cache_dtype(o.cache_dtype, "--cache-dtype");
  if (o.batch < 1) throw_invalid("--batch", "at least 1", std::to_string(o.batch));
  if (o.repeats < 1) throw_invalid("--repeats", "at least 1", std::to_string(o.repeats));
  if (o.threads < 0) throw_invalid("--threads", "0 (all cores) or more", std::to_string(o.threads));
  Workspace workspace;
  const Context ctx{resolve_kernel(o.kernel), o.threads, &workspace};
  const Index b = o.batch, total = g.prompt + g.steps, e = s.embed;

  const auto layer = MultiHeadAttention::random(
      {.embed_dim = e, .num_heads = s.heads, .num_kv_heads = s.kv_heads, .batch_first = true}, 1);
  Tensor<> x({b, total, e});
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float& v : x.values()) v = uniform(rng);
  // Rows [first, first + n) of every sequence, in place (x's batch stride stays total·E).
  const auto rows = [&](Index first, Index n) {
    return TensorView<const float>(x.data() + first * e, {b, n, e}, {total * e, e, 1});
  };

  KvCache cache = layer.make_cache(b, total, dtype);
  Tensor<> prompt_out({b, g.prompt, e}), step_out({b, 1, e});
  MhaOptions causal;
  causal.is_causal = true;
  std::vector<double> prefill, cached_tail, plain_tail, cached_all, plain_all;
  const Index tail = std::min<Index>(32, g.steps);
  for (int loop = 0; loop <= o.repeats; ++loop) {  // loop 0 warms up
    const bool keep = loop > 0;
    cache.clear();
    auto start = std::chrono::steady_clock::now();
    layer.forward_with_cache(rows(0, g.prompt), cache, prompt_out.view(), {}, ctx);
    if (keep) prefill.push_back(elapsed_ms(start));
    for (Index i = 0; i < g.steps; ++i) {
      start = std::chrono::steady_clock::now();
      layer.forward_with_cache(rows(g.prompt + i, 1), cache, step_out.view(), {}, ctx);
      const double ms = elapsed_ms(start);
      if (keep) cached_all.push_back(ms);
      if (keep && i >= g.steps - tail) cached_tail.push_back(ms);
    }
    for (Index i = 0; i < g.steps; ++i) {
      const auto history = rows(0, g.prompt + i + 1);
      start = std::chrono::steady_clock::now();
      const MhaOutput out = layer.forward(history, history, history, causal, ctx);
      const double ms = elapsed_ms(start);
      if (keep) plain_all.push_back(ms);
      if (keep && i >= g.steps - tail) plain_tail.push_back(ms);
    }
  }
  const double cached_ms = median_of(cached_tail), plain_ms = median_of(plain_tail);
  const int threads = cpu_threads(ctx);
  const std::string kernel(kernel_name(ctx.kernel)), simd(cpu_simd_target()), cpu = cpu_model_name();

  if (o.json) {
    const nlohmann::json j = {{"mode", "generate"},
                              {"prompt", g.prompt},
                              {"generate", g.steps},
                              {"tail_steps", tail},
                              {"ms_per_token", cached_ms},
                              {"no_cache_ms_per_token", plain_ms},
                              {"speedup_vs_no_cache", plain_ms / cached_ms},
                              {"mean_ms_per_token", mean_of(cached_all)},
                              {"no_cache_mean_ms_per_token", mean_of(plain_all)},
                              {"prefill_ms", median_of(prefill)},
                              {"cache_dtype", std::string(cache_dtype_name(dtype))},
                              {"threads", threads},
                              {"batch", b},
                              {"shape", {e, s.heads, s.kv_heads}},
                              {"repeats", o.repeats},
                              {"kernel", kernel},
                              {"simd", simd},
                              {"cpu", cpu}};
    fmt::print("{}\n", j.dump());
    return;
  }
  fmt::print("generate  prompt {} + {} tokens  B={} E={} H={} H_kv={}  cache {}  kernel {}  threads {}\n",
             g.prompt, g.steps, b, e, s.heads, s.kv_heads, cache_dtype_name(dtype), kernel, threads);
  fmt::print("ms/token over the last {} steps (median of {} loops):\n", tail, o.repeats);
  fmt::print("  with the cache     {:.4f} ms   (prefill {:.3f} ms, mean over all steps {:.4f} ms)\n",
             cached_ms, median_of(prefill), mean_of(cached_all));
  fmt::print("  without, full causal forward over all tokens so far  {:.4f} ms   ({:.1f}× slower)\n",
             plain_ms, plain_ms / cached_ms);
  fmt::print("CPU {}, SIMD target {}\n", cpu, simd);
}

}  // namespace mha::cli
