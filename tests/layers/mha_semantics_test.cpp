// MultiHeadAttention::forward semantics: agreement with a naive layer written out in the test,
// layouts (default, batch_first, unbatched), the fused self-attention path, weights averaging,
// add_bias_kv / add_zero_attn, causal masking with appended keys, GQA, and thread safety.
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "layers/mha_test_helpers.hpp"
#include "mha/layers/multi_head_attention.hpp"
#include "testing/allclose.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

using testing::all_close;
using testing::naive_mha;
using testing::random_tensor;
using testing::select0;
using testing::swap01;

constexpr double kTol = 1e-5;
constexpr float kInf = std::numeric_limits<float>::infinity();

// Per-head [B, H, L, S] → mean over heads [B, L, S].
Tensor<> mean_over_heads(const Tensor<>& w) {
  Tensor<> avg({w.dim(0), w.dim(2), w.dim(3)});
  for (Index b = 0; b < w.dim(0); ++b)
    for (Index i = 0; i < w.dim(2); ++i)
      for (Index j = 0; j < w.dim(3); ++j) {
        double sum = 0;
        for (Index h = 0; h < w.dim(1); ++h) sum += w(b, h, i, j);
        avg(b, i, j) = static_cast<float>(sum / static_cast<double>(w.dim(1)));
      }
  return avg;
}

MhaOptions per_head_weights() {
  MhaOptions o;
  o.need_weights = true;
  o.average_attn_weights = false;
  return o;
}

// ---- agreement with the naive layer -------------------------------------------------------

void expect_matches_naive(MhaConfig config, std::uint64_t seed) {
  config.batch_first = true;
  const MultiHeadAttention layer = MultiHeadAttention::random(config, seed);
  const MhaConfig& c = layer.config();
  const Index batch = 2, len = 3, src = 4, heads = c.num_heads;
  const Index kv_len = src + (c.add_bias_kv ? 1 : 0) + (c.add_zero_attn ? 1 : 0);
  const Tensor<> q = random_tensor({batch, len, c.embed_dim}, seed + 1);
  const Tensor<> k = random_tensor({batch, src, c.kdim}, seed + 2);
  const Tensor<> v = random_tensor({batch, src, c.vdim}, seed + 3);
  // Key padding (block) and a per-(batch·head) additive attn_mask with one −∞.
  const BoolTensor padding({batch, src}, {0, 0, 1, 0, 1, 0, 0, 0});
  Tensor<> additive = random_tensor({batch * heads, len, src}, seed + 4);
  additive(0, 1, 0) = -kInf;
  MhaOptions o = per_head_weights();
  o.key_padding_mask = from_torch_mha_mask(padding.view());
  o.attn_mask = additive_mask(additive.view());
  const MhaOutput out = layer.forward(q.view(), k.view(), v.view(), o);
  const auto expected = naive_mha(
      layer, q, k, v,
      [&](Index b, Index, Index, Index j) { return j >= src || padding(b, j) == 0; },
      [&](Index b, Index h, Index i, Index j) { return j >= src ? 0.0 : double{additive(b * heads + h, i, j)}; });
  ASSERT_EQ(out.weights.shape(), (Shape{batch, heads, len, kv_len}));
  EXPECT_TRUE(all_close(out.output.view(), expected.output.view(), kTol));
  EXPECT_TRUE(all_close(out.weights.view(), expected.weights.view(), kTol));
}

TEST(MhaSemantics, MatchesNaiveLayerPacked) { expect_matches_naive({.embed_dim = 8, .num_heads = 2}, 10); }
TEST(MhaSemantics, MatchesNaiveLayerSeparateWeights) {
  expect_matches_naive({.embed_dim = 6, .num_heads = 3, .kdim = 4, .vdim = 5}, 20);
}
TEST(MhaSemantics, MatchesNaiveLayerWithoutBias) {
  expect_matches_naive({.embed_dim = 8, .num_heads = 4, .bias = false}, 30);
}
TEST(MhaSemantics, MatchesNaiveLayerWithBiasKvAndZeroAttn) {
  expect_matches_naive({.embed_dim = 8, .num_heads = 2, .add_bias_kv = true, .add_zero_attn = true}, 40);
  expect_matches_naive({.embed_dim = 8, .num_heads = 2, .kdim = 3, .vdim = 5, .add_zero_attn = true}, 50);
}
TEST(MhaSemantics, MatchesNaiveLayerWithGqa) {
  expect_matches_naive({.embed_dim = 8, .num_heads = 4, .num_kv_heads = 2}, 60);
  expect_matches_naive({.embed_dim = 8, .num_heads = 4, .num_kv_heads = 1, .add_bias_kv = true}, 70);
}

