// MultiHeadAttention with a KvCache: a prefill and steps of any size give what the full causal
// forward over the same tokens gives; batches of different lengths; cross-attention to a memory
// held in a cache; bad input leaves the cache as it was.
//
// The tolerance: with the reference kernel both paths run the same float64 attention over the
// same fp32 projections (rows are projected one by one either way), so they agree to a few ulps.
// With the cpu kernel the cached path must be within twice the full fast forward's own distance
// from the reference, plus a floor of a few ulps (the fast-vs-reference rule, numerics.md).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "mha/core/workspace.hpp"
#include "mha/layers/multi_head_attention.hpp"
#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

using testing::random_tensor;
using testing::throws_error;

constexpr double kUlpFloor = 8 * 0x1p-23;  // a few ulps of outputs of magnitude ≤ 1

struct Case {
  MhaConfig config;
  std::vector<Index> chunks;  // tokens per call: a prefill, then steps
  Index window_left = -1;
  CacheDtype dtype = CacheDtype::f32;
};

Index total(const std::vector<Index>& chunks) {
  Index n = 0;
  for (const Index c : chunks) n += c;
  return n;
}

// Runs x [1, T, E] (batch-first) through the layer chunk by chunk with a cache; returns [1, T, E].
Tensor<> cached_run(const MultiHeadAttention& layer, const Tensor<>& x, const Case& c, const Context& ctx) {
  const Index e = c.config.embed_dim, t_total = x.dim(1);
  KvCache cache = layer.make_cache(1, t_total + 3, c.dtype);
  Tensor<> out({1, t_total, e});
  Index at = 0;
  for (const Index n : c.chunks) {
    const TensorView<const float> xs(x.data() + at * e, {1, n, e});
    TensorView<float> ys(out.data() + at * e, {1, n, e});
    layer.forward_with_cache(xs, cache, ys, {.is_causal = true, .window_left = c.window_left}, ctx);
    at += n;
    EXPECT_EQ(cache.length(0), at);
  }
  return out;
}

Tensor<> full_run(const MultiHeadAttention& layer, const Tensor<>& x, const Case& c, const Context& ctx) {
  MhaOptions options;
  options.is_causal = true;
  options.window_left = c.window_left;
  return layer.forward(x.view(), x.view(), x.view(), options, ctx).output;
}

void expect_cached_equals_full(const Case& c, std::uint64_t seed) {
  MhaConfig config = c.config;
  config.batch_first = true;
  const MultiHeadAttention layer = MultiHeadAttention::random(config, seed);
  const Tensor<> x = random_tensor({1, total(c.chunks), config.embed_dim}, seed + 1);
  const Context ref{KernelKind::reference, 0}, cpu{KernelKind::cpu, 2};
  const Tensor<> full_ref = full_run(layer, x, c, ref);
  const Tensor<> cached_ref = cached_run(layer, x, c, ref);
  if (c.dtype == CacheDtype::f32) {
    EXPECT_TRUE(testing::all_close(cached_ref.view(), full_ref.view(), kUlpFloor)) << "reference kernel";
  } else {
    // Each cached element is rounded once, |Δ| ≤ u·|x| (u = 2⁻⁸ bf16, 2⁻¹¹ f16); the layer's output
    // moves by a small multiple of u times its magnitude (docs/numerics.md states the kernel bound).
    const double u = c.dtype == CacheDtype::bf16 ? 0x1p-8 : 0x1p-11;
    double scale = 0;
    for (const float v : full_ref.values()) scale = std::max(scale, static_cast<double>(std::fabs(v)));
    EXPECT_TRUE(testing::all_close(cached_ref.view(), full_ref.view(), 8 * u * scale)) << cache_dtype_name(c.dtype);
    const Tensor<> cached_cpu = cached_run(layer, x, c, cpu);
    EXPECT_TRUE(testing::all_close(cached_cpu.view(), full_ref.view(), 8 * u * scale + kUlpFloor)) << "cpu";
    return;
  }
  const Tensor<> full_cpu = full_run(layer, x, c, cpu);
  const Tensor<> cached_cpu = cached_run(layer, x, c, cpu);
  const double fast_error = testing::max_abs_diff(full_cpu.view(), full_ref.view());
  EXPECT_TRUE(testing::all_close(cached_cpu.view(), full_ref.view(), 2 * fast_error + kUlpFloor)) << "cpu kernel";
}

TEST(MhaCache, PrefillThenStepsEqualsTheFullCausalForward) {
  expect_cached_equals_full({.config = {.embed_dim = 32, .num_heads = 4}, .chunks = {5, 1, 1, 3, 1}}, 1);
}

