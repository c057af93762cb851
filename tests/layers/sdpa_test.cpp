// scaled_dot_product_attention: ranks 2/3/4, GQA, mask broadcasting, shape errors and the two
// PyTorch boolean-mask conventions.
#include <cmath>

#include <gtest/gtest.h>

#include "layers/mha_test_helpers.hpp"
#include "mha/layers/scaled_dot_product_attention.hpp"
#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

using testing::all_close;
using testing::naive_attention;
using testing::random_tensor;
using testing::select0;
using testing::throws_error;

constexpr double kTol = 1e-6;

// B = 2, H = 3, L = 4, S = 6, D = 5, Dv = 7.
struct Inputs {
  Tensor<> q = random_tensor({2, 3, 4, 5}, 1), k = random_tensor({2, 3, 6, 5}, 2),
           v = random_tensor({2, 3, 6, 7}, 3);
};

SdpaOptions with_weights() {
  SdpaOptions o;
  o.need_weights = true;
  return o;
}

TEST(Sdpa, Rank4MatchesNaiveWithDefaultScale) {
  const Inputs x;
  const SdpaOutput r = scaled_dot_product_attention(x.q.view(), x.k.view(), x.v.view(), with_weights());
  const auto n = naive_attention(x.q, x.k, x.v, 1.0 / std::sqrt(5.0));
  ASSERT_EQ(r.output.shape(), (Shape{2, 3, 4, 7}));
  ASSERT_EQ(r.weights.shape(), (Shape{2, 3, 4, 6}));
  EXPECT_TRUE(all_close(r.output.view(), n.out.view(), kTol));
  EXPECT_TRUE(all_close(r.weights.view(), n.weights.view(), kTol));
  EXPECT_FALSE(scaled_dot_product_attention(x.q.view(), x.k.view(), x.v.view()).weights.defined());
}

TEST(Sdpa, Ranks2And3AreSlicesOfRank4) {
  const Inputs x;
  const SdpaOutput full = scaled_dot_product_attention(x.q.view(), x.k.view(), x.v.view(), with_weights());
  for (Index b = 0; b < 2; ++b) {
    const Tensor<> q3 = select0(x.q, b), k3 = select0(x.k, b), v3 = select0(x.v, b);
    const SdpaOutput r3 = scaled_dot_product_attention(q3.view(), k3.view(), v3.view(), with_weights());
    ASSERT_EQ(r3.output.shape(), (Shape{3, 4, 7}));
    ASSERT_EQ(r3.weights.shape(), (Shape{3, 4, 6}));
    EXPECT_TRUE(all_close(r3.output.view(), select0(full.output, b).view(), 0.0));
    EXPECT_TRUE(all_close(r3.weights.view(), select0(full.weights, b).view(), 0.0));
    for (Index h = 0; h < 3; ++h) {
      const Tensor<> q2 = select0(q3, h), k2 = select0(k3, h), v2 = select0(v3, h);
      const SdpaOutput r2 = scaled_dot_product_attention(q2.view(), k2.view(), v2.view(), with_weights());
      ASSERT_EQ(r2.output.shape(), (Shape{4, 7}));
      ASSERT_EQ(r2.weights.shape(), (Shape{4, 6}));
      EXPECT_TRUE(all_close(r2.output.view(), select0(select0(full.output, b), h).view(), 0.0));
    }
  }
}

TEST(Sdpa, FewerKvHeadsIsGroupedQueryAttention) {
  const Tensor<> q = random_tensor({1, 4, 3, 2}, 4), k = random_tensor({1, 2, 5, 2}, 5),
                 v = random_tensor({1, 2, 5, 2}, 6);
  SdpaOptions o = with_weights();
  o.scale = 0.9;
  const SdpaOutput r = scaled_dot_product_attention(q.view(), k.view(), v.view(), o);
  const auto n = naive_attention(q, k, v, 0.9);
  EXPECT_TRUE(all_close(r.output.view(), n.out.view(), kTol));
  EXPECT_TRUE(all_close(r.weights.view(), n.weights.view(), kTol));
}