TEST(MhaSemantics, CustomScale) {
  const MultiHeadAttention layer =
      MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2, .batch_first = true}, 80);
  const Tensor<> x = random_tensor({2, 3, 8}, 81);
  MhaOptions o = per_head_weights();
  o.scale = 0.25;
  const MhaOutput out = layer.forward(x.view(), x.view(), x.view(), o);
  const auto expected = naive_mha(layer, x, x, x, {}, {}, 0.25);
  EXPECT_TRUE(all_close(out.output.view(), expected.output.view(), kTol));
  o.scale = 0.0;  // every key equally likely
  const MhaOutput uniform = layer.forward(x.view(), x.view(), x.view(), o);
  for (const float p : uniform.weights.values()) EXPECT_NEAR(p, 1.0 / 3.0, 1e-6);
}

// ---- layouts --------------------------------------------------------------------------------

TEST(MhaSemantics, DefaultBatchFirstAndUnbatchedLayoutsAgree) {
  const MhaConfig config{.embed_dim = 8, .num_heads = 2, .kdim = 6, .vdim = 5};
  MhaConfig bf_config = config;
  bf_config.batch_first = true;
  const MultiHeadAttention seq_first = MultiHeadAttention::random(config, 90);
  const MultiHeadAttention batch_first = MultiHeadAttention::random(bf_config, 90);
  const Index batch = 3, len = 4, src = 5, heads = 2;
  const Tensor<> q_bf = random_tensor({batch, len, 8}, 91), k_bf = random_tensor({batch, src, 6}, 92),
                 v_bf = random_tensor({batch, src, 5}, 93);
  const BoolTensor padding({batch, src}, {0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0});
  const Tensor<> additive = random_tensor({batch * heads, len, src}, 94);
  MhaOptions o = per_head_weights();
  o.key_padding_mask = block_mask(padding.view());
  o.attn_mask = additive_mask(additive.view());

  const MhaOutput bf = batch_first.forward(q_bf.view(), k_bf.view(), v_bf.view(), o);
  const Tensor<> q_sf = swap01(q_bf), k_sf = swap01(k_bf), v_sf = swap01(v_bf);
  const MhaOutput sf = seq_first.forward(q_sf.view(), k_sf.view(), v_sf.view(), o);
  ASSERT_EQ(bf.output.shape(), (Shape{batch, len, 8}));
  ASSERT_EQ(sf.output.shape(), (Shape{len, batch, 8}));
  EXPECT_TRUE(all_close(swap01(sf.output).view(), bf.output.view(), 1e-6));
  EXPECT_TRUE(all_close(sf.weights.view(), bf.weights.view(), 1e-6));  // weights are (B, …) in both

  for (Index b = 0; b < batch; ++b) {
    SCOPED_TRACE("batch element " + std::to_string(b));
    const Tensor<> q = select0(q_bf, b), k = select0(k_bf, b), v = select0(v_bf, b);
    const BoolTensor pad_b = select0(padding, b);
    // Unbatched attn_mask is (H, L, S): this batch element's H slices of the (B·H, L, S) mask.
    const TensorView<const float> mask_b(additive.data() + b * heads * len * src, {heads, len, src});
    MhaOptions ob = per_head_weights();
    ob.key_padding_mask = block_mask(pad_b.view());
    ob.attn_mask = additive_mask(mask_b);
    for (const MultiHeadAttention* layer : {&seq_first, &batch_first}) {
      const MhaOutput u = layer->forward(q.view(), k.view(), v.view(), ob);
      ASSERT_EQ(u.output.shape(), (Shape{len, 8}));
      ASSERT_EQ(u.weights.shape(), (Shape{heads, len, src}));
      EXPECT_TRUE(all_close(u.output.view(), select0(bf.output, b).view(), 1e-6));
      EXPECT_TRUE(all_close(u.weights.view(), select0(bf.weights, b).view(), 1e-6));
    }
  }
}

