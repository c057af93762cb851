// MultiHeadAttention::forward input validation: every error names the input, the expected and
// the actual shape.
#include <limits>

#include <gtest/gtest.h>

#include "mha/layers/multi_head_attention.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

using testing::throws_error;

// E = 8, H = 2, kdim = 6, vdim = 5; L = 3, B = 2, S = 4 in the default (L, B, E) layout.
struct CrossAttention {
  MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2, .kdim = 6, .vdim = 5}, 3);
  Tensor<> query{{3, 2, 8}}, key{{4, 2, 6}}, value{{4, 2, 5}};
  MhaOutput run(const MhaOptions& options = {}) const {
    return layer.forward(query.view(), key.view(), value.view(), options);
  }
};

TEST(MhaForwardErrors, ValidInputsRun) {
  const CrossAttention x;
  const MhaOutput out = x.run();
  EXPECT_EQ(out.output.shape(), (Shape{3, 2, 8}));
  EXPECT_FALSE(out.weights.defined());
}

TEST(MhaForwardErrors, QueryRank) {
  const CrossAttention x;
  const Tensor<> q1({8}), q4({1, 3, 2, 8});
  EXPECT_TRUE(throws_error([&] { x.layer.forward(q1.view(), x.key.view(), x.value.view()); },
                           {"query: expected shape (L, B, E) or unbatched (L, E), got [8]"}));
  EXPECT_TRUE(throws_error([&] { x.layer.forward(q4.view(), x.key.view(), x.value.view()); },
                           {"query: expected shape (L, B, E) or unbatched (L, E), got [1, 3, 2, 8]"}));
  const MultiHeadAttention batch_first =
      MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2, .batch_first = true}, 3);
  EXPECT_TRUE(throws_error([&] { batch_first.forward(q1.view(), q1.view(), q1.view()); },
                           {"query: expected shape (B, L, E) or unbatched (L, E), got [8]"}));
}

TEST(MhaForwardErrors, KeyAndValueRankFollowQuery) {
  const CrossAttention x;
  const Tensor<> k2({4, 6}), v2({4, 5}), q2({3, 8});
  EXPECT_TRUE(throws_error([&] { x.layer.forward(x.query.view(), k2.view(), x.value.view()); },
                           {"key: expected a rank-3 (batched, like query) tensor, got [4, 6]"}));
  EXPECT_TRUE(throws_error([&] { x.layer.forward(x.query.view(), x.key.view(), v2.view()); },
                           {"value: expected a rank-3 (batched, like query) tensor, got [4, 5]"}));
  EXPECT_TRUE(throws_error([&] { x.layer.forward(q2.view(), x.key.view(), v2.view()); },
                           {"key: expected a rank-2 (unbatched, like query) tensor, got [4, 2, 6]"}));
  EXPECT_TRUE(throws_error([&] { x.layer.forward(x.query.view(), {}, x.value.view()); },
                           {"key: expected a rank-3 (batched, like query) tensor, got []"}));
}

TEST(MhaForwardErrors, LastDimensions) {
  const CrossAttention x;
  const Tensor<> q({3, 2, 7}), k({4, 2, 8}), v({4, 2, 6});
  EXPECT_TRUE(throws_error([&] { x.layer.forward(q.view(), x.key.view(), x.value.view()); },
                           {"query: expected last dimension embed_dim = 8, got [3, 2, 7]"}));
  EXPECT_TRUE(throws_error([&] { x.layer.forward(x.query.view(), k.view(), x.value.view()); },
                           {"key: expected last dimension kdim = 6, got [4, 2, 8]"}));
  EXPECT_TRUE(throws_error([&] { x.layer.forward(x.query.view(), x.key.view(), v.view()); },
                           {"value: expected last dimension vdim = 5, got [4, 2, 6]"}));
}

TEST(MhaForwardErrors, ViewWithoutData) {
  const CrossAttention x;
  const TensorView<const float> no_data(nullptr, {4, 2, 6});
  EXPECT_TRUE(throws_error([&] { x.layer.forward(x.query.view(), no_data, x.value.view()); },
                           {"key: expected data, got a null pointer"}));
}

