// MultiHeadAttention with a KvCache: the decoding calls (mha/layers/multi_head_attention.hpp).
//
//   forward_with_cache:  [Q | K | V] = x·W_inᵀ + b_in  →  cache.append(K, V)  →
//                        heads = cached_attention(Q, cache)  →  out = heads·W_Oᵀ + b_O
//   append_to_cache:     K = key·W_Kᵀ + b_K, V = value·W_Vᵀ + b_V  →  cache.append(K, V)
//   attend_cache:        the last two steps of forward_with_cache, nothing appended
//
// Scratch comes from the call's workspace (Q, K and V rows of the new tokens only: n·(E + 2·Hkv·D)
// floats), and the kernel writes each head's output over that head's queries as in forward(), so
// a step with a grown workspace allocates no buffer (tests/layers/mha_cache_test.cpp counts).
#include <cmath>
#include <string>

#include "layers/mha_views.hpp"
#include "mha/core/workspace.hpp"
#include "mha/kernels/cached_attention.hpp"
#include "mha/kernels/linear.hpp"
#include "mha/layers/multi_head_attention.hpp"

namespace mha {
namespace {

void require_plain_keys(const MhaConfig& c) {
  if (c.add_bias_kv) throw_invalid("add_bias_kv", "false for a layer used with a cache", "true");
  if (c.add_zero_attn) throw_invalid("add_zero_attn", "false for a layer used with a cache", "true");
}

// An input of the cached calls read as [B, n, width]; `name` and `width_name` for the errors.
TensorView<const float> rows_of(TensorView<const float> x, const MhaConfig& c, const std::string& name,
                                Index width, const std::string& width_name) {
  if (x.rank() != 2 && x.rank() != 3)
    throw_invalid(name, c.batch_first ? "shape (B, n, " + width_name + ") or unbatched (n, " + width_name + ")"
                                      : "shape (n, B, " + width_name + ") or unbatched (n, " + width_name + ")",
                  shape_str(x.shape()));
  if (x.dim(-1) != width)
    throw_invalid(name, "last dimension " + width_name + " = " + std::to_string(width), shape_str(x.shape()));
  if (!x.defined() && x.numel() > 0) throw_invalid(name, "data", "a null pointer");
  return mha_views::batch_first(x, c.batch_first);
}

void check_cache(const KvCache& cache, const MultiHeadAttention& layer, Index batch) {
  const MhaConfig& c = layer.config();
  const KvCacheShape want{.batch = batch, .kv_heads = c.num_kv_heads, .max_length = cache.max_length(),
                          .head_dim = layer.head_dim(), .value_dim = layer.head_dim(), .dtype = cache.dtype()};
  const KvCacheShape& have = cache.shape();
  if (have != want)
    throw_invalid("cache",
                  "a cache of batch " + std::to_string(batch) + ", " + std::to_string(want.kv_heads) +
                      " kv heads and head_dim " + std::to_string(want.head_dim) + " (this layer's)",
                  "batch " + std::to_string(have.batch) + ", " + std::to_string(have.kv_heads) +
                      " kv heads, head_dim " + std::to_string(have.head_dim) + " and value_dim " +
                      std::to_string(have.value_dim));
}

void check_counts(std::span<const Index> counts, Index batch, Index n) {
  if (counts.empty()) return;
  if (static_cast<Index>(counts.size()) != batch)
    throw_invalid("counts", std::to_string(batch) + " entries (one per sequence)", std::to_string(counts.size()));
  for (std::size_t b = 0; b < counts.size(); ++b)
    if (counts[b] < 0 || counts[b] > n)
      throw_invalid("counts[" + std::to_string(b) + "]", "a count in [0, " + std::to_string(n) + "]",
                    std::to_string(counts[b]));
}

// The cache's own check would name its counts; the caller passed tokens, so name those.
void check_capacity(const KvCache& cache, std::span<const Index> counts, Index n, const std::string& name) {
  for (Index b = 0; b < cache.batch(); ++b) {
    const Index count = counts.empty() ? n : counts[static_cast<std::size_t>(b)];
    if (cache.length(b) + count > cache.max_length())
      throw_invalid(name, "at most " + std::to_string(cache.max_length() - cache.length(b)) +
                              " more tokens for sequence " + std::to_string(b) + " (the cache holds " +
                              std::to_string(cache.length(b)) + " of max_length " +
                              std::to_string(cache.max_length()) + ")",
                    std::to_string(count));
  }
}

void check_out(TensorView<float> out, TensorView<const float> input) {
  if (out.shape() != input.shape())
    throw_invalid("out", "shape " + shape_str(input.shape()) + " (like the input)", shape_str(out.shape()));
  if (!out.defined() && out.numel() > 0) throw_invalid("out", "data", "a null pointer");
}

// y [B, n, rows] ← x·Wᵀ + b for one projection, written `pitch` floats apart in `into`.
void project(TensorView<const float> x, const ProjectionRows<const float>& w, float* into, Index pitch,
             const Context& ctx) {
  const Index batch = x.dim(0), n = x.dim(1), rows = w.weight.dim(0);
  linear({.x = x, .weight = w.weight, .bias = w.bias,
          .y = TensorView<float>(into, {batch, n, rows}, {n * pitch, pitch, 1})},
         ctx);
}

}  // namespace

KvCache MultiHeadAttention::make_cache(Index batch, Index max_length, CacheDtype dtype) const {
  require_plain_keys(config_);
  return KvCache({.batch = batch, .kv_heads = config_.num_kv_heads, .max_length = max_length,
                  .head_dim = head_dim(), .value_dim = head_dim(), .dtype = dtype});
}

void MultiHeadAttention::append_to_cache(TensorView<const float> key, TensorView<const float> value,
                                         KvCache& cache, std::span<const Index> counts,
                                         const Context& caller_ctx) const {
  const MhaConfig& c = config_;
  require_plain_keys(c);
  const TensorView<const float> xk = rows_of(key, c, "key", c.kdim, "kdim");
  const TensorView<const float> xv = rows_of(value, c, "value", c.vdim, "vdim");
  if (key.rank() != value.rank() || xv.dim(0) != xk.dim(0) || xv.dim(1) != xk.dim(1))
    throw_invalid("value", "batch size and length of key " + shape_str(key.shape()), shape_str(value.shape()));
  const Index batch = xk.dim(0), n = xk.dim(1), d = head_dim(), kv_width = c.num_kv_heads * d;
  check_cache(cache, *this, batch);
  check_counts(counts, batch, n);
  check_capacity(cache, counts, n, "key");
  Workspace own;
  const Context ctx = with_workspace(caller_ctx, own);
  float* rows = ctx.workspace->get<float>(Workspace::Slot::projected_keys, batch * n * 2 * kv_width);
  project(xk, projection_rows(weights_, c, Projection::key), rows, 2 * kv_width, ctx);
  project(xv, projection_rows(weights_, c, Projection::value), rows + kv_width, 2 * kv_width, ctx);
  cache.append(mha_views::heads<const float>(rows, batch, c.num_kv_heads, n, d, 2 * kv_width),
               mha_views::heads<const float>(rows + kv_width, batch, c.num_kv_heads, n, d, 2 * kv_width), counts);
}

namespace {

// Steps 2 and 3 of a cached call: the heads over `q_rows` (pitch floats apart, Q in the first E),
// then the output projection into `out`; rows past counts[b] are set to 0.
void attend_and_project(const MultiHeadAttention& layer, float* q_rows, Index pitch, Index batch, Index n,
                        const KvCache& cache, TensorView<float> out, const CachedMhaOptions& options,
                        const Context& ctx) {
  const MhaConfig& c = layer.config();
  const Index d = layer.head_dim(), e = c.embed_dim;
  const TensorView<float> q_heads = mha_views::heads<float>(q_rows, batch, c.num_heads, n, d, pitch);
  cached_attention({.q = q_heads,
                    .cache = &cache,
                    .counts = options.counts,
                    .out = q_heads,
                    .lse = {},
                    .scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(d))),
                    .causal = options.is_causal,
                    .window_left = options.window_left},
                   ctx);
  const TensorView<float> y = mha_views::batch_first(out, c.batch_first);
  linear({.x = TensorView<const float>(q_rows, {batch, n, e}, {n * pitch, pitch, 1}),
          .weight = layer.weights().out_proj_weight.view(), .bias = layer.weights().out_proj_bias.view(), .y = y},
         ctx);
  if (options.counts.empty()) return;
  for (Index b = 0; b < batch; ++b)
    for (Index i = options.counts[static_cast<std::size_t>(b)]; i < n; ++i)
      for (Index x = 0; x < e; ++x) y(b, i, x) = 0.0f;
}

