// MultiHeadAttention construction: config resolution and errors, weight validation (every message
// names the tensor, the expected and the actual shape), and seeded random weights.
#include <cmath>

#include <gtest/gtest.h>

#include "mha/layers/multi_head_attention.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

using testing::throws_error;

TEST(MhaConfig, ResolvedFillsDefaults) {
  const MhaConfig c = resolved({.embed_dim = 8, .num_heads = 2});
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.kdim, 8);
  EXPECT_EQ(c.vdim, 8);
  const MhaConfig g = resolved({.embed_dim = 8, .num_heads = 4, .num_kv_heads = 1, .kdim = 3, .vdim = 5});
  EXPECT_EQ(g.num_kv_heads, 1);
  EXPECT_EQ(g.kdim, 3);
  EXPECT_EQ(g.vdim, 5);
}

TEST(MhaConfig, DimensionsMustBePositive) {
  EXPECT_TRUE(throws_error([] { (void)resolved({.embed_dim = 0, .num_heads = 1}); }, {"embed_dim: expected >= 1, got 0"}));
  EXPECT_TRUE(throws_error([] { (void)resolved({.embed_dim = -4, .num_heads = 1}); }, {"embed_dim: expected >= 1, got -4"}));
  EXPECT_TRUE(throws_error([] { (void)resolved({.embed_dim = 4, .num_heads = 0}); }, {"num_heads: expected >= 1, got 0"}));
  EXPECT_TRUE(throws_error([] { (void)resolved({.embed_dim = 4, .num_heads = -2}); }, {"num_heads: expected >= 1, got -2"}));
  EXPECT_TRUE(throws_error([] { (void)resolved({.embed_dim = 4, .num_heads = 2, .kdim = -1}); }, {"kdim: expected >= 1, got -1"}));
  EXPECT_TRUE(throws_error([] { (void)resolved({.embed_dim = 4, .num_heads = 2, .vdim = -3}); }, {"vdim: expected >= 1, got -3"}));
}

TEST(MhaConfig, EmbedDimMustBeAMultipleOfHeads) {
  EXPECT_TRUE(throws_error([] { (void)resolved({.embed_dim = 10, .num_heads = 3}); },
                           {"embed_dim: expected a multiple of num_heads (3), got 10"}));
  EXPECT_TRUE(throws_error([] { (void)MultiHeadAttention::random({.embed_dim = 6, .num_heads = 4}, 1); },
                           {"embed_dim: expected a multiple of num_heads (4), got 6"}));
}

TEST(MhaConfig, KvHeadsMustDivideHeads) {
  EXPECT_TRUE(throws_error([] { (void)resolved({.embed_dim = 8, .num_heads = 4, .num_kv_heads = 3}); },
                           {"num_kv_heads: expected a divisor of num_heads (4), got 3"}));
  EXPECT_TRUE(throws_error([] { (void)resolved({.embed_dim = 8, .num_heads = 4, .num_kv_heads = 8}); },
                           {"num_kv_heads: expected a divisor of num_heads (4), got 8"}));
  EXPECT_TRUE(throws_error([] { (void)resolved({.embed_dim = 8, .num_heads = 4, .num_kv_heads = -1}); },
                           {"num_kv_heads: expected a divisor of num_heads (4), got -1"}));
}

TEST(MhaConfig, HeadDim) {
  EXPECT_EQ(MultiHeadAttention::random({.embed_dim = 12, .num_heads = 3}, 1).head_dim(), 4);
  EXPECT_EQ(MultiHeadAttention::random({.embed_dim = 5, .num_heads = 5}, 1).head_dim(), 1);
}

// A valid weight set for E = 8, H = 2 (D = 4), packed (rows 24) unless kdim/vdim say otherwise.
MhaWeights valid_weights(const MhaConfig& c) { return MultiHeadAttention::random(c, 7).weights(); }

TEST(MhaWeights, ValidWeightsConstruct) {
  for (const MhaConfig& c :
       {MhaConfig{.embed_dim = 8, .num_heads = 2}, MhaConfig{.embed_dim = 8, .num_heads = 2, .bias = false},
        MhaConfig{.embed_dim = 8, .num_heads = 2, .kdim = 5, .vdim = 3},
        MhaConfig{.embed_dim = 8, .num_heads = 4, .num_kv_heads = 2, .add_bias_kv = true}}) {
    EXPECT_NO_THROW(MultiHeadAttention(c, valid_weights(c)));
  }
}

