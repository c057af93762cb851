// The layer and the encoders with a sequence-parallel Context: each rank projects its own tokens
// and its output rows equal the single-process output's, within the rule the cached layer uses
// (tests/layers/mha_cache_test.cpp): max|dist − ref| ≤ 2·max|cpu − ref| + 4 ulps of max|ref|,
// with ref the reference kernel and cpu the fast kernel, both on one process.
#include <gtest/gtest.h>

#include "dist/dist_problem.hpp"
#include "mha/layers/multi_head_attention.hpp"
#include "mha/models/transformer.hpp"
#include "testing/expect_error.hpp"
#include "testing/random_tensor.hpp"

namespace mha::testing {
namespace {

using dist::Algorithm;
using dist::Layout;

void expect_rows_match(const Tensor<>& mine, const Tensor<>& cpu, const Tensor<>& ref, Index dim,
                       const dist::SequenceParallel& sp) {
  const Tensor<> ref_rows = dist::take_shard<float>(ref.view(), dim, sp.ranks(), sp.rank(), sp.options().layout);
  const double bound = 2 * max_abs_diff(cpu.view(), ref.view()) +
                       4 * std::numeric_limits<float>::epsilon() * max_magnitude(ref);
  EXPECT_TRUE(all_close(mine.view(), ref_rows.view(), bound)) << "rank " << sp.rank();
}

class DistLayerTest : public ::testing::TestWithParam<Algorithm> {};

TEST_P(DistLayerTest, MultiHeadAttentionOnShardsEqualsTheWholeLayer) {
  const dist::SequenceParallel sp(MPI_COMM_WORLD, {.algorithm = GetParam()});
  // 12 heads: ulysses divides them over 1 to 4 ranks.
  const MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = 48, .num_heads = 12, .batch_first = true}, 5);
  const Index batch = 2, len = 31;
  const Tensor<> x = random_tensor({batch, len, 48}, 6);
  BoolTensor padding({batch, len});
  for (Index j = 0; j < len; ++j) padding(1, j) = j >= 20 ? 1 : 0;  // sequence 1 has 20 tokens
  for (const bool causal : {false, true}) {
    MhaOptions options;
    options.is_causal = causal;
    options.key_padding_mask = block_mask(padding.view());
    const Tensor<> ref = layer.forward(x.view(), x.view(), x.view(), options, Context{KernelKind::reference, 1}).output;
    const Tensor<> cpu = layer.forward(x.view(), x.view(), x.view(), options, Context{KernelKind::cpu, 1}).output;

    const Layout layout = sp.options().layout;
    const Tensor<> mine_x = dist::take_shard<float>(x.view(), 1, sp.ranks(), sp.rank(), layout);
    const BoolTensor mine_padding = dist::take_shard<std::uint8_t>(padding.view(), 1, sp.ranks(), sp.rank(), layout);
    options.key_padding_mask = block_mask(mine_padding.view());
    const Context ctx{.kernel = KernelKind::cpu, .threads = 1, .workspace = nullptr, .sequence_parallel = &sp};
    const Tensor<> mine = layer.forward(mine_x.view(), mine_x.view(), mine_x.view(), options, ctx).output;
    expect_rows_match(mine, cpu, ref, 1, sp);
  }
}

TEST_P(DistLayerTest, TransformerEncoderOnShardsEqualsTheWholeModel) {
  const dist::SequenceParallel sp(MPI_COMM_WORLD, {.algorithm = GetParam()});
  for (const bool causal : {false, true}) {
    const TransformerConfig config{.vocab_size = 20, .d_model = 48, .num_heads = 12, .num_layers = 2, .d_ff = 64,
                                   .max_length = 64, .norm = NormPlacement::pre, .activation = Activation::gelu,
                                   .layer_norm_eps = 1e-5, .causal = causal};
    const Transformer model(config, init_parameters(config, 7));
    const Index batch = 2, len = 27;
    Tensor<std::int64_t> ids({batch, len}), mask({batch, len});
    for (Index b = 0; b < batch; ++b)
      for (Index i = 0; i < len; ++i) {
        ids(b, i) = (3 * i + 7 * b) % 20;
        mask(b, i) = b == 1 && i >= 18 ? 0 : 1;
      }
    const EncoderRequest request{.output_hidden_states = false, .output_attentions = false};
    const Tensor<> ref = model.encode({.input_ids = ids.view(), .attention_mask = mask.view()}, request,
                                      Context{KernelKind::reference, 1}).last_hidden_state;
    const Tensor<> cpu = model.encode({.input_ids = ids.view(), .attention_mask = mask.view()}, request,
                                      Context{KernelKind::cpu, 1}).last_hidden_state;

    const Layout layout = sp.options().layout;
    const Tensor<std::int64_t> my_ids = dist::take_shard<std::int64_t>(ids.view(), 1, sp.ranks(), sp.rank(), layout);
    const Tensor<std::int64_t> my_mask = dist::take_shard<std::int64_t>(mask.view(), 1, sp.ranks(), sp.rank(), layout);
    const Tensor<std::int64_t> positions = dist::shard_positions(batch, len, sp.ranks(), sp.rank(), layout);
    const Context ctx{.kernel = KernelKind::cpu, .threads = 1, .workspace = nullptr, .sequence_parallel = &sp};
    const Tensor<> mine = model.encode({.input_ids = my_ids.view(), .attention_mask = my_mask.view(),
                                        .position_ids = positions.view()},
                                       request, ctx).last_hidden_state;
    expect_rows_match(mine, cpu, ref, 1, sp);
    // Without the global positions a shard would be encoded as if it started the sequence.
    EXPECT_TRUE(throws_error([&] { model.encode({.input_ids = my_ids.view()}, request, ctx); }, {"position_ids"}));
  }
}

INSTANTIATE_TEST_SUITE_P(Dist, DistLayerTest, ::testing::Values(Algorithm::ring, Algorithm::ulysses),
                         [](const auto& param_info) { return std::string(dist::algorithm_name(param_info.param)); });

TEST(DistLayer, WhatNeedsTheWholeSequenceIsRefused) {
  const dist::SequenceParallel sp(MPI_COMM_WORLD);
  const Context ctx{.kernel = KernelKind::cpu, .threads = 1, .workspace = nullptr, .sequence_parallel = &sp};
  const Index n = dist::shard_length(16, sp.ranks(), sp.rank(), sp.options().layout);
  const Tensor<> x = random_tensor({1, n, 8}, 1);
  const MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2, .batch_first = true}, 1);
  MhaOptions weights;
  weights.need_weights = true;
  EXPECT_TRUE(throws_error([&] { layer.forward(x.view(), x.view(), x.view(), weights, ctx); }, {"weights"}));
  const MultiHeadAttention zero_attn =
      MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2, .add_zero_attn = true, .batch_first = true}, 1);
  EXPECT_TRUE(throws_error([&] { zero_attn.forward(x.view(), x.view(), x.view(), {}, ctx); }, {"add_zero_attn"}));
}

}  // namespace
}  // namespace mha::testing