TEST(MhaCache, OneTokenAtATime) {
  expect_cached_equals_full({.config = {.embed_dim = 16, .num_heads = 2}, .chunks = {1, 1, 1, 1, 1, 1, 1}}, 2);
}

TEST(MhaCache, GroupedAndMultiQuery) {
  expect_cached_equals_full({.config = {.embed_dim = 64, .num_heads = 8, .num_kv_heads = 2}, .chunks = {9, 1, 1, 4}}, 3);
  expect_cached_equals_full({.config = {.embed_dim = 32, .num_heads = 4, .num_kv_heads = 1}, .chunks = {3, 1, 2}}, 4);
}

TEST(MhaCache, SlidingWindow) {
  expect_cached_equals_full({.config = {.embed_dim = 32, .num_heads = 4}, .chunks = {7, 1, 1, 5, 1}, .window_left = 3}, 5);
  expect_cached_equals_full({.config = {.embed_dim = 16, .num_heads = 2}, .chunks = {4, 1, 1}, .window_left = 0}, 6);
}

TEST(MhaCache, SeparateProjectionsAndNoBias) {
  // Without in_proj_weight (GQA forces q/k/v_proj_weight) and without biases.
  expect_cached_equals_full({.config = {.embed_dim = 24, .num_heads = 6, .num_kv_heads = 3, .bias = false},
                             .chunks = {6, 1, 2}},
                            7);
}

TEST(MhaCache, LowPrecisionCaches) {
  expect_cached_equals_full({.config = {.embed_dim = 32, .num_heads = 4}, .chunks = {6, 1, 1, 2}, .dtype = CacheDtype::bf16}, 8);
  expect_cached_equals_full({.config = {.embed_dim = 32, .num_heads = 4, .num_kv_heads = 2}, .chunks = {6, 1, 1, 2},
                             .dtype = CacheDtype::f16},
                            9);
}

TEST(MhaCache, BatchOfDifferentLengthsMatchesEachSequenceAlone) {
  // Sequence 0: a prompt of 5 then 2 steps; sequence 1: a prompt of 2 then 2 steps. One batched
  // call per step, in the default (n, B, E) layout; the padding rows of the prefill give 0.
  const MhaConfig config{.embed_dim = 32, .num_heads = 4, .num_kv_heads = 2};
  const MultiHeadAttention layer = MultiHeadAttention::random(config, 11);
  const Index e = config.embed_dim, lengths[2] = {7, 4};
  const Tensor<> seq[2] = {random_tensor({lengths[0], 1, e}, 12), random_tensor({lengths[1], 1, e}, 13)};
  for (const KernelKind kind : {KernelKind::reference, KernelKind::cpu}) {
    const Context ctx{kind, 2};
    KvCache cache = layer.make_cache(2, 8);
    Tensor<> outputs[2] = {Tensor<>({lengths[0], 1, e}), Tensor<>({lengths[1], 1, e})};
    auto run = [&](Index n, const Index (&counts)[2], const Index (&from)[2]) {
      Tensor<> x({n, 2, e}), y({n, 2, e});
      for (Index b = 0; b < 2; ++b)
        for (Index i = 0; i < counts[b]; ++i)
          for (Index k = 0; k < e; ++k) x(i, b, k) = seq[b](from[b] + i, 0, k);
      layer.forward_with_cache(x.view(), cache, y.view(), {.counts = counts}, ctx);
      for (Index b = 0; b < 2; ++b)
        for (Index i = 0; i < n; ++i)
          for (Index k = 0; k < e; ++k) {
            if (i < counts[b]) outputs[b](from[b] + i, 0, k) = y(i, b, k);
            else EXPECT_EQ(y(i, b, k), 0.0f) << "padding row " << i << " of sequence " << b;
          }
    };
    run(5, {5, 2}, {0, 0});
    run(1, {1, 1}, {5, 2});
    run(1, {1, 1}, {6, 3});
    EXPECT_EQ(cache.length(0), 7);
    EXPECT_EQ(cache.length(1), 4);
    for (Index b = 0; b < 2; ++b) {
      MhaOptions options;
      options.is_causal = true;
      const Tensor<> alone = layer.forward(seq[b].view(), seq[b].view(), seq[b].view(), options, {KernelKind::reference, 0}).output;
      EXPECT_TRUE(testing::all_close(outputs[b].view(), alone.view(), 1e-5)) << kernel_name(kind) << " sequence " << b;
    }
  }
}