TEST(MhaSemantics, StridedInputsGiveTheContiguousResult) {
  const MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2}, 95);
  const Tensor<> x = random_tensor({4, 2, 8}, 96), y = random_tensor({5, 2, 8}, 97);
  Tensor<> x_buf, y_buf;
  const TensorView<float> x_pad = testing::padded_copy(x.view(), 3, x_buf);
  const TensorView<float> y_pad = testing::padded_copy(y.view(), 1, y_buf);
  const MhaOptions o = per_head_weights();
  const MhaOutput plain = layer.forward(x.view(), y.view(), y.view(), o);
  const MhaOutput padded = layer.forward(x_pad, y_pad, y_pad, o);
  EXPECT_TRUE(all_close(padded.output.view(), plain.output.view(), 1e-6));
  EXPECT_TRUE(all_close(padded.weights.view(), plain.weights.view(), 1e-6));
}

// ---- fused self-attention -----------------------------------------------------------------

void expect_fused_equals_separate(const MhaConfig& config, const MhaOptions& o) {
  const MultiHeadAttention layer = MultiHeadAttention::random(config, 100);
  const Tensor<> x = random_tensor({5, 2, config.embed_dim}, 101);
  const Tensor<> key_copy = x, value_copy = x;  // same values, other views: the unfused path
  const MhaOutput fused = layer.forward(x.view(), x.view(), x.view(), o);
  const MhaOutput separate = layer.forward(x.view(), key_copy.view(), value_copy.view(), o);
  EXPECT_TRUE(all_close(fused.output.view(), separate.output.view(), 1e-6));
  if (o.need_weights) {
    EXPECT_TRUE(all_close(fused.weights.view(), separate.weights.view(), 1e-6));
  }
}

TEST(MhaSemantics, FusedSelfAttentionEqualsSeparateProjections) {
  expect_fused_equals_separate({.embed_dim = 8, .num_heads = 2}, per_head_weights());
  expect_fused_equals_separate({.embed_dim = 8, .num_heads = 2, .bias = false}, {});
  expect_fused_equals_separate({.embed_dim = 12, .num_heads = 6, .num_kv_heads = 2}, per_head_weights());
  MhaOptions causal = per_head_weights();
  causal.is_causal = true;
  expect_fused_equals_separate({.embed_dim = 8, .num_heads = 4, .num_kv_heads = 1}, causal);
  // Appended keys force the unfused path even for self-attention; still the same result.
  expect_fused_equals_separate({.embed_dim = 8, .num_heads = 2, .add_bias_kv = true, .add_zero_attn = true},
                               per_head_weights());
}

// ---- attention weights --------------------------------------------------------------------

TEST(MhaSemantics, AveragedWeightsAreTheMeanOfPerHeadWeights) {
  const MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = 12, .num_heads = 3}, 110);
  const Tensor<> q = random_tensor({4, 2, 12}, 111), kv = random_tensor({6, 2, 12}, 112);
  MhaOptions o = per_head_weights();
  const MhaOutput per_head = layer.forward(q.view(), kv.view(), kv.view(), o);
  o.average_attn_weights = true;
  const MhaOutput averaged = layer.forward(q.view(), kv.view(), kv.view(), o);
  ASSERT_EQ(per_head.weights.shape(), (Shape{2, 3, 4, 6}));
  ASSERT_EQ(averaged.weights.shape(), (Shape{2, 4, 6}));
  EXPECT_TRUE(all_close(averaged.weights.view(), mean_over_heads(per_head.weights).view(), 1e-6));
  EXPECT_TRUE(all_close(averaged.output.view(), per_head.output.view(), 0.0));
  // Unbatched: (L, S) averaged, (H, L, S) per head.
  const Tensor<> q1 = select0(swap01(q), 0), kv1 = select0(swap01(kv), 0);  // batch element 0
  EXPECT_EQ(layer.forward(q1.view(), kv1.view(), kv1.view(), o).weights.shape(), (Shape{4, 6}));
  o.average_attn_weights = false;
  EXPECT_EQ(layer.forward(q1.view(), kv1.view(), kv1.view(), o).weights.shape(), (Shape{3, 4, 6}));
  o.need_weights = false;
  EXPECT_FALSE(layer.forward(q.view(), kv.view(), kv.view(), o).weights.defined());
}