TEST(MhaForwardErrors, KeyAndValueBatchAndLength) {
  const CrossAttention x;
  const Tensor<> k_batch({4, 3, 6}), v_len({5, 2, 5}), v_batch({4, 1, 5});
  EXPECT_TRUE(throws_error([&] { x.layer.forward(x.query.view(), k_batch.view(), x.value.view()); },
                           {"key: expected batch size 2 (from query), got [4, 3, 6]"}));
  EXPECT_TRUE(throws_error([&] { x.layer.forward(x.query.view(), x.key.view(), v_len.view()); },
                           {"value: expected batch size and length of key [4, 2, 6], got [5, 2, 5]"}));
  EXPECT_TRUE(throws_error([&] { x.layer.forward(x.query.view(), x.key.view(), v_batch.view()); },
                           {"value: expected batch size and length of key [4, 2, 6], got [4, 1, 5]"}));
}

TEST(MhaForwardErrors, KeyPaddingMaskShape) {
  const CrossAttention x;
  const BoolTensor wrong({2, 3}), transposed({4, 2}), flat({4});
  for (const BoolTensor* m : {&wrong, &transposed, &flat}) {
    MhaOptions o;
    o.key_padding_mask = block_mask(m->view());
    EXPECT_TRUE(throws_error([&] { x.run(o); },
                             {"key_padding_mask: expected shape [2, 4], got " + shape_str(m->shape())}));
  }
  MhaOptions o;
  o.key_padding_mask = block_mask({});
  EXPECT_TRUE(throws_error([&] { x.run(o); }, {"key_padding_mask: expected shape [2, 4], got []"}));
  // Unbatched: (S).
  const Tensor<> q({3, 8}), k({4, 6}), v({4, 5});
  o.key_padding_mask = block_mask(wrong.view());
  EXPECT_TRUE(throws_error([&] { x.layer.forward(q.view(), k.view(), v.view(), o); },
                           {"key_padding_mask: expected shape [4], got [2, 3]"}));
}

TEST(MhaForwardErrors, AttnMaskShape) {
  const CrossAttention x;
  const Tensor<> wrong({3, 5}), wrong3({2, 3, 4}), rank4({2, 2, 3, 4});
  for (const Tensor<>* m : {&wrong, &wrong3, &rank4}) {
    MhaOptions o;
    o.attn_mask = additive_mask(m->view());
    EXPECT_TRUE(throws_error([&] { x.run(o); },
                             {"attn_mask: expected shape [3, 4] or [4, 3, 4]", "got " + shape_str(m->shape())}));
  }
  // Unbatched: (L, S) or (H, L, S).
  const Tensor<> q({3, 8}), k({4, 6}), v({4, 5});
  MhaOptions o;
  o.attn_mask = additive_mask(wrong3.view());
  // [2, 3, 4] is (H, L, S) for H = 2: accepted.
  EXPECT_NO_THROW(x.layer.forward(q.view(), k.view(), v.view(), o));
  const Tensor<> four_heads({4, 3, 4});
  o.attn_mask = additive_mask(four_heads.view());
  EXPECT_TRUE(throws_error([&] { x.layer.forward(q.view(), k.view(), v.view(), o); },
                           {"attn_mask: expected shape [3, 4] or [2, 3, 4]", "got [4, 3, 4]"}));
}

TEST(MhaForwardErrors, WindowBelowMinusOne) {
  const CrossAttention x;
  MhaOptions o;
  o.window_left = -5;
  EXPECT_TRUE(throws_error([&] { x.run(o); }, {"window_left: expected -1 (unlimited) or >= 0, got -5"}));
}

TEST(MhaForwardErrors, NonFiniteScale) {
  const CrossAttention x;
  MhaOptions o;
  o.scale = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(throws_error([&] { x.run(o); }, {"scale: expected a finite number"}));
}

}  // namespace
}  // namespace mha
