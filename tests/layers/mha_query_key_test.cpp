// need_query_key: the layer hands back the queries and keys its attention read, equal to the
// projections x·W_Qᵀ + b_Q and x·W_Kᵀ + b_K computed here in double, per head, for the fused
// self-attention path, separate projections with GQA, batched and unbatched input, and the
// appended bias_k / zero keys; asking for them changes no output.
#include <gtest/gtest.h>

#include <cmath>

#include "mha/layers/multi_head_attention.hpp"
#include "testing/allclose.hpp"

namespace mha {
namespace {

// Tier-2 style bound for a fp32 GEMM of width E ≤ 32 against double (numerics.md).
constexpr double kAtol = 1e-5;

Tensor<> input(Shape shape, float phase) {
  Tensor<> x(std::move(shape));
  for (Index i = 0; i < x.numel(); ++i) x.data()[i] = std::sin(phase + 0.37F * float(i));
  return x;
}

// Row `row0 + r` of a [rows, E] projection applied to x[b, i, :] (batch_first [B, L, E]), in double.
double projected(const Tensor<>& x, Index b, Index i, const float* weight, const float* bias,
                 Index row, Index e) {
  double sum = bias ? double(bias[row]) : 0.0;
  for (Index c = 0; c < e; ++c) sum += double(weight[row * e + c]) * double(x(b, i, c));
  return sum;
}

TEST(MhaQueryKey, FusedSelfAttentionHandsBackItsProjections) {
  const MultiHeadAttention layer =
      MultiHeadAttention::random({.embed_dim = 16, .num_heads = 4, .batch_first = true}, 3);
  const Tensor<> x = input({2, 5, 16}, 0.1F);
  MhaOptions options;
  options.need_query_key = true;
  const MhaOutput out = layer.forward(x.view(), x.view(), x.view(), options);
  ASSERT_EQ(out.queries.shape(), (Shape{2, 4, 5, 4}));
  ASSERT_EQ(out.keys.shape(), (Shape{2, 4, 5, 4}));
  const MhaWeights& w = layer.weights();
  double worst = 0;
  for (Index b = 0; b < 2; ++b)
    for (Index h = 0; h < 4; ++h)
      for (Index i = 0; i < 5; ++i)
        for (Index d = 0; d < 4; ++d) {
          const Index row = h * 4 + d;
          const double q = projected(x, b, i, w.in_proj_weight.data(), w.in_proj_bias.data(), row, 16);
          const double k = projected(x, b, i, w.in_proj_weight.data(), w.in_proj_bias.data(), 16 + row, 16);
          worst = std::max({worst, std::abs(q - out.queries(b, h, i, d)), std::abs(k - out.keys(b, h, i, d))});
        }
  EXPECT_LT(worst, kAtol);
  // The output is the same with and without them.
  const MhaOutput plain = layer.forward(x.view(), x.view(), x.view());
  EXPECT_TRUE(testing::all_close(out.output.view(), plain.output.view(), 0));
  EXPECT_FALSE(plain.queries.defined());
  EXPECT_FALSE(plain.keys.defined());
}

TEST(MhaQueryKey, SeparateProjectionsWithGqaAndAppendedKeys) {
  // Cross-attention-shaped call (key differs from query), GQA, add_bias_kv and add_zero_attn:
  // the keys are [Hkv, S + 2, D] with bias_k and a zero row last. Unbatched input.
  const MultiHeadAttention layer = MultiHeadAttention::random(
      {.embed_dim = 16, .num_heads = 4, .num_kv_heads = 2, .add_bias_kv = true, .add_zero_attn = true}, 5);
  const Tensor<> xq = input({3, 16}, 0.2F), xkv = input({6, 16}, 0.9F);
  MhaOptions options;
  options.need_query_key = true;
  const MhaOutput out = layer.forward(xq.view(), xkv.view(), xkv.view(), options);
  ASSERT_EQ(out.queries.shape(), (Shape{4, 3, 4}));
  ASSERT_EQ(out.keys.shape(), (Shape{2, 8, 4}));
  const MhaWeights& w = layer.weights();
  const Tensor<> xq3 = Tensor<>::copy_of(xq.view_as({1, 3, 16}));
  const Tensor<> xkv3 = Tensor<>::copy_of(xkv.view_as({1, 6, 16}));
  double worst = 0;
  for (Index h = 0; h < 4; ++h)
    for (Index i = 0; i < 3; ++i)
      for (Index d = 0; d < 4; ++d)
        worst = std::max(worst, std::abs(projected(xq3, 0, i, w.in_proj_weight.data(),
                                                   w.in_proj_bias.data(), h * 4 + d, 16) -
                                         out.queries(h, i, d)));
  for (Index g = 0; g < 2; ++g)
    for (Index d = 0; d < 4; ++d) {
      for (Index j = 0; j < 6; ++j)
        worst = std::max(worst, std::abs(projected(xkv3, 0, j, w.in_proj_weight.data(),
                                                   w.in_proj_bias.data(), 16 + g * 4 + d, 16) -
                                         out.keys(g, j, d)));
      EXPECT_EQ(out.keys(g, 6, d), w.bias_k(0, 0, g * 4 + d));  // add_bias_kv
      EXPECT_EQ(out.keys(g, 7, d), 0.0f);                        // add_zero_attn
    }
  EXPECT_LT(worst, kAtol);
}

}  // namespace
}  // namespace mha
