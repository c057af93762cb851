// Embedding: row lookup for any id shape, strided ids, and the out-of-range error.
#include <gtest/gtest.h>

#include <cstdint>

#include "mha/layers/embedding.hpp"
#include "testing/expect_error.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

TEST(EmbeddingLayer, LooksUpRows) {
  const Tensor<> table = testing::random_tensor({5, 3}, 1);
  const Embedding embedding(table);
  EXPECT_EQ(embedding.num_embeddings(), 5);
  EXPECT_EQ(embedding.embedding_dim(), 3);
  const Tensor<std::int64_t> ids({2, 2}, {4, 0, 2, 4});
  const Tensor<> out = embedding.forward(ids.view());
  ASSERT_EQ(out.shape(), (Shape{2, 2, 3}));
  for (Index b = 0; b < 2; ++b)
    for (Index l = 0; l < 2; ++l)
      for (Index d = 0; d < 3; ++d) EXPECT_EQ(out(b, l, d), table(ids(b, l), d));
}

TEST(EmbeddingLayer, ReadsBroadcastIds) {
  const Embedding embedding(testing::random_tensor({4, 2}, 2));
  const Tensor<std::int64_t> positions({3}, {0, 1, 2});
  // [2, 3] ids through a stride-0 batch dimension: both rows are 0, 1, 2.
  const Tensor<> out =
      embedding.forward(TensorView<const std::int64_t>(positions.data(), {2, 3}, {0, 1}));
  for (Index l = 0; l < 3; ++l)
    for (Index d = 0; d < 2; ++d) EXPECT_EQ(out(0, l, d), out(1, l, d));
}

TEST(EmbeddingLayer, RejectsIdsOutOfRange) {
  const Embedding embedding(Tensor<>({5, 3}));
  const Tensor<std::int64_t> ids({3}, {1, 5, 0});
  EXPECT_TRUE(
      testing::throws_error([&] { embedding.forward(ids.view(), "input_ids"); },
                            {"input_ids: expected ids in [0, 5)", "got 5 at flat position 1"}));
  const Tensor<std::int64_t> negative({1}, {-1});
  EXPECT_TRUE(testing::throws_error([&] { embedding.forward(negative.view()); }, {"got -1"}));
  EXPECT_TRUE(
      testing::throws_error([] { Embedding(Tensor<>({5})); }, {"table: expected a rank-2"}));
}

}  // namespace
}  // namespace mha
