// The reference kernel's masking: block / keep / additive masks (broadcast through stride 0),
// causal alignment, sliding window, fully masked rows and non-finite values behind masks.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "kernels/reference_test_setup.hpp"
#include "mha/kernels/attention.hpp"

namespace mha::reference_test {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

void expect_row0_without_key1(const testing::AttentionResult& r) {
  // Keys 0 and 2 tie at score 1: p = [1/2, 0, 1/2], out = ([1, 2] + [5, 6]) / 2.
  EXPECT_NEAR(r.weights(0, 0, 0, 0), 0.5, kTol);
  EXPECT_EQ(r.weights(0, 0, 0, 1), 0.0f);
  EXPECT_NEAR(r.weights(0, 0, 0, 2), 0.5, kTol);
  EXPECT_NEAR(r.out(0, 0, 0, 0), 3.0, kTol);
  EXPECT_NEAR(r.out(0, 0, 0, 1), 4.0, kTol);
  EXPECT_NEAR(r.lse(0, 0, 0), 1 + std::log(2.0), kTol);
  // Row 1 is untouched: p = [1, e, e] / (2e + 1).
  const double e = std::exp(1.0);
  EXPECT_NEAR(r.weights(0, 0, 1, 0), 1 / (2 * e + 1), kTol);
}

TEST(ReferenceMasks, BlockMaskSkipsTheFlaggedKeys) {
  const HandExample x;
  const BoolTensor flags({1, 1, 2, 3}, {0, 1, 0, 0, 0, 0});
  expect_row0_without_key1(run_attention(x.q, x.k, x.v, {.scale = 1.0, .masks = {block_mask(flags.view())}}));
}

TEST(ReferenceMasks, KeepMaskKeepsOnlyTheFlaggedKeys) {
  const HandExample x;
  const BoolTensor flags({1, 1, 2, 3}, {1, 0, 1, 1, 1, 1});
  expect_row0_without_key1(run_attention(x.q, x.k, x.v, {.scale = 1.0, .masks = {keep_mask(flags.view())}}));
}

TEST(ReferenceMasks, AnyNonzeroFlagCountsAsTrue) {
  const HandExample x;
  const BoolTensor block({1, 1, 2, 3}, {0, 255, 0, 0, 0, 0});
  expect_row0_without_key1(run_attention(x.q, x.k, x.v, {.scale = 1.0, .masks = {block_mask(block.view())}}));
  const BoolTensor keep({1, 1, 2, 3}, {7, 0, 2, 1, 1, 1});
  expect_row0_without_key1(run_attention(x.q, x.k, x.v, {.scale = 1.0, .masks = {keep_mask(keep.view())}}));
}

TEST(ReferenceMasks, AdditiveMaskAddsToTheScoresAndMinusInfinityBlocks) {
  const HandExample x;
  const Tensor<> values({1, 1, 2, 3}, {std::log(2.0f), -kInf, 0, 0, 0, 0});
  const auto r = run_attention(x.q, x.k, x.v, {.scale = 1.0, .masks = {additive_mask(values.view())}});
  // Row 0 scores [1 + log 2, −∞, 1]: p = [2/3, 0, 1/3], out = (2·[1, 2] + [5, 6]) / 3.
  EXPECT_NEAR(r.weights(0, 0, 0, 0), 2.0 / 3.0, kTol);
  EXPECT_EQ(r.weights(0, 0, 0, 1), 0.0f);
  EXPECT_NEAR(r.weights(0, 0, 0, 2), 1.0 / 3.0, kTol);
  EXPECT_NEAR(r.out(0, 0, 0, 0), 7.0 / 3.0, kTol);
  EXPECT_NEAR(r.out(0, 0, 0, 1), 10.0 / 3.0, kTol);
  EXPECT_NEAR(r.lse(0, 0, 0), 1 + std::log(3.0), kTol);
}

struct RandomCase {
  Index batch = 2, heads = 3, lq = 4, lk = 6, d = 5;
  Tensor<> q = random_tensor({batch, heads, lq, d}, 1);
  Tensor<> k = random_tensor({batch, heads, lk, d}, 2);
  Tensor<> v = random_tensor({batch, heads, lk, d}, 3);
  double scale = 0.6;
};

void expect_same(const testing::AttentionResult& r, const testing::NaiveResult& n) {
  EXPECT_TRUE(all_close(r.out.view(), n.out.view(), kTol));
  EXPECT_TRUE(all_close(r.weights.view(), n.weights.view(), kTol));
  EXPECT_TRUE(all_close(r.lse.view(), n.lse.view(), kTol));
}

TEST(ReferenceMasks, KeyMaskBroadcastsOverBatchHeadsAndQueries) {
  const RandomCase c;
  const BoolTensor padded({c.lk}, {0, 0, 1, 0, 1, 0});
  const TensorView<const std::uint8_t> view(padded.data(), {c.batch, c.heads, c.lq, c.lk}, {0, 0, 0, 1});
  expect_same(run_attention(c.q, c.k, c.v, {.scale = c.scale, .masks = {block_mask(view)}}),
              naive_attention(c.q, c.k, c.v, c.scale,
                              [&](Index, Index, Index, Index j) { return padded(j) == 0; }));
}

TEST(ReferenceMasks, PerBatchMaskBroadcastsOverHeadsAndQueries) {
  const RandomCase c;
  const BoolTensor keep({c.batch, c.lk}, {1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0, 1});
  const TensorView<const std::uint8_t> view(keep.data(), {c.batch, c.heads, c.lq, c.lk}, {c.lk, 0, 0, 1});
  expect_same(run_attention(c.q, c.k, c.v, {.scale = c.scale, .masks = {keep_mask(view)}}),
              naive_attention(c.q, c.k, c.v, c.scale,
                              [&](Index b, Index, Index, Index j) { return keep(b, j) != 0; }));
}

TEST(ReferenceMasks, AllMaskKindsCombine) {
  const RandomCase c;
  const BoolTensor block({c.lq, c.lk}, {0, 1, 0, 0, 0, 0,  //
                                        0, 0, 0, 0, 0, 1,  //
                                        1, 0, 0, 0, 0, 0,  //
                                        0, 0, 0, 0, 0, 0});
  const BoolTensor keep({c.heads, c.lk}, {1, 1, 1, 1, 0, 1,  //
                                          1, 1, 1, 1, 1, 1,  //
                                          0, 1, 1, 1, 1, 1});
  const Tensor<> bias = random_tensor({c.batch, c.lq, c.lk}, 4, -2, 2);
  const Shape target = {c.batch, c.heads, c.lq, c.lk};
  AttentionParams params{.scale = c.scale, .masks = {}};
  params.masks = {block_mask({block.data(), target, {0, 0, c.lk, 1}}),
                  keep_mask({keep.data(), target, {0, c.lk, 0, 1}}),
                  additive_mask({bias.data(), target, {c.lq * c.lk, 0, c.lk, 1}})};
  expect_same(run_attention(c.q, c.k, c.v, params),
              naive_attention(
                  c.q, c.k, c.v, c.scale,
                  [&](Index, Index h, Index i, Index j) { return block(i, j) == 0 && keep(h, j) != 0; },
                  [&](Index b, Index, Index i, Index j) { return double{bias(b, i, j)}; }));
}

void expect_causal(Index lq, Index lk, Alignment alignment, Index window = -1, bool causal = true) {
  RandomCase c;
  c.lq = lq;
  c.lk = lk;
  c.q = random_tensor({c.batch, c.heads, lq, c.d}, 5);
  c.k = random_tensor({c.batch, c.heads, lk, c.d}, 6);
  c.v = random_tensor({c.batch, c.heads, lk, c.d}, 7);
  const Index shift = alignment == Alignment::bottom_right ? lk - lq : 0;
  const auto r = run_attention(
      c.q, c.k, c.v,
      {.scale = c.scale, .causal = causal, .window_left = window, .alignment = alignment, .masks = {}});
  const auto n = naive_attention(c.q, c.k, c.v, c.scale, [&](Index, Index, Index i, Index j) {
    const Index pos = i + shift;
    return (!causal || j <= pos) && (window < 0 || j >= pos - window);
  });
  SCOPED_TRACE("lq " + std::to_string(lq) + ", lk " + std::to_string(lk) + ", window " +
               std::to_string(window));
  expect_same(r, n);
}

TEST(ReferenceMasks, CausalTopLeft) {
  expect_causal(5, 5, Alignment::top_left);
  expect_causal(3, 6, Alignment::top_left);  // query i sees keys 0 … i
  expect_causal(6, 3, Alignment::top_left);  // the last queries see every key
}

TEST(ReferenceMasks, CausalBottomRight) {
  expect_causal(5, 5, Alignment::bottom_right);  // same as top-left when Lq = Lk
  expect_causal(3, 6, Alignment::bottom_right);  // query i sees keys 0 … i + 3
  expect_causal(6, 3, Alignment::bottom_right);  // the first 3 queries see nothing
}

TEST(ReferenceMasks, CausalTopLeftAndBottomRightDifferWhenLengthsDiffer) {
  const Tensor<> q = random_tensor({1, 1, 2, 3}, 8), k = random_tensor({1, 1, 4, 3}, 9),
                 v = random_tensor({1, 1, 4, 3}, 10);
  const auto top = run_attention(q, k, v, {.scale = 1.0, .causal = true, .masks = {}});
  const auto bottom = run_attention(q, k, v, {.scale = 1.0, .causal = true, .alignment = Alignment::bottom_right, .masks = {}});
  EXPECT_EQ(top.weights(0, 0, 0, 0), 1.0f);      // top-left query 0 sees key 0 only
  EXPECT_EQ(top.weights(0, 0, 1, 2), 0.0f);
  EXPECT_GT(bottom.weights(0, 0, 0, 2), 0.0f);   // bottom-right query 0 sees keys 0 … 2
  EXPECT_EQ(bottom.weights(0, 0, 0, 3), 0.0f);
  EXPECT_GT(bottom.weights(0, 0, 1, 3), 0.0f);   // and query 1 sees all four
}

TEST(ReferenceMasks, BottomRightWithMoreQueriesThanKeysMasksTheFirstRowsFully) {
  const Tensor<> q = random_tensor({1, 1, 4, 2}, 11), k = random_tensor({1, 1, 2, 2}, 12),
                 v = random_tensor({1, 1, 2, 2}, 13);
  const auto r = run_attention(q, k, v, {.scale = 1.0, .causal = true, .alignment = Alignment::bottom_right, .masks = {}});
  for (Index i = 0; i < 2; ++i) {
    EXPECT_EQ(r.out(0, 0, i, 0), 0.0f);
    EXPECT_EQ(r.weights(0, 0, i, 0), 0.0f);
    EXPECT_EQ(r.lse(0, 0, i), -kInf);
  }
  EXPECT_EQ(r.weights(0, 0, 2, 0), 1.0f);  // query 2 sits at key 0
}

TEST(ReferenceMasks, SlidingWindow) {
  expect_causal(6, 6, Alignment::top_left, 1);            // keys i − 1 … i
  expect_causal(6, 6, Alignment::top_left, 2, false);     // keys i − 2 … end
  expect_causal(3, 7, Alignment::bottom_right, 2);        // decoding with a cache
  expect_causal(5, 5, Alignment::top_left, 0);            // only the diagonal
  expect_causal(5, 5, Alignment::top_left, 100);          // wider than the sequence = causal
}

TEST(ReferenceMasks, WindowZeroCausalCopiesTheDiagonalValue) {
  const Tensor<> q = random_tensor({1, 1, 3, 2}, 14), k = random_tensor({1, 1, 3, 2}, 15),
                 v = random_tensor({1, 1, 3, 2}, 16);
  const auto r = run_attention(q, k, v, {.scale = 1.0, .causal = true, .window_left = 0, .masks = {}});
  for (Index i = 0; i < 3; ++i) {
    EXPECT_EQ(r.weights(0, 0, i, i), 1.0f);
    EXPECT_EQ(r.out(0, 0, i, 1), v(0, 0, i, 1));
  }
}

void expect_fully_masked_row1(const testing::AttentionResult& r, Index dv, Index lk) {
  for (Index c = 0; c < dv; ++c) EXPECT_EQ(r.out(0, 0, 1, c), 0.0f);
  for (Index j = 0; j < lk; ++j) EXPECT_EQ(r.weights(0, 0, 1, j), 0.0f);
  EXPECT_EQ(r.lse(0, 0, 1), -kInf);
  for (const float x : r.out.values()) EXPECT_FALSE(std::isnan(x));
  for (const float x : r.weights.values()) EXPECT_FALSE(std::isnan(x));
  for (const float x : r.lse.values()) EXPECT_FALSE(std::isnan(x));
  EXPECT_GT(r.weights(0, 0, 0, 0) + r.weights(0, 0, 0, 1) + r.weights(0, 0, 0, 2), 0.99f);
}

TEST(ReferenceMasks, FullyMaskedRowGivesZerosAndMinusInfinityLse) {
  const HandExample x;
  const BoolTensor block({1, 1, 2, 3}, {0, 0, 0, 1, 1, 1});
  expect_fully_masked_row1(run_attention(x.q, x.k, x.v, {.scale = 1.0, .masks = {block_mask(block.view())}}), 2, 3);
  const BoolTensor keep({1, 1, 2, 3}, {1, 1, 1, 0, 0, 0});
  expect_fully_masked_row1(run_attention(x.q, x.k, x.v, {.scale = 1.0, .masks = {keep_mask(keep.view())}}), 2, 3);
  const Tensor<> additive({1, 1, 2, 3}, {0, 0, 0, -kInf, -kInf, -kInf});
  expect_fully_masked_row1(
      run_attention(x.q, x.k, x.v, {.scale = 1.0, .masks = {additive_mask(additive.view())}}), 2, 3);
}

TEST(ReferenceMasks, TwoMasksThatTogetherBlockEverythingMaskTheRowFully) {
  const HandExample x;
  const BoolTensor block({1, 1, 2, 3}, {0, 0, 0, 1, 0, 1});
  const BoolTensor keep({1, 1, 2, 3}, {1, 1, 1, 1, 0, 1});
  expect_fully_masked_row1(
      run_attention(x.q, x.k, x.v, {.scale = 1.0, .masks = {block_mask(block.view()), keep_mask(keep.view())}}),
      2, 3);
}

// NaN and ±Inf stored in keys and values that no query may see must not reach any output.
TEST(ReferenceMasks, NonFiniteMaskedKeysAndValuesNeverReachTheOutput) {
  const RandomCase c;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor<> k_poisoned = c.k, v_poisoned = c.v, k_clean = c.k, v_clean = c.v;
  const Index padded_key = 2;  // masked by a key-padding block mask
  for (Index b = 0; b < c.batch; ++b)
    for (Index h = 0; h < c.heads; ++h)
      for (Index x = 0; x < c.d; ++x) {
        k_poisoned(b, h, padded_key, x) = nan;
        v_poisoned(b, h, padded_key, x) = kInf;
        k_poisoned(b, h, c.lk - 1, x) = -kInf;  // the last key: causally invisible to every query
        v_poisoned(b, h, c.lk - 1, x) = nan;
        k_clean(b, h, padded_key, x) = v_clean(b, h, padded_key, x) = 0;
        k_clean(b, h, c.lk - 1, x) = v_clean(b, h, c.lk - 1, x) = 0;
      }
  BoolTensor padding({c.lk});
  padding(padded_key) = 1;
  const TensorView<const std::uint8_t> pad_view(padding.data(), {c.batch, c.heads, c.lq, c.lk}, {0, 0, 0, 1});
  // Lq = 4 < Lk = 6 top-left causal: query i sees keys 0 … i, never key 5.
  const AttentionParams params{.scale = c.scale, .causal = true, .masks = {block_mask(pad_view)}};
  const auto poisoned = run_attention(c.q, k_poisoned, v_poisoned, params);
  const auto clean = run_attention(c.q, k_clean, v_clean, params);
  EXPECT_EQ(testing::max_abs_diff(poisoned.out.view(), clean.out.view()), 0.0);
  EXPECT_EQ(testing::max_abs_diff(poisoned.weights.view(), clean.weights.view()), 0.0);
  EXPECT_EQ(testing::max_abs_diff(poisoned.lse.view(), clean.lse.view()), 0.0);
  for (const float x : poisoned.out.values()) EXPECT_TRUE(std::isfinite(x));
}

TEST(ReferenceMasks, NonFiniteValuesBehindAnAdditiveMinusInfinityNeverReachTheOutput) {
  const HandExample x;
  Tensor<> v = x.v;
  v(0, 0, 1, 0) = std::numeric_limits<float>::quiet_NaN();
  v(0, 0, 1, 1) = kInf;
  Tensor<> k = x.k;
  k(0, 0, 1, 0) = std::numeric_limits<float>::quiet_NaN();
  const Tensor<> additive({1, 1, 2, 3}, {0, -kInf, 0, 0, -kInf, 0});
  const auto r = run_attention(x.q, k, v, {.scale = 1.0, .masks = {additive_mask(additive.view())}});
  EXPECT_NEAR(r.out(0, 0, 0, 0), 3.0, kTol);
  EXPECT_NEAR(r.out(0, 0, 0, 1), 4.0, kTol);
  for (const float y : r.out.values()) EXPECT_TRUE(std::isfinite(y));
}

TEST(ReferenceMasks, MaskedWeightRowsStillSumToOne) {
  const RandomCase c;
  const BoolTensor block({c.lq, c.lk}, {0, 1, 1, 0, 0, 0,  //
                                        1, 1, 1, 1, 1, 0,  //
                                        0, 0, 0, 0, 0, 0,  //
                                        1, 0, 1, 0, 1, 0});
  const TensorView<const std::uint8_t> view(block.data(), {c.batch, c.heads, c.lq, c.lk}, {0, 0, c.lk, 1});
  const auto r = run_attention(c.q, c.k, c.v, {.scale = c.scale, .masks = {block_mask(view)}});
  for (Index b = 0; b < c.batch; ++b)
    for (Index h = 0; h < c.heads; ++h)
      for (Index i = 0; i < c.lq; ++i) {
        double sum = 0;
        for (Index j = 0; j < c.lk; ++j) sum += r.weights(b, h, i, j);
        EXPECT_NEAR(sum, 1.0, 1e-6);
      }
}

}  // namespace
}  // namespace mha::reference_test
