// Transformer::decode: a causal model run token by token with a cache gives the logits of the full
// causal forward over the same text (both norm placements, f32 and 16-bit caches, batches whose
// sequences have different lengths), and every bad call leaves the cache as it was.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "mha/models/transformer.hpp"
#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

TransformerConfig causal_config(NormPlacement norm) {
  return {.vocab_size = 11, .d_model = 16, .num_heads = 4, .num_layers = 2, .d_ff = 24, .max_length = 32,
          .norm = norm, .activation = Activation::gelu, .causal = true};
}

Tensor<std::int64_t> random_ids(Index batch, Index len, std::uint64_t seed) {
  Tensor<std::int64_t> ids({batch, len});
  std::mt19937_64 rng(seed);
  for (std::int64_t& id : ids.values()) id = static_cast<std::int64_t>(rng() % 11);
  return ids;
}

// Logits [1, T, V] of `ids` [1, T] fed in chunks through decode().
Tensor<> decode_in_chunks(const Transformer& model, const Tensor<std::int64_t>& ids, const std::vector<Index>& chunks,
                          CacheDtype dtype, const Context& ctx) {
  const Index len = ids.dim(1), vocab = model.config().vocab_size;
  TransformerCache cache = model.make_cache(1, len, dtype);
  Tensor<> logits({1, len, vocab});
  Index at = 0;
  for (const Index n : chunks) {
    const Tensor<> step = model.decode(TensorView<const std::int64_t>(ids.data() + at, {1, n}), cache, {}, ctx);
    std::copy_n(step.data(), n * vocab, logits.data() + at * vocab);
    at += n;
  }
  EXPECT_EQ(cache.length(0), len);
  return logits;
}

TEST(TransformerDecode, PrefillAndStepsGiveTheFullCausalForward) {
  for (const NormPlacement norm : {NormPlacement::pre, NormPlacement::post}) {
    const Transformer model(causal_config(norm), init_parameters(causal_config(norm), 5));
    const Tensor<std::int64_t> ids = random_ids(1, 12, 6);
    const Context ref{KernelKind::reference, 0}, cpu{KernelKind::cpu, 2};
    const Tensor<> full_ref = model.forward({.input_ids = ids.view()}, {.output_hidden_states = false,
                                                                         .output_attentions = false}, ref).logits;
    const Tensor<> full_cpu = model.forward({.input_ids = ids.view()}, {.output_hidden_states = false,
                                                                         .output_attentions = false}, cpu).logits;
    const std::vector<Index> chunks = {4, 1, 1, 3, 1, 1, 1};
    // Reference kernel: the same float64 attention over the same rows, so a few ulps of logits ~ 10.
    EXPECT_TRUE(testing::all_close(decode_in_chunks(model, ids, chunks, CacheDtype::f32, ref).view(), full_ref.view(), 1e-5));
    // Fast kernel: within twice the fast full forward's distance from the reference, plus a floor.
    const double fast_error = testing::max_abs_diff(full_cpu.view(), full_ref.view());
    EXPECT_TRUE(testing::all_close(decode_in_chunks(model, ids, chunks, CacheDtype::f32, cpu).view(), full_ref.view(),
                                   2 * fast_error + 1e-5));
    // bf16 keeps 8 significant bits: logits move by a few units of 2⁻⁸ of their scale.
    EXPECT_TRUE(testing::all_close(decode_in_chunks(model, ids, chunks, CacheDtype::bf16, cpu).view(), full_ref.view(),
                                   0.05, 0.02));
  }
}

TEST(TransformerDecode, ABatchOfDifferentLengths) {
  const Transformer model(causal_config(NormPlacement::pre), init_parameters(causal_config(NormPlacement::pre), 7));
  const Tensor<std::int64_t> a = random_ids(1, 6, 8), b = random_ids(1, 3, 9);
  const Context ctx{KernelKind::cpu, 2};
  TransformerCache cache = model.make_cache(2, 8);
  // Prefill: row 0 holds a's 4-token prompt, row 1 b's 1-token prompt and padding (id 99 is
  // outside the vocabulary: padding rows are never read as tokens).
  Tensor<std::int64_t> prompt({2, 4}, {a(0, 0), a(0, 1), a(0, 2), a(0, 3), b(0, 0), 99, 99, 99});
  const Index prompt_counts[2] = {4, 1};
  const Tensor<> first = model.decode(prompt.view(), cache, prompt_counts, ctx);
  Tensor<> got_a({1, 6, 11}), got_b({1, 3, 11});
  std::copy_n(first.data(), 4 * 11, got_a.data());
  std::copy_n(first.data() + 4 * 11, 11, got_b.data());
  for (Index step = 0; step < 2; ++step) {
    Tensor<std::int64_t> next({2, 1}, {a(0, 4 + step), b(0, 1 + step)});
    const Tensor<> logits = model.decode(next.view(), cache, {}, ctx);
    std::copy_n(logits.data(), 11, got_a.data() + (4 + step) * 11);
    std::copy_n(logits.data() + 11, 11, got_b.data() + (1 + step) * 11);
  }
  EXPECT_EQ(cache.length(0), 6);
  EXPECT_EQ(cache.length(1), 3);
  for (const auto& [ids, got] : {std::pair{&a, &got_a}, std::pair{&b, &got_b}}) {
    const Tensor<> full = model.forward({.input_ids = ids->view()}, {.output_hidden_states = false,
                                                                       .output_attentions = false},
                                        {KernelKind::reference, 0}).logits;
    EXPECT_TRUE(testing::all_close(got->view(), full.view(), 1e-4));
  }
}

TEST(TransformerDecode, CacheMemoryIsExactlyTwoLayersBHSD) {
  const Transformer model(causal_config(NormPlacement::pre), init_parameters(causal_config(NormPlacement::pre), 1));
  EXPECT_EQ(model.make_cache(3, 20).bytes(), std::size_t{2 * 2 * 3 * 4 * 20 * 4} * sizeof(float));
  EXPECT_EQ(model.make_cache(3, 20, CacheDtype::f16).bytes(), std::size_t{2 * 2 * 3 * 4 * 20 * 4} * 2);
}

TEST(TransformerDecodeErrors, LeaveTheCacheAsItWas) {
  const Transformer model(causal_config(NormPlacement::pre), init_parameters(causal_config(NormPlacement::pre), 2));
  TransformerCache cache = model.make_cache(1, 5);
  const Tensor<std::int64_t> three = random_ids(1, 3, 3);
  (void)model.decode(three.view(), cache);
  EXPECT_TRUE(testing::throws_error([&] { (void)model.decode(three.view(), cache); },
                                    {"ids", "at most 2 more tokens", "3"}));
  EXPECT_EQ(cache.length(0), 3);
  const Tensor<std::int64_t> bad({1, 2}, {1, 11});
  EXPECT_TRUE(testing::throws_error([&] { (void)model.decode(bad.view(), cache); }, {"ids", "[0, 11)", "11 at (0, 1)"}));
  EXPECT_EQ(cache.length(0), 3);
  EXPECT_EQ(cache.layers[1].length(0), 3);
  TransformerCache wrong = model.make_cache(2, 5);
  EXPECT_TRUE(testing::throws_error([&] { (void)model.decode(three.view(), wrong); }, {"cache", "batch 1", "batch 2"}));
  TransformerConfig encoder = causal_config(NormPlacement::pre);
  encoder.causal = false;
  const Transformer masked(encoder, init_parameters(encoder, 2));
  EXPECT_TRUE(testing::throws_error([&] { (void)masked.make_cache(1, 5); }, {"model", "causal"}));
}

}  // namespace
}  // namespace mha
