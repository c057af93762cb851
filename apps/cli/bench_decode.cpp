// mha bench --decode --context S: one decode step of one layer over a cache of S tokens.
//
// Primary: the attention step alone, cached_attention with one new query row per sequence
// (Hq = H, D = E/H) over the S cached keys and values. Also: the whole layer step,
// forward_with_cache (QKV projection of the new token, append, attention, output projection).
// A decode step reads the whole cache and does 0.5 FLOP per fp32 byte, so it is reported as
// bytes per step, 2·B·H_kv·S·D·sizeof(cache dtype) (numerics.md), over the median time, against
// the streaming-read bandwidth measured in the same run (measure_read_bandwidth_gbps).
//
// A model reads a different cache in every layer, so the timed steps cycle over N caches whose
// total is at least twice the last-level cache: each step then reads its cache from memory, as
// in a real model. With one cache, S ≤ a few thousand tokens would stay in L3 and the numbers
// would be L3 bandwidth. (The layer's weights are shared by the N caches and stay in cache; a
// real model's would not, so layer_ms_per_token is a lower bound for the projections.)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
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
#include "mha/kernels/cached_attention.hpp"
#include "mha/kernels/cpu_info.hpp"
#include "mha/kernels/kv_cache.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha::cli {

DecodeShape parse_decode_shape(const std::string& text) {
  std::vector<Index> values = parse_index_list(text.empty() ? std::string("512,8") : text);
  if (values.size() == 2) values.push_back(values[1]);
  const bool ok = values.size() == 3 &&
                  std::all_of(values.begin(), values.end(), [](Index v) { return v > 0; }) &&
                  values[0] % values[1] == 0 && values[1] % values[2] == 0;
  if (!ok)
    throw_invalid("--shape",
                  "E,H[,H_kv] with --decode: positive integers, H dividing E, H_kv dividing H",
                  "'" + text + "'");
  return {values[0], values[1], values[2]};
}

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    const std::size_t start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "unknown" : line.substr(start);
  }
  return "unknown";
}

namespace {

Tensor<> uniform_tensor(Shape shape, unsigned seed) {
  Tensor<> t(std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float& v : t.values()) v = uniform(rng);
  return t;
}

// Milliseconds `step` takes, once per cache, `repeats` passes after one warm-up pass.
template <class Step>
std::vector<double> time_over_caches(std::vector<KvCache>& caches, int repeats, Step&& step) {
  std::vector<double> ms;
  for (int pass = 0; pass <= repeats; ++pass)
    for (KvCache& cache : caches) {
      const auto start = std::chrono::steady_clock::now();
      step(cache);
      const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
      if (pass > 0) ms.push_back(elapsed.count());
    }
  return ms;
}

}  // namespace