TEST(MhaCache, CrossAttentionToAMemoryInACache) {
  // The paper's decoder: the encoder memory's keys and values projected once, then attended by
  // queries without causality; equal to forward(query, memory, memory). kdim, vdim ≠ E.
  const MhaConfig config{.embed_dim = 16, .num_heads = 4, .kdim = 12, .vdim = 10, .batch_first = true};
  const MultiHeadAttention layer = MultiHeadAttention::random(config, 21);
  const Tensor<> memory_k = random_tensor({2, 9, 12}, 22), memory_v = random_tensor({2, 9, 10}, 23);
  const Tensor<> query = random_tensor({2, 3, 16}, 24);
  const Context ctx{KernelKind::reference, 0};
  KvCache cache = layer.make_cache(2, 9);
  layer.append_to_cache(memory_k.view(), memory_v.view(), cache, {}, ctx);
  Tensor<> out({2, 3, 16});
  layer.attend_cache(query.view(), cache, out.view(), {.is_causal = false}, ctx);
  EXPECT_EQ(cache.length(0), 9);  // attending appends nothing
  const Tensor<> expected = layer.forward(query.view(), memory_k.view(), memory_v.view(), {}, ctx).output;
  EXPECT_TRUE(testing::all_close(out.view(), expected.view(), kUlpFloor));
}

// ---- bad input ------------------------------------------------------------------------------

struct Snapshot {
  std::vector<Index> lengths;
  std::vector<float> keys;
};
Snapshot snapshot(const KvCache& cache) {
  Snapshot s{{cache.lengths().begin(), cache.lengths().end()}, {}};
  for (Index b = 0; b < cache.batch(); ++b)
    for (Index g = 0; g < cache.kv_heads(); ++g)
      for (Index t = 0; t < cache.length(b); ++t)
        for (Index x = 0; x < cache.head_dim(); ++x) s.keys.push_back(cache.key(b, g, t, x));
  return s;
}

TEST(MhaCacheErrors, NameTheArgumentAndLeaveTheCacheAsItWas) {
  const MhaConfig config{.embed_dim = 8, .num_heads = 2, .batch_first = true};
  const MultiHeadAttention layer = MultiHeadAttention::random(config, 31);
  KvCache cache = layer.make_cache(1, 4);
  const Tensor<> three = random_tensor({1, 3, 8}, 32), two = random_tensor({1, 2, 8}, 33);
  Tensor<> out3({1, 3, 8}), out2({1, 2, 8});
  layer.forward_with_cache(three.view(), cache, out3.view());
  const Snapshot before = snapshot(cache);
  auto unchanged = [&] {
    const Snapshot now = snapshot(cache);
    EXPECT_EQ(now.lengths, before.lengths);
    EXPECT_EQ(now.keys, before.keys);
  };
  EXPECT_TRUE(throws_error([&] { layer.forward_with_cache(two.view(), cache, out2.view()); }, {"x", "at most 1 more tokens", "holds 3 of max_length 4", "got 2"}));
  unchanged();
  const Index too_many[1] = {3};
  EXPECT_TRUE(throws_error([&] { layer.forward_with_cache(two.view(), cache, out2.view(), {.counts = too_many}); },
                           {"counts[0]", "[0, 2]", "3"}));
  unchanged();
  EXPECT_TRUE(throws_error([&] { layer.forward_with_cache(two.view(), cache, out3.view()); }, {"out", "[1, 2, 8]"}));
  EXPECT_TRUE(throws_error([&] { layer.forward_with_cache(two.view(), cache, out2.view(), {.scale = std::nan("")}); },
                           {"scale", "finite"}));
  unchanged();
  KvCache other = KvCache({.batch = 1, .kv_heads = 1, .max_length = 4, .head_dim = 4});
  EXPECT_TRUE(throws_error([&] { layer.forward_with_cache(two.view(), other, out2.view()); }, {"cache", "2 kv heads"}));
  const Tensor<> wide = random_tensor({1, 2, 9}, 34);
  EXPECT_TRUE(throws_error([&] { layer.forward_with_cache(wide.view(), cache, out2.view()); }, {"x", "embed_dim = 8"}));
  unchanged();
  const MultiHeadAttention with_bias_kv =
      MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2, .add_bias_kv = true}, 35);
  EXPECT_TRUE(throws_error([&] { (void)with_bias_kv.make_cache(1, 4); }, {"add_bias_kv"}));
}

}  // namespace
}  // namespace mha
