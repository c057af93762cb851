// The encoder's input contract: optional token types and mask, a fully padded sequence, and the
// errors for bad inputs.
#include <gtest/gtest.h>

#include <cmath>

#include "models/bert_fixture.hpp"
#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

using bert_testing::fixture_dir;

TEST(BertEncoder, AbsentTokenTypesAndMaskMeanZerosAndOnes) {
  const BertModel model = BertModel::load(fixture_dir());
  const Tensor<std::int64_t> ids({1, 4}, {6, 33, 34, 7});
  const Tensor<std::int64_t> zeros({1, 4}), ones({1, 4}, {1, 1, 1, 1});
  const BertOutput bare = model.forward({.input_ids = ids.view()});
  const BertOutput explicit_inputs = model.forward({ids.view(), zeros.view(), ones.view()});
  EXPECT_TRUE(testing::all_close(bare.last_hidden_state.view(),
                                 explicit_inputs.last_hidden_state.view(), 0));
  EXPECT_TRUE(
      testing::all_close(bare.attentions[1].view(), explicit_inputs.attentions[1].view(), 0));
}

// Documented difference from Hugging Face (mha/models/bert.hpp): a sequence that is all padding
// gets attention weights 0 (HF: uniform), and nothing becomes NaN.
TEST(BertEncoder, FullyPaddedSequenceHasZeroWeightsAndNoNaN) {
  const BertModel model = BertModel::load(fixture_dir());
  const Tensor<std::int64_t> ids({2, 3}, {6, 33, 7, 0, 0, 0});
  const Tensor<std::int64_t> mask({2, 3}, {1, 1, 1, 0, 0, 0});
  const BertOutput out = model.forward({.input_ids = ids.view(), .attention_mask = mask.view()});
  for (const Tensor<>& weights : out.attentions) {
    const Index heads = weights.dim(1);
    for (Index h = 0; h < heads; ++h)
      for (Index i = 0; i < 3; ++i)
        for (Index j = 0; j < 3; ++j) EXPECT_EQ(weights(1, h, i, j), 0.0f);
  }
  for (const Tensor<>& hidden : out.hidden_states)
    for (float x : hidden.values()) EXPECT_TRUE(std::isfinite(x));
}

TEST(BertEncoder, RejectsBadInputs) {
  const BertModel model = BertModel::load(fixture_dir());
  const Tensor<std::int64_t> ids({1, 3}, {6, 33, 7});
  const Tensor<std::int64_t> flat({3}, {6, 33, 7});
  EXPECT_TRUE(testing::throws_error([&] { model.forward({.input_ids = flat.view()}); },
                                    {"input_ids: expected shape [B, L]", "got [3]"}));
  const Tensor<std::int64_t> unknown({1, 2}, {6, 100});
  EXPECT_TRUE(testing::throws_error([&] { model.forward({.input_ids = unknown.view()}); },
                                    {"input_ids: expected ids in [0, 100)", "got 100"}));
  const Tensor<std::int64_t> types({1, 3}, {0, 2, 0});
  EXPECT_TRUE(testing::throws_error(
      [&] {
        model.forward({ids.view(), types.view(), {}});
      },
      {"token_type_ids: expected ids in [0, 2)", "got 2"}));
  const Tensor<std::int64_t> mask({1, 3}, {1, 2, 0});
  EXPECT_TRUE(testing::throws_error(
      [&] {
        model.forward({ids.view(), {}, mask.view()});
      },
      {"attention_mask: expected values 0 (padding) or 1 (attend)", "got 2 at [0, 1]"}));
  const Tensor<std::int64_t> short_mask({1, 2}, {1, 1});
  EXPECT_TRUE(testing::throws_error(
      [&] {
        model.forward({ids.view(), {}, short_mask.view()});
      },
      {"attention_mask: expected shape [1, 3] (like input_ids)", "got [1, 2]"}));
  const Tensor<std::int64_t> too_long({1, 65});
  EXPECT_TRUE(testing::throws_error(
      [&] { model.forward({.input_ids = too_long.view()}); },
      {"input_ids: expected at most max_position_embeddings = 64 tokens", "got 65"}));
}

}  // namespace
}  // namespace mha