TEST(Sdpa, CausalAndWindowMatchNaive) {
  const Inputs x;
  SdpaOptions o = with_weights();
  o.is_causal = true;
  o.causal_alignment = Alignment::bottom_right;
  o.window_left = 1;
  const SdpaOutput r = scaled_dot_product_attention(x.q.view(), x.k.view(), x.v.view(), o);
  const auto n = naive_attention(x.q, x.k, x.v, 1.0 / std::sqrt(5.0), [](Index, Index, Index i, Index j) {
    return j <= i + 2 && j >= i + 1;  // pos = i + S − L = i + 2, keys pos − 1 … pos
  });
  EXPECT_TRUE(all_close(r.output.view(), n.out.view(), kTol));
  EXPECT_TRUE(all_close(r.weights.view(), n.weights.view(), kTol));
}

// One keep-mask pattern over [B, L, S] = [2, 4, 6]; each broadcast shape reads a part of it.
bool pattern(Index b, Index i, Index j) { return (b + 2 * i + 3 * j) % 4 != 0; }

void expect_broadcast_mask(const Shape& shape, const testing::KeyPredicate& expected_keep) {
  SCOPED_TRACE("mask shape " + shape_str(shape));
  const Inputs x;
  BoolTensor flags(shape);
  const Shape padded = [&] {
    Shape s(4 - shape.size(), 1);
    s.insert(s.end(), shape.begin(), shape.end());
    return s;
  }();
  Index n = 0;
  Tensor<>::for_each_index(padded, [&](std::span<const Index> idx) {
    flags.data()[n++] = pattern(idx[0], idx[2], idx[3]) ? 1 : 0;
  });
  SdpaOptions o = with_weights();
  o.attn_mask = from_torch_sdpa_mask(flags.view());
  const SdpaOutput r = scaled_dot_product_attention(x.q.view(), x.k.view(), x.v.view(), o);
  const auto naive = naive_attention(x.q, x.k, x.v, 1.0 / std::sqrt(5.0), expected_keep);
  EXPECT_TRUE(all_close(r.output.view(), naive.out.view(), kTol));
  EXPECT_TRUE(all_close(r.weights.view(), naive.weights.view(), kTol));
}

TEST(Sdpa, MasksBroadcastByPyTorchRules) {
  // [L, S] and [1, 1, L, S]: the same mask for every batch element and head (pattern at b = 0).
  expect_broadcast_mask({4, 6}, [](Index, Index, Index i, Index j) { return pattern(0, i, j); });
  expect_broadcast_mask({1, 1, 4, 6}, [](Index, Index, Index i, Index j) { return pattern(0, i, j); });
  // [B, 1, 1, S]: a key mask per batch element (pattern at i = 0).
  expect_broadcast_mask({2, 1, 1, 6}, [](Index b, Index, Index, Index j) { return pattern(b, 0, j); });
  // [S]: one key mask for everything.
  expect_broadcast_mask({6}, [](Index, Index, Index, Index j) { return pattern(0, 0, j); });
  // [B, 1, L, S]: per batch, shared by heads.
  expect_broadcast_mask({2, 1, 4, 6}, [](Index b, Index, Index i, Index j) { return pattern(b, i, j); });
}

TEST(Sdpa, AdditiveMaskBroadcasts) {
  const Inputs x;
  const Tensor<> bias = random_tensor({2, 1, 1, 6}, 7, -3, 3);
  SdpaOptions o = with_weights();
  o.attn_mask = additive_mask(bias.view());
  const SdpaOutput r = scaled_dot_product_attention(x.q.view(), x.k.view(), x.v.view(), o);
  const auto n = naive_attention(x.q, x.k, x.v, 1.0 / std::sqrt(5.0), {},
                                 [&](Index b, Index, Index, Index j) { return double{bias(b, 0, 0, j)}; });
  EXPECT_TRUE(all_close(r.output.view(), n.out.view(), kTol));
}

