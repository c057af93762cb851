// Recomputed queries and keys give back the layer's own attention: softmax(scale · q·k) equals the
// weights the layer returns, for the tiny BERT fixture and for a GQA layer with separate weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>

#include "mha/core/error.hpp"
#include "mha/models/bert.hpp"
#include "mha/viz/query_key.hpp"
#include "testing/allclose.hpp"

namespace mha::viz {
namespace {

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
  const BertOutput out = model.forward({.input_ids = ids.view()});
  for (std::size_t n = 0; n < model.layers().size(); ++n) {
    const QueryKey qk =
        project_query_key(model.layers()[n].attention, out.hidden_states[n].view_as({length, e}));
    EXPECT_EQ(qk.queries.shape(), (Shape{heads, length, e / heads}));
    EXPECT_DOUBLE_EQ(qk.scale, 1.0 / std::sqrt(double(e / heads)));
    const Tensor<> weights = softmax_rows(attention_scores(qk));
    EXPECT_TRUE(testing::all_close(weights.view(),
                                   out.attentions[n].view_as({heads, length, length}), 1e-5))
        << "layer " << n;
  }
}

TEST(QueryKey, GroupedQueryHeadsShareTheirKeys) {
  const MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = 16,
                                                               .num_heads = 4,
                                                               .num_kv_heads = 2,
                                                               .kdim = 0,
                                                               .vdim = 0,
                                                               .bias = true,
                                                               .add_bias_kv = false,
                                                               .add_zero_attn = false,
                                                               .batch_first = false},
                                                              7);
  Tensor<> x({5, 16});
  for (Index i = 0; i < x.numel(); ++i) x.data()[i] = std::sin(0.37F * float(i));
  MhaOptions options;
  options.need_weights = true;
  options.average_attn_weights = false;
  const MhaOutput expected = layer.forward(x.view(), x.view(), x.view(), options);
  const QueryKey qk = project_query_key(layer, x.view());
  // Heads 0 and 1 read kv head 0; heads 2 and 3 read kv head 1.
  for (Index i = 0; i < 5; ++i)
    for (Index d = 0; d < 4; ++d) {
      EXPECT_EQ(qk.keys(0, i, d), qk.keys(1, i, d));
      EXPECT_EQ(qk.keys(2, i, d), qk.keys(3, i, d));
    }
  EXPECT_TRUE(
      testing::all_close(softmax_rows(attention_scores(qk)).view(), expected.weights.view(), 1e-5));
}

TEST(QueryKey, RejectsInputsAndLayersItCannotProject) {
  const MultiHeadAttention layer = MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2}, 1);
  EXPECT_THROW(project_query_key(layer, Tensor<>({3, 4}).view()), Error);
  EXPECT_THROW(project_query_key(layer, Tensor<>({1, 3, 8}).view()), Error);
  const MultiHeadAttention biased =
      MultiHeadAttention::random({.embed_dim = 8, .num_heads = 2, .add_bias_kv = true}, 1);
  EXPECT_THROW(project_query_key(biased, Tensor<>({3, 8}).view()), Error);
}

}  // namespace
}  // namespace mha::viz