// Checked before the append, so that a bad option leaves the cache as it was.
void check_options(const CachedMhaOptions& options) {
  if (options.scale && !std::isfinite(*options.scale))
    throw_invalid("scale", "a finite number", std::to_string(*options.scale));
  if (options.window_left < -1)
    throw_invalid("window_left", "-1 (unlimited) or >= 0", std::to_string(options.window_left));
}

}  // namespace

void MultiHeadAttention::forward_with_cache(TensorView<const float> x, KvCache& cache, TensorView<float> out,
                                            const CachedMhaOptions& options, const Context& caller_ctx) const {
  const MhaConfig& c = config_;
  require_plain_keys(c);
  if (c.kdim != c.embed_dim || c.vdim != c.embed_dim)
    throw_invalid("kdim, vdim", "embed_dim " + std::to_string(c.embed_dim) + " for self-attention with a cache",
                  std::to_string(c.kdim) + ", " + std::to_string(c.vdim));
  const TensorView<const float> rows_in = rows_of(x, c, "x", c.embed_dim, "embed_dim");
  check_out(out, x);
  check_options(options);
  const Index batch = rows_in.dim(0), n = rows_in.dim(1), d = head_dim(), e = c.embed_dim,
              kv_width = c.num_kv_heads * d, pitch = e + 2 * kv_width;
  check_cache(cache, *this, batch);
  check_counts(options.counts, batch, n);
  check_capacity(cache, options.counts, n, "x");
  Workspace own;
  const Context ctx = with_workspace(caller_ctx, own);
  // [Q | K | V] rows of the new tokens: one GEMM with the packed weights, three without.
  float* rows = ctx.workspace->get<float>(Workspace::Slot::projections, batch * n * pitch);
  if (weights_.in_proj_weight.defined()) {
    linear({.x = rows_in, .weight = weights_.in_proj_weight.view(), .bias = weights_.in_proj_bias.view(),
            .y = TensorView<float>(rows, {batch, n, pitch})},
           ctx);
  } else {
    project(rows_in, projection_rows(weights_, c, Projection::query), rows, pitch, ctx);
    project(rows_in, projection_rows(weights_, c, Projection::key), rows + e, pitch, ctx);
    project(rows_in, projection_rows(weights_, c, Projection::value), rows + e + kv_width, pitch, ctx);
  }
  // append() checks the capacity before it writes: on error nothing has changed.
  cache.append(mha_views::heads<const float>(rows + e, batch, c.num_kv_heads, n, d, pitch),
               mha_views::heads<const float>(rows + e + kv_width, batch, c.num_kv_heads, n, d, pitch),
               options.counts);
  attend_and_project(*this, rows, pitch, batch, n, cache, out, options, ctx);
}

void MultiHeadAttention::attend_cache(TensorView<const float> query, const KvCache& cache, TensorView<float> out,
                                      const CachedMhaOptions& options, const Context& caller_ctx) const {
  const MhaConfig& c = config_;
  require_plain_keys(c);
  const TensorView<const float> rows_in = rows_of(query, c, "query", c.embed_dim, "embed_dim");
  check_out(out, query);
  check_options(options);
  const Index batch = rows_in.dim(0), n = rows_in.dim(1), e = c.embed_dim;
  check_cache(cache, *this, batch);
  check_counts(options.counts, batch, n);
  Workspace own;
  const Context ctx = with_workspace(caller_ctx, own);
  float* rows = ctx.workspace->get<float>(Workspace::Slot::projections, batch * n * e);
  project(rows_in, projection_rows(weights_, c, Projection::query), rows, e, ctx);
  attend_and_project(*this, rows, e, batch, n, cache, out, options, ctx);
}

}  // namespace mha