TEST(MhaWeights, MissingProjectionWeights) {
  const MhaConfig c{.embed_dim = 8, .num_heads = 2};
  MhaWeights w = valid_weights(c);
  w.in_proj_weight = {};
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); },
                           {"in_proj_weight: expected a tensor of shape [24, 8] or q/k/v_proj_weight, got none"}));
  w = valid_weights(c);
  w.out_proj_weight = {};
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); },
                           {"out_proj.weight: expected a tensor of shape [8, 8], got none"}));
}

TEST(MhaWeights, WrongPackedShapes) {
  const MhaConfig c{.embed_dim = 8, .num_heads = 2};
  MhaWeights w = valid_weights(c);
  w.in_proj_weight = Tensor<>({24, 7});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); }, {"in_proj_weight: expected shape [24, 8], got [24, 7]"}));
  w = valid_weights(c);
  w.in_proj_weight = Tensor<>({8, 8});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); }, {"in_proj_weight: expected shape [24, 8], got [8, 8]"}));
  w = valid_weights(c);
  w.out_proj_weight = Tensor<>({8, 4});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); }, {"out_proj.weight: expected shape [8, 8], got [8, 4]"}));
  w = valid_weights(c);
  w.in_proj_bias = Tensor<>({8});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); }, {"in_proj_bias: expected shape [24], got [8]"}));
  w = valid_weights(c);
  w.out_proj_bias = Tensor<>({1, 8});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); }, {"out_proj.bias: expected shape [8], got [1, 8]"}));
}

TEST(MhaWeights, GqaPackedShapeCountsKvHeads) {
  const MhaConfig c{.embed_dim = 8, .num_heads = 4, .num_kv_heads = 1};  // D = 2: K, V rows 2 each
  MhaWeights w = valid_weights(c);
  EXPECT_EQ(w.in_proj_weight.shape(), (Shape{12, 8}));
  w.in_proj_weight = Tensor<>({24, 8});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); }, {"in_proj_weight: expected shape [12, 8], got [24, 8]"}));
  w = valid_weights(c);
  w.in_proj_bias = Tensor<>({24});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); }, {"in_proj_bias: expected shape [12], got [24]"}));
}

TEST(MhaWeights, WrongSeparateShapes) {
  const MhaConfig c{.embed_dim = 8, .num_heads = 2, .kdim = 5, .vdim = 3};
  MhaWeights w = valid_weights(c);
  EXPECT_FALSE(w.in_proj_weight.defined());
  w.q_proj_weight = Tensor<>({8, 5});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); }, {"q_proj_weight: expected shape [8, 8], got [8, 5]"}));
  w = valid_weights(c);
  w.k_proj_weight = Tensor<>({8, 8});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); }, {"k_proj_weight: expected shape [8, 5], got [8, 8]"}));
  w = valid_weights(c);
  w.v_proj_weight = Tensor<>({8, 5});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); }, {"v_proj_weight: expected shape [8, 3], got [8, 5]"}));
  w = valid_weights(c);
  w.k_proj_weight = {};
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); }, {"k_proj_weight: expected a tensor of shape [8, 5], got none"}));
  w = valid_weights(c);
  w.q_proj_weight = {};
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); }, {"q_proj_weight: expected a tensor of shape [8, 8], got none"}));
}

TEST(MhaWeights, PackedWeightNeedsKdimAndVdimEqualToEmbedDim) {
  const MhaConfig c{.embed_dim = 8, .num_heads = 2, .kdim = 5};
  MhaWeights w = valid_weights(c);
  w.in_proj_weight = Tensor<>({24, 8});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); },
                           {"in_proj_weight: expected q/k/v_proj_weight instead", "kdim (5)", "vdim (8)",
                            "got in_proj_weight"}));
}

TEST(MhaWeights, PackedAndSeparateTogetherAreAmbiguous) {
  const MhaConfig c{.embed_dim = 8, .num_heads = 2};
  MhaWeights w = valid_weights(c);
  w.k_proj_weight = Tensor<>({8, 8});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); },
                           {"k_proj_weight: expected no tensor (in_proj_weight is given), got a tensor of shape [8, 8]"}));
}

TEST(MhaWeights, BiasPresenceFollowsTheConfig) {
  const MhaConfig no_bias{.embed_dim = 8, .num_heads = 2, .bias = false};
  MhaWeights w = valid_weights(no_bias);
  w.in_proj_bias = Tensor<>({24});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(no_bias, w); },
                           {"in_proj_bias: expected no tensor (bias is false), got a tensor of shape [24]"}));
  w = valid_weights(no_bias);
  w.out_proj_bias = Tensor<>({8});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(no_bias, w); },
                           {"out_proj.bias: expected no tensor (bias is false), got a tensor of shape [8]"}));
  const MhaConfig with_bias{.embed_dim = 8, .num_heads = 2};
  w = valid_weights(with_bias);
  w.in_proj_bias = {};
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(with_bias, w); },
                           {"in_proj_bias: expected a tensor of shape [24], got none"}));
  w = valid_weights(with_bias);
  w.out_proj_bias = {};
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(with_bias, w); },
                           {"out_proj.bias: expected a tensor of shape [8], got none"}));
}

