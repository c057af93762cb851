// The queries and keys a layer hands back give back its own attention: softmax(scale · q·k)
// equals the weights the layer returns, for the tiny BERT fixture and for a GQA layer; and the
// viewer's checks of what it is given.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>

#include "mha/core/error.hpp"
#include "mha/models/bert.hpp"
#include "mha/viz/query_key.hpp"
#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"

namespace mha::viz {
namespace {

using testing::throws_error;

// Row-wise softmax of [H, L, S] scores, in double.
Tensor<> softmax_rows(Tensor<> scores) {
  const Index columns = scores.dim(-1);
  for (float* row = scores.data(); row < scores.data() + scores.numel(); row += columns) {
    const double max = *std::max_element(row, row + columns);
    double total = 0;
    for (Index j = 0; j < columns; ++j) total += std::exp(double(row[j]) - max);
    for (Index j = 0; j < columns; ++j)
      row[j] = static_cast<float>(std::exp(double(row[j]) - max) / total);
  }
  return scores;
}

TEST(QueryKey, SoftmaxOfScoresIsTheBertAttention) {
  const BertModel model = BertModel::load(std::filesystem::path(MHA_FIXTURES_DIR) / "bert_tiny");
  const Index length = 7, e = model.config().hidden_size,
              heads = model.config().num_attention_heads;
  Tensor<std::int64_t> ids({1, length},
                           {6, 41, 44, 46, 41, 49, 7});  // [CLS] the man saw the astronaut [SEP]
  const BertOutput out =
      model.forward({.input_ids = ids.view()}, {.output_attentions = true, .output_query_key = true});
  const std::vector<QueryKey> layers = query_key_per_layer(out.queries, out.keys);
  ASSERT_EQ(layers.size(), model.layers().size());
  for (std::size_t n = 0; n < layers.size(); ++n) {
    EXPECT_EQ(layers[n].queries.shape(), (Shape{heads, length, e / heads}));
    EXPECT_DOUBLE_EQ(layers[n].scale, 1.0 / std::sqrt(double(e / heads)));
    const Tensor<> weights = softmax_rows(attention_scores(layers[n]));
    EXPECT_TRUE(testing::all_close(weights.view(),
                                   out.attentions[n].view_as({heads, length, length}), 1e-5))
        << "layer " << n;
  }
  // Not asked for: not computed.
  EXPECT_TRUE(model.forward({.input_ids = ids.view()}).queries.empty());
}

TEST(QueryKey, GroupedQueryHeadsShareTheirKeys) {
  const MultiHeadAttention layer =
      MultiHeadAttention::random({.embed_dim = 16, .num_heads = 4, .num_kv_heads = 2}, 7);
  Tensor<> x({5, 16});
  for (Index i = 0; i < x.numel(); ++i) x.data()[i] = std::sin(0.37F * float(i));
  MhaOptions options;
  options.need_weights = true;
  options.average_attn_weights = false;
  options.need_query_key = true;
  const MhaOutput out = layer.forward(x.view(), x.view(), x.view(), options);
  ASSERT_EQ(out.keys.shape(), (Shape{2, 5, 4}));  // unbatched: [Hkv, S, D]
  const QueryKey qk = query_key_of(out.queries.view(), out.keys.view());
  // Heads 0 and 1 read kv head 0; heads 2 and 3 read kv head 1.
  for (Index i = 0; i < 5; ++i)
    for (Index d = 0; d < 4; ++d) {
      EXPECT_EQ(qk.keys(0, i, d), out.keys(0, i, d));
      EXPECT_EQ(qk.keys(1, i, d), out.keys(0, i, d));
      EXPECT_EQ(qk.keys(2, i, d), out.keys(1, i, d));
      EXPECT_EQ(qk.keys(3, i, d), out.keys(1, i, d));
    }
  EXPECT_TRUE(
      testing::all_close(softmax_rows(attention_scores(qk)).view(), out.weights.view(), 1e-5));
}

TEST(QueryKey, ShapesThatCannotBeHeadsAreErrorsNamingTheArgument) {
  const Tensor<> q({4, 5, 8}), k({2, 5, 8});
  EXPECT_TRUE(throws_error([&] { (void)query_key_of(Tensor<>({5, 8}).view(), k.view()); },
                           {"queries: expected shape [H, L, D], got [5, 8]"}));
  EXPECT_TRUE(throws_error([&] { (void)query_key_of(q.view(), Tensor<>({2, 5, 4}).view()); },
                           {"keys: expected shape [Hkv, S, 8] (D of queries), got [2, 5, 4]"}));
  EXPECT_TRUE(throws_error([&] { (void)query_key_of(q.view(), Tensor<>({3, 5, 8}).view()); },
                           {"keys: expected a number of heads dividing the queries' 4, got 3"}));
  const std::vector<Tensor<>> queries = {Tensor<>({1, 4, 5, 8})}, keys = {Tensor<>({1, 2, 5, 8})};
  EXPECT_TRUE(throws_error([&] { (void)query_key_per_layer(queries, {}); },
                           {"keys: expected 1 layers (like queries), got 0"}));
  EXPECT_TRUE(throws_error([&] { (void)query_key_per_layer(queries, keys, 1); },
                           {"batch_index: expected in [0, 1), got 1"}));
  EXPECT_TRUE(throws_error([&] { (void)query_key_per_layer({q}, {k}); },
                           {"queries[0]: expected shape [B, H, L, D], got [4, 5, 8]"}));
  EXPECT_EQ(query_key_per_layer(queries, keys).size(), 1u);
}

}  // namespace
}  // namespace mha::viz