TEST(MhaSemantics, AppendedKeysWidenTheWeights) {
  const Index len = 3, batch = 2, src = 4;
  const Tensor<> q = random_tensor({len, batch, 8}, 120), kv = random_tensor({src, batch, 8}, 121);
  const BoolTensor padding({batch, src});
  const BoolTensor mask({len, src});
  struct Case {
    bool bias_kv, zero_attn;
    Index extra;
  };
  for (const Case c : {Case{true, false, 1}, Case{false, true, 1}, Case{true, true, 2}}) {
    const MultiHeadAttention layer = MultiHeadAttention::random(
        {.embed_dim = 8, .num_heads = 2, .add_bias_kv = c.bias_kv, .add_zero_attn = c.zero_attn}, 122);
    MhaOptions o;
    o.need_weights = true;
    o.key_padding_mask = block_mask(padding.view());  // masks keep PyTorch's S-wide shapes
    o.attn_mask = block_mask(mask.view());
    EXPECT_EQ(layer.forward(q.view(), kv.view(), kv.view(), o).weights.shape(), (Shape{batch, len, src + c.extra}));
    o.average_attn_weights = false;
    EXPECT_EQ(layer.forward(q.view(), kv.view(), kv.view(), o).weights.shape(),
              (Shape{batch, 2, len, src + c.extra}));
    const Tensor<> q1 = select0(swap01(q), 0), kv1 = select0(swap01(kv), 0);  // unbatched (L, E)
    const BoolTensor padding1 = select0(padding, 0);
    o.key_padding_mask = block_mask(padding1.view());
    EXPECT_EQ(layer.forward(q1.view(), kv1.view(), kv1.view(), o).weights.shape(), (Shape{2, len, src + c.extra}));
  }
}

TEST(MhaSemantics, ZeroAttnKeepsAFullyPaddedRowDefined) {
  // Every real key padded: only the appended zero key remains, so p = 1 on it, its value is 0,
  // and the output is out_proj.bias.
  const MultiHeadAttention layer =
      MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2, .add_zero_attn = true}, 130);
  const Tensor<> q = random_tensor({3, 1, 8}, 131), kv = random_tensor({4, 1, 8}, 132);
  BoolTensor padding({1, 4});
  for (std::uint8_t& f : padding.values()) f = 1;
  MhaOptions o = per_head_weights();
  o.key_padding_mask = block_mask(padding.view());
  const MhaOutput out = layer.forward(q.view(), kv.view(), kv.view(), o);
  for (Index h = 0; h < 2; ++h)
    for (Index i = 0; i < 3; ++i) EXPECT_EQ(out.weights(0, h, i, 4), 1.0f);
  for (Index i = 0; i < 3; ++i)
    for (Index x = 0; x < 8; ++x) EXPECT_NEAR(out.output(i, 0, x), layer.weights().out_proj_bias(x), 1e-6);
}

TEST(MhaSemantics, FullyMaskedRowGivesBiasOutputAndZeroWeights) {
  // Without appended keys a fully padded row attends to nothing: attention output 0 (never NaN),
  // so the layer output is out_proj.bias.
  const MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2}, 135);
  const Tensor<> q = random_tensor({2, 2, 8}, 136), kv = random_tensor({3, 2, 8}, 137);
  const BoolTensor padding({2, 3}, {1, 1, 1, 0, 0, 1});
  MhaOptions o;
  o.need_weights = true;
  o.key_padding_mask = block_mask(padding.view());
  const MhaOutput out = layer.forward(q.view(), kv.view(), kv.view(), o);
  for (Index i = 0; i < 2; ++i) {
    for (Index x = 0; x < 8; ++x) EXPECT_NEAR(out.output(i, 0, x), layer.weights().out_proj_bias(x), 1e-6);
    for (Index j = 0; j < 3; ++j) EXPECT_EQ(out.weights(0, i, j), 0.0f);
  }
  for (const float y : out.output.values()) EXPECT_FALSE(std::isnan(y));
}