TEST(MhaWeights, BiasKvPresenceFollowsTheConfig) {
  const MhaConfig c{.embed_dim = 8, .num_heads = 2, .add_bias_kv = true};
  MhaWeights w = valid_weights(c);
  w.bias_k = {};
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); }, {"bias_k: expected a tensor of shape [1, 1, 8], got none"}));
  w = valid_weights(c);
  w.bias_v = Tensor<>({8});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(c, w); }, {"bias_v: expected shape [1, 1, 8], got [8]"}));
  const MhaConfig plain{.embed_dim = 8, .num_heads = 2};
  w = valid_weights(plain);
  w.bias_k = Tensor<>({1, 1, 8});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(plain, w); },
                           {"bias_k: expected no tensor (add_bias_kv is false), got a tensor of shape [1, 1, 8]"}));
  const MhaConfig gqa{.embed_dim = 8, .num_heads = 4, .num_kv_heads = 2, .add_bias_kv = true};
  w = valid_weights(gqa);
  EXPECT_EQ(w.bias_k.shape(), (Shape{1, 1, 4}));
  w.bias_k = Tensor<>({1, 1, 8});
  EXPECT_TRUE(throws_error([&] { MultiHeadAttention(gqa, w); }, {"bias_k: expected shape [1, 1, 4], got [1, 1, 8]"}));
}

TEST(MhaWeights, ConstructorChecksTheConfigToo) {
  EXPECT_TRUE(throws_error([] { MultiHeadAttention({.embed_dim = 9, .num_heads = 2}, {}); },
                           {"embed_dim: expected a multiple of num_heads (2), got 9"}));
}

void expect_same_tensor(const Weight& a, const Weight& b, const char* name) {
  ASSERT_EQ(a.defined(), b.defined()) << name;
  if (!a.defined()) return;
  ASSERT_EQ(a.shape(), b.shape()) << name;
  for (Index n = 0; n < a.numel(); ++n) ASSERT_EQ(a.data()[n], b.data()[n]) << name << " at " << n;
}

TEST(MhaRandom, SameSeedSameWeights) {
  for (const MhaConfig& c :
       {MhaConfig{.embed_dim = 8, .num_heads = 2, .add_bias_kv = true},
        MhaConfig{.embed_dim = 6, .num_heads = 3, .num_kv_heads = 1, .kdim = 4, .vdim = 5}}) {
    const MhaWeights a = MultiHeadAttention::random(c, 42).weights();
    const MhaWeights b = MultiHeadAttention::random(c, 42).weights();
    expect_same_tensor(a.in_proj_weight, b.in_proj_weight, "in_proj_weight");
    expect_same_tensor(a.q_proj_weight, b.q_proj_weight, "q_proj_weight");
    expect_same_tensor(a.k_proj_weight, b.k_proj_weight, "k_proj_weight");
    expect_same_tensor(a.v_proj_weight, b.v_proj_weight, "v_proj_weight");
    expect_same_tensor(a.in_proj_bias, b.in_proj_bias, "in_proj_bias");
    expect_same_tensor(a.out_proj_weight, b.out_proj_weight, "out_proj_weight");
    expect_same_tensor(a.out_proj_bias, b.out_proj_bias, "out_proj_bias");
    expect_same_tensor(a.bias_k, b.bias_k, "bias_k");
    expect_same_tensor(a.bias_v, b.bias_v, "bias_v");
  }
}

TEST(MhaRandom, DifferentSeedsDifferentWeightsWithinXavierBounds) {
  const MhaConfig c{.embed_dim = 8, .num_heads = 2};
  const MhaWeights a = MultiHeadAttention::random(c, 1).weights();
  const MhaWeights b = MultiHeadAttention::random(c, 2).weights();
  Index differ = 0;
  for (Index n = 0; n < a.in_proj_weight.numel(); ++n)
    differ += a.in_proj_weight.data()[n] != b.in_proj_weight.data()[n] ? 1 : 0;
  EXPECT_GT(differ, a.in_proj_weight.numel() / 2);
  const double bound = std::sqrt(6.0 / (24 + 8));  // Xavier-uniform for [24, 8]
  for (Index n = 0; n < a.in_proj_weight.numel(); ++n) EXPECT_LE(std::abs(a.in_proj_weight.data()[n]), bound);
}

}  // namespace
}  // namespace mha