void run_decode_step_bench(const DecodeBenchOptions& o) {
  const DecodeShape s = parse_decode_shape(o.shape);
  const CacheDtype dtype = parse_cache_dtype(o.cache_dtype, "--cache-dtype");
  if (o.context < 1) throw_invalid("--context", "at least 1 cached token", std::to_string(o.context));
  if (o.batch < 1) throw_invalid("--batch", "at least 1", std::to_string(o.batch));
  if (o.caches < 0) throw_invalid("--caches", "0 (enough to pass the last-level cache) or more", std::to_string(o.caches));
  if (o.repeats < 1) throw_invalid("--repeats", "at least 1", std::to_string(o.repeats));
  if (o.threads < 0) throw_invalid("--threads", "0 (all cores) or more", std::to_string(o.threads));
  Workspace workspace;
  const Context ctx{resolve_kernel(o.kernel), o.threads, &workspace};
  const Index b = o.batch, sq = o.context, d = s.head_dim();

  const auto layer = MultiHeadAttention::random(
      {.embed_dim = s.embed, .num_heads = s.heads, .num_kv_heads = s.kv_heads, .batch_first = true}, 1);
  // The bytes one step reads: every cached key and value row once (numerics.md).
  const double kv_bytes = 2.0 * static_cast<double>(b * s.kv_heads * sq * d) *
                          static_cast<double>(cache_dtype_bytes(dtype));
  const std::size_t llc = last_level_cache_bytes();
  const auto caches_count = static_cast<std::size_t>(
      o.caches > 0 ? o.caches
                   : std::max<Index>(1, static_cast<Index>(std::ceil(2.0 * static_cast<double>(llc) / kv_bytes))));

  double step_ms = 0.0, layer_ms = 0.0;
  std::size_t samples = 0;
  {
    // The same random keys and values in every cache: what they hold does not change the time.
    const Tensor<> k = uniform_tensor({b, s.kv_heads, sq, d}, 3), v = uniform_tensor({b, s.kv_heads, sq, d}, 4);
    std::vector<KvCache> caches;
    caches.reserve(caches_count);
    for (std::size_t c = 0; c < caches_count; ++c) {
      caches.push_back(layer.make_cache(b, sq, dtype));
      caches.back().append(k.view(), v.view());
    }

    Tensor<> q = uniform_tensor({b, s.heads, 1, d}, 5), out({b, s.heads, 1, d});
    CachedAttentionArgs step;
    step.q = q.view();
    step.out = out.view();
    step.scale = 1.0 / std::sqrt(static_cast<double>(d));
    const std::vector<double> attention = time_over_caches(caches, o.repeats, [&](const KvCache& cache) {
      CachedAttentionArgs args = step;
      args.cache = &cache;
      cached_attention(args, ctx);
    });

    // The layer appends the new token: each cache goes back to S − 1 tokens first (untimed), so
    // that every step attends over S.
    const Tensor<> x = uniform_tensor({b, 1, s.embed}, 6);
    Tensor<> y({b, 1, s.embed});
    std::vector<double> whole;
    for (int pass = 0; pass <= o.repeats; ++pass)
      for (KvCache& cache : caches) {
        for (Index i = 0; i < b; ++i) cache.truncate(i, sq - 1);
        const auto start = std::chrono::steady_clock::now();
        layer.forward_with_cache(x.view(), cache, y.view(), {}, ctx);
        const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
        if (pass > 0) whole.push_back(elapsed.count());
      }
    step_ms = median_of(attention);
    layer_ms = median_of(whole);
    samples = attention.size();
  }  // the caches are freed before the probe allocates its buffer

  const int threads = cpu_threads(ctx);
  const double bandwidth = measure_read_bandwidth_gbps(threads);
  const double kv_gbps = kv_bytes / (step_ms * 1e-3) * 1e-9;
  const double caches_mib = static_cast<double>(caches_count) * kv_bytes / (1 << 20);
  const double llc_mib = static_cast<double>(llc) / (1 << 20);
  const std::string why = fmt::format(
      "{} caches of {:.2f} MiB ({:.1f} MiB in all) against a {:.0f} MiB last-level cache: a model "
      "reads another layer's cache each step, so each timed step reads its cache from memory",
      caches_count, kv_bytes / (1 << 20), caches_mib, llc_mib);
  const std::string kernel(kernel_name(ctx.kernel)), simd(cpu_simd_target()), cpu = cpu_model_name();

  if (o.json) {
    const nlohmann::json j = {
        {"mode", "step"},
        {"ms_per_token", step_ms},
        {"layer_ms_per_token", layer_ms},
        {"kv_bytes_per_token", kv_bytes},
        {"kv_gbps", kv_gbps},
        {"layer_kv_gbps", kv_bytes / (layer_ms * 1e-3) * 1e-9},
        {"bandwidth_gbps", bandwidth},
        {"bandwidth_fraction", kv_gbps / bandwidth},
        {"cache_dtype", std::string(cache_dtype_name(dtype))},
        {"threads", threads},
        {"context", sq},
        {"batch", b},
        {"shape", {s.embed, s.heads, s.kv_heads}},
        {"head_dim", d},
        {"caches", caches_count},
        {"caches_bytes", static_cast<double>(caches_count) * kv_bytes},
        {"last_level_cache_bytes", llc},
        {"caches_reason", why},
        {"repeats", o.repeats},
        {"steps_timed", samples},
        {"kernel", kernel},
        {"simd", simd},
        {"cpu", cpu}};
    fmt::print("{}\n", j.dump());
    return;
  }
  fmt::print("decode step  B={} S={} E={} H={} H_kv={} D={}  cache {}  kernel {}  threads {}\n", b, sq,
             s.embed, s.heads, s.kv_heads, d, cache_dtype_name(dtype), kernel, threads);
  fmt::print("{}; median of {} steps\n", why, samples);
  fmt::print("attention  {:.4f} ms/token   {:.2f} MiB K/V read   {:.1f} GB/s   {:.2f} of the read "
             "bandwidth ({:.1f} GB/s, measured now)\n",
             step_ms, kv_bytes / (1 << 20), kv_gbps, kv_gbps / bandwidth, bandwidth);
  fmt::print("layer      {:.4f} ms/token   (projections, append, attention, output projection)\n", layer_ms);
  fmt::print("CPU {}, SIMD target {}\n", cpu, simd);
}

}  // namespace mha::cli