TEST(MhaSemantics, CausalWithAppendedKeysKeepsThemVisible) {
  const Index len = 4, src = 4;
  for (const bool bias_kv : {false, true}) {
    SCOPED_TRACE(bias_kv ? "add_bias_kv + add_zero_attn" : "add_zero_attn");
    const MultiHeadAttention layer = MultiHeadAttention::random(
        {.embed_dim = 8, .num_heads = 2, .add_bias_kv = bias_kv, .add_zero_attn = true, .batch_first = true}, 140);
    const Index kv_len = src + (bias_kv ? 2 : 1);
    const Tensor<> x = random_tensor({1, len, 8}, 141);
    MhaOptions o = per_head_weights();
    o.is_causal = true;
    const MhaOutput out = layer.forward(x.view(), x.view(), x.view(), o);
    for (Index h = 0; h < 2; ++h)
      for (Index i = 0; i < len; ++i) {
        for (Index j = i + 1; j < src; ++j) EXPECT_EQ(out.weights(0, h, i, j), 0.0f) << h << " " << i << " " << j;
        for (Index j = 0; j <= i; ++j) EXPECT_GT(out.weights(0, h, i, j), 0.0f);
        for (Index j = src; j < kv_len; ++j) EXPECT_GT(out.weights(0, h, i, j), 0.0f) << "appended key " << j;
      }
    const auto expected = naive_mha(layer, x, x, x, [&](Index, Index, Index i, Index j) { return j >= src || j <= i; });
    EXPECT_TRUE(all_close(out.output.view(), expected.output.view(), kTol));
    EXPECT_TRUE(all_close(out.weights.view(), expected.weights.view(), kTol));
  }
}

TEST(MhaSemantics, CausalBottomRightAndWindowMatchNaive) {
  const MultiHeadAttention layer =
      MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2, .batch_first = true}, 150);
  const Tensor<> q = random_tensor({2, 3, 8}, 151), kv = random_tensor({2, 6, 8}, 152);
  MhaOptions o = per_head_weights();
  o.is_causal = true;
  o.causal_alignment = Alignment::bottom_right;
  o.window_left = 2;
  const MhaOutput out = layer.forward(q.view(), kv.view(), kv.view(), o);
  const auto expected = naive_mha(layer, q, kv, kv, [](Index, Index, Index i, Index j) {
    const Index pos = i + 3;  // bottom-right: Lk − Lq = 3
    return j <= pos && j >= pos - 2;
  });
  EXPECT_TRUE(all_close(out.output.view(), expected.output.view(), kTol));
  EXPECT_TRUE(all_close(out.weights.view(), expected.weights.view(), kTol));
}

TEST(MhaSemantics, EmptySequences) {
  const MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2}, 155);
  MhaOptions o;
  o.need_weights = true;
  // No keys: every row is fully masked, so the output is out_proj.bias and the weights are empty.
  const Tensor<> q = random_tensor({3, 2, 8}, 156), no_keys({0, 2, 8});
  const MhaOutput empty_source = layer.forward(q.view(), no_keys.view(), no_keys.view(), o);
  ASSERT_EQ(empty_source.output.shape(), (Shape{3, 2, 8}));
  EXPECT_EQ(empty_source.weights.shape(), (Shape{2, 3, 0}));
  for (Index i = 0; i < 3; ++i)
    for (Index x = 0; x < 8; ++x) EXPECT_NEAR(empty_source.output(i, 1, x), layer.weights().out_proj_bias(x), 1e-6);
  // No queries: an empty output of the right shape.
  const Tensor<> no_queries({0, 2, 8}), kv = random_tensor({4, 2, 8}, 157);
  const MhaOutput empty_target = layer.forward(no_queries.view(), kv.view(), kv.view(), o);
  EXPECT_EQ(empty_target.output.shape(), (Shape{0, 2, 8}));
  EXPECT_EQ(empty_target.weights.shape(), (Shape{2, 0, 4}));
}

// ---- grouped-query attention --------------------------------------------------------------

