// The reference attention kernel (via mha::attention, KernelKind::reference): hand-computed
// values, scale, GQA, sizes at the edges, strided views, and agreement with the naive oracle in
// tests/testing/naive_attention.hpp.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "kernels/reference_test_setup.hpp"
#include "mha/kernels/attention.hpp"

namespace mha::reference_test {
namespace {

TEST(ReferenceAttention, HandComputedTwoQueriesThreeKeys) {
  const HandExample x;
  const auto r = run_attention(x.q, x.k, x.v, {.scale = 1.0, .masks = {}});
  const double e = std::exp(1.0), z = 2 * e + 1;
  // Row 0: p = [e, 1, e] / z;  out = (e·[1, 2] + [3, 4] + e·[5, 6]) / z.
  EXPECT_NEAR(r.weights(0, 0, 0, 0), e / z, kTol);
  EXPECT_NEAR(r.weights(0, 0, 0, 1), 1 / z, kTol);
  EXPECT_NEAR(r.weights(0, 0, 0, 2), e / z, kTol);
  EXPECT_NEAR(r.out(0, 0, 0, 0), (6 * e + 3) / z, kTol);
  EXPECT_NEAR(r.out(0, 0, 0, 1), (8 * e + 4) / z, kTol);
  // Row 1: p = [1, e, e] / z;  out = ([1, 2] + e·[3, 4] + e·[5, 6]) / z.
  EXPECT_NEAR(r.weights(0, 0, 1, 0), 1 / z, kTol);
  EXPECT_NEAR(r.weights(0, 0, 1, 1), e / z, kTol);
  EXPECT_NEAR(r.weights(0, 0, 1, 2), e / z, kTol);
  EXPECT_NEAR(r.out(0, 0, 1, 0), (1 + 8 * e) / z, kTol);
  EXPECT_NEAR(r.out(0, 0, 1, 1), (2 + 10 * e) / z, kTol);
  // lse = log Σ_j exp(s_ij) = log(e + 1 + e) for both rows.
  EXPECT_NEAR(r.lse(0, 0, 0), std::log(z), kTol);
  EXPECT_NEAR(r.lse(0, 0, 1), std::log(z), kTol);
}

TEST(ReferenceAttention, ScaleZeroAveragesTheValues) {
  const HandExample x;
  const auto r = run_attention(x.q, x.k, x.v, {.scale = 0.0, .masks = {}});
  for (Index i = 0; i < 2; ++i) {
    for (Index j = 0; j < 3; ++j) EXPECT_NEAR(r.weights(0, 0, i, j), 1.0 / 3.0, kTol);
    EXPECT_NEAR(r.out(0, 0, i, 0), 3.0, kTol);
    EXPECT_NEAR(r.out(0, 0, i, 1), 4.0, kTol);
    EXPECT_NEAR(r.lse(0, 0, i), std::log(3.0), kTol);
  }
}

TEST(ReferenceAttention, ScaleMultipliesTheScores) {
  const HandExample x;
  const auto r = run_attention(x.q, x.k, x.v, {.scale = 2.0, .masks = {}});
  // Row 0 scores [2, 0, 2]: p = [e², 1, e²] / (2e² + 1).
  const double e2 = std::exp(2.0), z = 2 * e2 + 1;
  EXPECT_NEAR(r.weights(0, 0, 0, 0), e2 / z, kTol);
  EXPECT_NEAR(r.weights(0, 0, 0, 1), 1 / z, kTol);
  EXPECT_NEAR(r.out(0, 0, 0, 0), (6 * e2 + 3) / z, kTol);
  EXPECT_NEAR(r.lse(0, 0, 0), std::log(z), kTol);
  // A negative scale flips the preference: row 0 scores [-1, 0, -1].
  const auto flipped = run_attention(x.q, x.k, x.v, {.scale = -1.0, .masks = {}});
  EXPECT_GT(flipped.weights(0, 0, 0, 1), flipped.weights(0, 0, 0, 0));
}

TEST(ReferenceAttention, WeightRowsSumToOne) {
  const Tensor<> q = random_tensor({2, 3, 5, 4}, 1), k = random_tensor({2, 3, 7, 4}, 2),
                 v = random_tensor({2, 3, 7, 4}, 3);
  const auto r = run_attention(q, k, v, {.scale = 0.5, .masks = {}});
  for (Index b = 0; b < 2; ++b)
    for (Index h = 0; h < 3; ++h)
      for (Index i = 0; i < 5; ++i) {
        double sum = 0;
        for (Index j = 0; j < 7; ++j) {
          EXPECT_GE(r.weights(b, h, i, j), 0.0f);
          sum += r.weights(b, h, i, j);
        }
        EXPECT_NEAR(sum, 1.0, 1e-6) << b << " " << h << " " << i;
      }
}

TEST(ReferenceAttention, LseIsLogSumExpOfScaledScores) {
  const Tensor<> q = random_tensor({1, 2, 4, 8}, 4, -2, 2), k = random_tensor({1, 2, 6, 8}, 5, -2, 2),
                 v = random_tensor({1, 2, 6, 3}, 6);
  const double scale = 0.7;
  const auto r = run_attention(q, k, v, {.scale = scale, .masks = {}});
  for (Index h = 0; h < 2; ++h)
    for (Index i = 0; i < 4; ++i) {
      double sum = 0;
      for (Index j = 0; j < 6; ++j) {
        double dot = 0;
        for (Index c = 0; c < 8; ++c) dot += double{q(0, h, i, c)} * k(0, h, j, c);
        sum += std::exp(scale * dot);
      }
      EXPECT_NEAR(r.lse(0, h, i), std::log(sum), 1e-5);
      // And p_ij = exp(s_ij − lse_i) ties weights to lse.
      double dot0 = 0;
      for (Index c = 0; c < 8; ++c) dot0 += double{q(0, h, i, c)} * k(0, h, 0, c);
      EXPECT_NEAR(r.weights(0, h, i, 0), std::exp(scale * dot0 - r.lse(0, h, i)), 1e-6);
    }
}

struct Sizes {
  Index batch, heads, kv_heads, lq, lk, d, dv;
};

void expect_matches_naive(const Sizes& s, std::uint64_t seed) {
  const Tensor<> q = random_tensor({s.batch, s.heads, s.lq, s.d}, seed);
  const Tensor<> k = random_tensor({s.batch, s.kv_heads, s.lk, s.d}, seed + 1);
  const Tensor<> v = random_tensor({s.batch, s.kv_heads, s.lk, s.dv}, seed + 2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.d));
  const auto r = run_attention(q, k, v, {.scale = scale, .masks = {}});
  const auto n = naive_attention(q, k, v, scale);
  EXPECT_TRUE(all_close(r.out.view(), n.out.view(), kTol));
  EXPECT_TRUE(all_close(r.weights.view(), n.weights.view(), kTol));
  EXPECT_TRUE(all_close(r.lse.view(), n.lse.view(), kTol));
}

TEST(ReferenceAttention, MatchesNaiveOnAssortedSizes) {
  expect_matches_naive({2, 3, 3, 5, 7, 4, 4}, 10);
  expect_matches_naive({1, 2, 2, 9, 3, 16, 5}, 20);   // Dv != D, Lq > Lk
  expect_matches_naive({3, 1, 1, 1, 1, 1, 1}, 30);    // length 1, head_dim 1, one head
  expect_matches_naive({1, 1, 1, 6, 6, 1, 1}, 40);    // head_dim 1
  expect_matches_naive({1, 16, 16, 3, 4, 2, 2}, 50);  // many heads
  expect_matches_naive({1, 4, 1, 5, 6, 3, 3}, 60);    // GQA, one kv head
  expect_matches_naive({2, 4, 2, 5, 6, 3, 2}, 70);    // GQA, two kv heads
}

TEST(ReferenceAttention, LengthOneAttendsToItsOnlyKey) {
  const Tensor<> q({1, 1, 1, 2}, {0.3f, -2.0f}), k({1, 1, 1, 2}, {4.0f, 1.0f}),
      v({1, 1, 1, 3}, {7.0f, -8.0f, 9.0f});
  const auto r = run_attention(q, k, v, {.scale = 0.5, .masks = {}});
  EXPECT_EQ(r.weights(0, 0, 0, 0), 1.0f);
  EXPECT_EQ(r.out(0, 0, 0, 0), 7.0f);
  EXPECT_EQ(r.out(0, 0, 0, 1), -8.0f);
  EXPECT_EQ(r.out(0, 0, 0, 2), 9.0f);
  EXPECT_NEAR(r.lse(0, 0, 0), 0.5 * (0.3 * 4.0 - 2.0), kTol);
}

// Grouped-query attention equals plain multi-head attention with each kv head repeated for the
// Hq / Hkv query heads of its group (query head h uses kv head h / (Hq / Hkv)).
void expect_gqa_equals_repeated_kv(Index kv_heads) {
  const Index heads = 4, group = heads / kv_heads;
  const Tensor<> q = random_tensor({2, heads, 3, 5}, 100);
  const Tensor<> k = random_tensor({2, kv_heads, 4, 5}, 101), v = random_tensor({2, kv_heads, 4, 6}, 102);
  Tensor<> k_full({2, heads, 4, 5}), v_full({2, heads, 4, 6});
  for (Index b = 0; b < 2; ++b)
    for (Index h = 0; h < heads; ++h)
      for (Index j = 0; j < 4; ++j) {
        for (Index c = 0; c < 5; ++c) k_full(b, h, j, c) = k(b, h / group, j, c);
        for (Index c = 0; c < 6; ++c) v_full(b, h, j, c) = v(b, h / group, j, c);
      }
  const auto grouped = run_attention(q, k, v, {.scale = 0.4, .masks = {}});
  const auto repeated = run_attention(q, k_full, v_full, {.scale = 0.4, .masks = {}});
  EXPECT_EQ(testing::max_abs_diff(grouped.out.view(), repeated.out.view()), 0.0);
  EXPECT_EQ(testing::max_abs_diff(grouped.weights.view(), repeated.weights.view()), 0.0);
  EXPECT_EQ(testing::max_abs_diff(grouped.lse.view(), repeated.lse.view()), 0.0);
}

TEST(ReferenceAttention, GqaWithOneKvHeadSharesItAcrossAllQueryHeads) { expect_gqa_equals_repeated_kv(1); }
TEST(ReferenceAttention, GqaWithTwoKvHeadsSharesEachAcrossItsGroup) { expect_gqa_equals_repeated_kv(2); }

TEST(ReferenceAttention, GqaGroupsAreContiguousQueryHeads) {
  // Identical queries in every head: heads of one group must agree, the two groups must not.
  Tensor<> q({1, 4, 1, 2});
  for (Index h = 0; h < 4; ++h) {
    q(0, h, 0, 0) = 1.0f;
    q(0, h, 0, 1) = -1.0f;
  }
  const Tensor<> k = random_tensor({1, 2, 3, 2}, 7, -3, 3), v = random_tensor({1, 2, 3, 1}, 8);
  const auto r = run_attention(q, k, v, {.scale = 1.0, .masks = {}});
  EXPECT_EQ(r.out(0, 0, 0, 0), r.out(0, 1, 0, 0));
  EXPECT_EQ(r.out(0, 2, 0, 0), r.out(0, 3, 0, 0));
  EXPECT_NE(r.out(0, 0, 0, 0), r.out(0, 2, 0, 0));
}

TEST(ReferenceAttention, LargeLogitsDoNotOverflow) {
  // D = 1, scale 1: scores [1e4, −1e4, 9999]. exp(1e4) overflows any float type; the row max
  // subtraction keeps p = [1, 0, e⁻¹] / (1 + e⁻¹) exact.
  const Tensor<> q({1, 1, 1, 1}, {100.0f});
  const Tensor<> k({1, 1, 3, 1}, {100.0f, -100.0f, 99.99f});
  const Tensor<> v({1, 1, 3, 1}, {1.0f, 2.0f, 3.0f});
  const auto r = run_attention(q, k, v, {.scale = 1.0, .masks = {}});
  const double s2 = 100.0 * double{99.99f};  // the third score, with k's float rounding
  const double p2 = std::exp(s2 - 1e4), z = 1 + p2;
  EXPECT_NEAR(r.weights(0, 0, 0, 0), 1 / z, kTol);
  EXPECT_EQ(r.weights(0, 0, 0, 1), 0.0f);
  EXPECT_NEAR(r.weights(0, 0, 0, 2), p2 / z, kTol);
  EXPECT_NEAR(r.out(0, 0, 0, 0), (1 + 3 * p2) / z, kTol);
  EXPECT_NEAR(r.lse(0, 0, 0), 1e4 + std::log(z), 1e-2);  // float spacing at 1e4 is ~1e-3
  EXPECT_TRUE(std::isfinite(r.lse(0, 0, 0)));

  // All scores −1e4: exp(−1e4) underflows to 0, but p is still uniform.
  const Tensor<> k_neg({1, 1, 3, 1}, {-100.0f, -100.0f, -100.0f});
  const auto low = run_attention(q, k_neg, v, {.scale = 1.0, .masks = {}});
  for (Index j = 0; j < 3; ++j) EXPECT_NEAR(low.weights(0, 0, 0, j), 1.0 / 3.0, kTol);
  EXPECT_NEAR(low.out(0, 0, 0, 0), 2.0, kTol);
  EXPECT_NEAR(low.lse(0, 0, 0), -1e4 + std::log(3.0), 1e-2);
}

TEST(ReferenceAttention, NoKeysGivesZeroOutputAndMinusInfinityLse) {
  const Tensor<> q = random_tensor({1, 2, 3, 4}, 9), k({1, 2, 0, 4}), v({1, 2, 0, 5});
  const auto r = run_attention(q, k, v, {.scale = 1.0, .masks = {}});
  for (const float x : r.out.values()) EXPECT_EQ(x, 0.0f);
  for (const float x : r.lse.values()) EXPECT_EQ(x, -std::numeric_limits<float>::infinity());
}

TEST(ReferenceAttention, RepeatedRunsAreBitIdentical) {
  const Tensor<> q = random_tensor({2, 2, 5, 8}, 11), k = random_tensor({2, 2, 6, 8}, 12),
                 v = random_tensor({2, 2, 6, 8}, 13);
  const auto a = run_attention(q, k, v, {.scale = 0.3, .masks = {}});
  const auto b = run_attention(q, k, v, {.scale = 0.3, .masks = {}});
  EXPECT_EQ(testing::max_abs_diff(a.out.view(), b.out.view()), 0.0);
  EXPECT_EQ(testing::max_abs_diff(a.weights.view(), b.weights.view()), 0.0);
}

// Every view padded (NaN in the padding) or permuted gives the contiguous result, and the kernel
// writes nothing into the outputs' padding.
TEST(ReferenceAttention, StridedViewsGiveTheContiguousResult) {
  const Index batch = 2, heads = 4, kv_heads = 2, lq = 3, lk = 5, d = 6, dv = 3;
  const Tensor<> q = random_tensor({batch, heads, lq, d}, 21);
  const Tensor<> k = random_tensor({batch, kv_heads, lk, d}, 22);
  const Tensor<> v = random_tensor({batch, kv_heads, lk, dv}, 23);
  const Tensor<> bias = random_tensor({lq, lk}, 24);
  const TensorView<const float> bias_view(bias.data(), {batch, heads, lq, lk}, {0, 0, lk, 1});
  AttentionParams params{.scale = 0.5, .causal = true, .alignment = Alignment::bottom_right,
                         .masks = {additive_mask(bias_view)}};
  const auto expected = run_attention(q, k, v, params);

  Tensor<> q_buf, k_buf, out_buf, weights_buf, lse_buf;
  const TensorView<float> q_pad = testing::padded_copy(q.view(), 3, q_buf);
  const TensorView<float> k_pad = testing::padded_copy(k.view(), 1, k_buf);
  // v stored as [B, Lk, Hkv, Dv] (the layer's layout), read as [B, Hkv, Lk, Dv].
  Tensor<> v_perm({batch, lk, kv_heads, dv});
  for (Index b = 0; b < batch; ++b)
    for (Index g = 0; g < kv_heads; ++g)
      for (Index j = 0; j < lk; ++j)
        for (Index c = 0; c < dv; ++c) v_perm(b, j, g, c) = v(b, g, j, c);
  const TensorView<const float> v_view(v_perm.data(), {batch, kv_heads, lk, dv},
                                       {lk * kv_heads * dv, dv, kv_heads * dv, 1});
  const Tensor<> nan_out({batch, heads, lq, dv}), nan_weights({batch, heads, lq, lk}),
      nan_lse({batch, heads, lq});
  const TensorView<float> out = testing::padded_copy(nan_out.view(), 2, out_buf);
  const TensorView<float> weights = testing::padded_copy(nan_weights.view(), 5, weights_buf);
  const TensorView<float> lse = testing::padded_copy(nan_lse.view(), 1, lse_buf);
  attention({.q = q_pad, .k = k_pad, .v = v_view, .out = out, .weights = weights, .lse = lse,
             .params = params});

  EXPECT_EQ(testing::max_abs_diff(Tensor<>::copy_of(out).view(), expected.out.view()), 0.0);
  EXPECT_EQ(testing::max_abs_diff(Tensor<>::copy_of(weights).view(), expected.weights.view()), 0.0);
  EXPECT_EQ(testing::max_abs_diff(Tensor<>::copy_of(lse).view(), expected.lse.view()), 0.0);
  Index nan_count = 0;
  for (const float x : out_buf.values()) nan_count += std::isnan(x) ? 1 : 0;
  EXPECT_EQ(nan_count, batch * heads * lq * 2) << "the kernel wrote into the padding of out";
  nan_count = 0;
  for (const float x : weights_buf.values()) nan_count += std::isnan(x) ? 1 : 0;
  EXPECT_EQ(nan_count, batch * heads * lq * 5) << "the kernel wrote into the padding of weights";
}

TEST(ReferenceAttention, OptionalOutputsMayBeOmitted) {
  const Tensor<> q = random_tensor({1, 2, 3, 4}, 31), k = random_tensor({1, 2, 5, 4}, 32),
                 v = random_tensor({1, 2, 5, 4}, 33);
  const auto full = run_attention(q, k, v, {.scale = 0.5, .masks = {}});
  Tensor<> out({1, 2, 3, 4});
  attention({.q = q.view(), .k = k.view(), .v = v.view(), .out = out.view(), .weights = {}, .lse = {},
             .params = {.scale = 0.5, .masks = {}}});
  EXPECT_EQ(testing::max_abs_diff(out.view(), full.out.view()), 0.0);
}

}  // namespace
}  // namespace mha::reference_test