TEST(Sdpa, TorchMaskAdaptersHaveOppositePolarity) {
  const Inputs x;
  BoolTensor flags({4, 6});
  BoolTensor complement({4, 6});
  for (Index i = 0; i < 4; ++i)
    for (Index j = 0; j < 6; ++j) {
      flags(i, j) = (i + j) % 3 == 0 ? 1 : 0;
      complement(i, j) = flags(i, j) != 0 ? 0 : 1;
    }
  SdpaOptions mha_style = with_weights(), sdpa_style = with_weights(), sdpa_complement = with_weights();
  mha_style.attn_mask = from_torch_mha_mask(flags.view());           // true = blocked
  sdpa_style.attn_mask = from_torch_sdpa_mask(flags.view());         // true = may attend
  sdpa_complement.attn_mask = from_torch_sdpa_mask(complement.view());
  const SdpaOutput blocked = scaled_dot_product_attention(x.q.view(), x.k.view(), x.v.view(), mha_style);
  const SdpaOutput kept = scaled_dot_product_attention(x.q.view(), x.k.view(), x.v.view(), sdpa_style);
  const SdpaOutput kept_complement =
      scaled_dot_product_attention(x.q.view(), x.k.view(), x.v.view(), sdpa_complement);
  EXPECT_EQ(testing::max_abs_diff(blocked.output.view(), kept_complement.output.view()), 0.0);
  EXPECT_GT(testing::max_abs_diff(blocked.output.view(), kept.output.view()), 1e-3);
  for (Index b = 0; b < 2; ++b)
    for (Index h = 0; h < 3; ++h)
      for (Index i = 0; i < 4; ++i)
        for (Index j = 0; j < 6; ++j) {
          const float masked = flags(i, j) != 0 ? blocked.weights(b, h, i, j) : kept.weights(b, h, i, j);
          EXPECT_EQ(masked, 0.0f) << i << " " << j;
        }
}

TEST(Sdpa, ShapeErrors) {
  const Inputs x;
  const Tensor<> q1({5}), q5({1, 2, 3, 4, 5});
  EXPECT_TRUE(throws_error([&] { scaled_dot_product_attention(q1.view(), q1.view(), q1.view()); },
                           {"q: expected shape [L, D], [H, L, D] or [B, H, L, D], got [5]"}));
  EXPECT_TRUE(throws_error([&] { scaled_dot_product_attention(q5.view(), q5.view(), q5.view()); },
                           {"q: expected shape [L, D], [H, L, D] or [B, H, L, D], got [1, 2, 3, 4, 5]"}));
  const Tensor<> k3({3, 6, 5});
  EXPECT_TRUE(throws_error([&] { scaled_dot_product_attention(x.q.view(), k3.view(), x.v.view()); },
                           {"k: expected rank 4", "got [3, 6, 5]"}));
  EXPECT_TRUE(throws_error([&] { scaled_dot_product_attention(x.q.view(), x.k.view(), k3.view()); },
                           {"v: expected rank 4", "got [3, 6, 5]"}));
  const Tensor<> k_d({2, 3, 6, 4});
  EXPECT_TRUE(throws_error([&] { scaled_dot_product_attention(x.q.view(), k_d.view(), x.v.view()); },
                           {"k: expected last dimension 5 (as q), got [2, 3, 6, 4]"}));
  const Tensor<> k_b({1, 3, 6, 5});
  EXPECT_TRUE(throws_error([&] { scaled_dot_product_attention(x.q.view(), k_b.view(), x.v.view()); },
                           {"k: expected batch 2 (as q), got [1, 3, 6, 5]"}));
  const Tensor<> k_h({2, 2, 6, 5});
  EXPECT_TRUE(throws_error([&] { scaled_dot_product_attention(x.q.view(), k_h.view(), x.v.view()); },
                           {"k: expected a head count dividing q's 3, got [2, 2, 6, 5]"}));
  const Tensor<> v_len({2, 3, 5, 7});
  EXPECT_TRUE(throws_error([&] { scaled_dot_product_attention(x.q.view(), x.k.view(), v_len.view()); },
                           {"v: expected the leading dimensions and length of k [2, 3, 6, 5], got [2, 3, 5, 7]"}));
}

TEST(Sdpa, MaskThatDoesNotBroadcastIsRejected) {
  const Inputs x;
  for (const Shape& shape : {Shape{4, 7}, Shape{3, 6}, Shape{3, 1, 1, 6}, Shape{1, 2, 3, 4, 6}}) {
    const BoolTensor flags(shape);
    SdpaOptions o;
    o.attn_mask = keep_mask(flags.view());
    EXPECT_TRUE(throws_error([&] { scaled_dot_product_attention(x.q.view(), x.k.view(), x.v.view(), o); },
                             {"attn_mask: expected a shape broadcastable to [2, 3, 4, 6], got " + shape_str(shape)}));
  }
}

}  // namespace
}  // namespace mha