// A GQA layer equals a plain layer whose K and V projection rows repeat each kv head for the
// query heads of its group.
TEST(MhaSemantics, GqaEqualsPlainLayerWithRepeatedKvProjections) {
  const Index e = 8, heads = 4, kv_heads = 2, d = 2, group = heads / kv_heads;
  const MultiHeadAttention gqa = MultiHeadAttention::random({.embed_dim = e, .num_heads = heads, .num_kv_heads = kv_heads}, 160);
  const MhaWeights& g = gqa.weights();
  MhaTensors<Tensor<>> full;
  full.in_proj_weight = Tensor<>({3 * e, e});
  full.in_proj_bias = Tensor<>({3 * e});
  for (Index row = 0; row < 3 * e; ++row) {
    Index source = row;  // Q rows are shared as they are
    if (row >= e) {
      const Index part = (row - e) / e, h = (row - e) % e / d, x = (row - e) % d;  // part 0 = K, 1 = V
      source = e + part * kv_heads * d + (h / group) * d + x;
    }
    for (Index col = 0; col < e; ++col) full.in_proj_weight(row, col) = g.in_proj_weight(source, col);
    full.in_proj_bias(row) = g.in_proj_bias(source);
  }
  full.out_proj_weight = Tensor<>::copy_of(g.out_proj_weight.view());
  full.out_proj_bias = Tensor<>::copy_of(g.out_proj_bias.view());
  const MultiHeadAttention plain({.embed_dim = e, .num_heads = heads}, owned_weights(std::move(full)));
  const Tensor<> q = random_tensor({3, 2, e}, 161), kv = random_tensor({5, 2, e}, 162);
  const MhaOptions o = per_head_weights();
  const MhaOutput a = gqa.forward(q.view(), kv.view(), kv.view(), o);
  const MhaOutput b = plain.forward(q.view(), kv.view(), kv.view(), o);
  EXPECT_TRUE(all_close(a.output.view(), b.output.view(), 1e-6));
  EXPECT_TRUE(all_close(a.weights.view(), b.weights.view(), 1e-6));
  // Self-attention (the fused path) too.
  EXPECT_TRUE(all_close(gqa.forward(q.view(), q.view(), q.view(), o).output.view(),
                        plain.forward(q.view(), q.view(), q.view(), o).output.view(), 1e-6));
}

// ---- determinism and threads --------------------------------------------------------------

TEST(MhaSemantics, RandomLayersWithTheSameSeedGiveTheSameOutput) {
  const MhaConfig c{.embed_dim = 8, .num_heads = 2};
  const Tensor<> x = random_tensor({3, 1, 8}, 170);
  const MhaOutput a = MultiHeadAttention::random(c, 5).forward(x.view(), x.view(), x.view());
  const MhaOutput b = MultiHeadAttention::random(c, 5).forward(x.view(), x.view(), x.view());
  const MhaOutput other = MultiHeadAttention::random(c, 6).forward(x.view(), x.view(), x.view());
  EXPECT_EQ(testing::max_abs_diff(a.output.view(), b.output.view()), 0.0);
  EXPECT_GT(testing::max_abs_diff(a.output.view(), other.output.view()), 0.0);
}

TEST(MhaSemantics, ConstLayerCalledFromEightThreadsGivesTheSerialResult) {
  const MultiHeadAttention layer =
      MultiHeadAttention::random({.embed_dim = 16, .num_heads = 4, .num_kv_heads = 2, .add_zero_attn = true}, 180);
  const Tensor<> q = random_tensor({6, 2, 16}, 181), kv = random_tensor({7, 2, 16}, 182);
  const BoolTensor padding({2, 7}, {0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0});
  MhaOptions o = per_head_weights();
  o.key_padding_mask = block_mask(padding.view());
  o.is_causal = true;
  const MhaOutput serial = layer.forward(q.view(), kv.view(), kv.view(), o);
  constexpr int kThreads = 8;
  std::vector<MhaOutput> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int repeat = 0; repeat < 3; ++repeat)
        results[static_cast<std::size_t>(t)] = layer.forward(q.view(), kv.view(), kv.view(), o);
    });
  for (std::thread& t : threads) t.join();
  for (const MhaOutput& r : results) {
    EXPECT_EQ(testing::max_abs_diff(r.output.view(), serial.output.view()), 0.0);
    EXPECT_EQ(testing::max_abs_diff(r.weights.view(), serial.weights.view()), 0.0);
  }
}

}  // namespace
}  // namespace mha
