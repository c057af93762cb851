// Head ablation (mha/train/head_ablation.hpp): removing a head is zeroing its W_O columns, the loss
// is grouped by relation, a head that writes nothing has Δ = 0 exactly, and bad input is named.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "mha/train/causal_batches.hpp"
#include "mha/train/head_ablation.hpp"
#include "mha/train/trainer.hpp"
#include "testing/expect_error.hpp"

namespace mha::train {
namespace {

using mha::testing::throws_error;

const Context kCtx{.kernel = KernelKind::cpu, .threads = 1};

// A random (untrained) 2-layer model of the attachment language: every head writes something.
Transformer tiny_model(const lang::AttachmentGrammar& grammar, bool causal = false) {
  TransformerConfig c{.vocab_size = grammar.vocabulary().size() + (causal ? 1 : 0),
                      .d_model = 16,
                      .num_heads = 2,
                      .num_layers = 2,
                      .d_ff = 32,
                      .max_length = grammar.max_length() + (causal ? 4 : 0),
                      .norm = NormPlacement::pre,
                      .activation = Activation::gelu,
                      .layer_norm_eps = 1e-5,
                      .causal = causal};
  return Transformer(c, init_parameters(c, 7));
}

AblationOptions few(Index examples = 30) {
  AblationOptions o;
  o.examples = examples;
  return o;
}

// Zeroes columns [h·d, (h+1)·d) of layer l's out_proj.weight in place, written out longhand.
void zero_w_o_columns(TensorStore& params, const Transformer& model, Index layer, Index head) {
  const TransformerConfig& c = model.config();
  const Index d = c.d_model / c.num_heads;
  TensorView<float> w = params[model.tensors().layers[static_cast<std::size_t>(layer)].out_proj_weight];
  for (Index row = 0; row < c.d_model; ++row)
    for (Index col = head * d; col < (head + 1) * d; ++col) w.data()[row * c.d_model + col] = 0.0f;
}

TEST(HeadAblation, AblatingAHeadChangesTheLossAndLeavesTheModelAlone) {
  const lang::AttachmentGrammar grammar;
  const Transformer model = tiny_model(grammar);
  const std::vector<float> before(model.parameters().values().begin(), model.parameters().values().end());
  const HeadAblation a = head_ablation(model, grammar, few(), kCtx);
  ASSERT_EQ(a.heads.size(), 4U);
  EXPECT_EQ(a.num_heads, 2);
  for (const HeadImportance& h : a.heads) {
    ASSERT_EQ(h.delta.size(), a.relations.size());
    EXPECT_NE(h.delta_all, 0.0) << "layer " << h.head.layer << " head " << h.head.head;
    for (const double d : h.delta) EXPECT_TRUE(std::isfinite(d));
  }
  // The model was copied, not changed.
  EXPECT_TRUE(std::equal(before.begin(), before.end(), model.parameters().values().begin()));
  // Deterministic: a second run gives the same numbers, bit for bit.
  const HeadAblation again = head_ablation(model, grammar, few(), kCtx);
  for (std::size_t i = 0; i < a.heads.size(); ++i) EXPECT_EQ(a.heads[i].delta, again.heads[i].delta);
}

TEST(HeadAblation, LossIsGroupedByTheRoleOfTheMaskedWord) {
  const lang::AttachmentGrammar grammar;
  const Transformer model = tiny_model(grammar);
  const HeadAblation a = head_ablation(model, grammar, few(), kCtx);
  // Every third example masks the PP noun; the others a content word, never a determiner.
  const std::optional<Index> pp = a.relation_index("pp_noun");
  ASSERT_TRUE(pp);
  EXPECT_EQ(a.positions[static_cast<std::size_t>(*pp)], 10);
  EXPECT_FALSE(a.relation_index("determiner"));
  EXPECT_FALSE(a.relation_index("end"));
  Index total = 0;
  for (const Index n : a.positions) total += n;
  EXPECT_EQ(total, 30);
  // The full model's loss is the trainer's held-out loss on the same set.
  const Evaluation e = evaluate(model, make_eval_set(grammar, 30, AblationOptions{}.seed), kCtx);
  EXPECT_NEAR(a.base.all, e.loss, 1e-12);
  EXPECT_NEAR(a.base.loss[static_cast<std::size_t>(*pp)], e.two_relation_loss, 1e-12);
}

TEST(HeadAblation, AllHeadsOfALayerIsTheLayerWithWoZeroed) {
  const lang::AttachmentGrammar grammar;
  const Transformer model = tiny_model(grammar);
  const std::vector<HeadRef> layer0 = {{.layer = 0, .head = 0}, {.layer = 0, .head = 1}};
  const Transformer ablated = ablate_heads(model, layer0);
  TensorStore zeroed = model.parameters();
  const TensorView<float> w_o = zeroed[model.tensors().layers[0].out_proj_weight];
  std::fill_n(w_o.data(), w_o.numel(), 0.0f);
  EXPECT_TRUE(std::equal(zeroed.values().begin(), zeroed.values().end(), ablated.parameters().values().begin()));
  const Transformer by_hand(model.config(), std::move(zeroed));
  const AblationSet set = make_ablation_set(model, grammar, few());
  EXPECT_EQ(relation_losses(ablated, set, kCtx).loss, relation_losses(by_hand, set, kCtx).loss);
  // One head at a time touches only its own columns.
  TensorStore one = model.parameters();
  zero_w_o_columns(one, model, 1, 1);
  const Transformer single = ablate_head(model, {.layer = 1, .head = 1});
  EXPECT_TRUE(std::equal(one.values().begin(), one.values().end(), single.parameters().values().begin()));
}

TEST(HeadAblation, AHeadWhoseOutputIsAlreadyZeroHasDeltaExactlyZero) {
  const lang::AttachmentGrammar grammar;
  const Transformer original = tiny_model(grammar);
  TensorStore params = original.parameters();
  zero_w_o_columns(params, original, 1, 0);
  const Transformer model(original.config(), std::move(params));
  const HeadAblation a = head_ablation(model, grammar, few(), kCtx);
  const HeadImportance& dead = a.at(1, 0);
  for (const double d : dead.delta) EXPECT_EQ(d, 0.0);
  EXPECT_EQ(dead.delta_all, 0.0);
  EXPECT_FALSE(dead.carries);
  EXPECT_NE(a.at(1, 1).delta_all, 0.0);
}

TEST(HeadAblation, CarriesIsTheLargestDeltaAboveTheThreshold) {
  const lang::AttachmentGrammar grammar;
  const HeadAblation a = head_ablation(tiny_model(grammar), grammar, few(), kCtx);
  for (const HeadImportance& h : a.heads) {
    const auto top = std::max_element(h.delta.begin(), h.delta.end());
    if (*top >= AblationOptions{}.min_delta) {
      ASSERT_TRUE(h.carries);
      EXPECT_EQ(*h.carries, top - h.delta.begin());
    } else {
      EXPECT_FALSE(h.carries);
    }
  }
  AblationOptions never = few();
  never.min_delta = 1e9;
  for (const HeadImportance& h : head_ablation(tiny_model(grammar), grammar, never, kCtx).heads)
    EXPECT_FALSE(h.carries);
}

TEST(HeadAblation, CausalModelsGroupTheNextTokenLossByItsRole) {
  const lang::AttachmentGrammar grammar;
  const Transformer model = tiny_model(grammar, /*causal=*/true);
  const HeadAblation a = head_ablation(model, grammar, few(12), kCtx);
  EXPECT_TRUE(a.causal);
  ASSERT_TRUE(a.relation_index("end"));
  EXPECT_EQ(a.relations.back(), "end");
  EXPECT_EQ(a.positions[static_cast<std::size_t>(*a.relation_index("end"))], 12);  // one <eos> per sentence
  EXPECT_TRUE(a.relation_index("determiner"));
  EXPECT_TRUE(a.relation_index("verb"));
  // Every predicted token of the held-out streams has a relation.
  const CausalBatch b = causal_eval_batch(grammar, 12, model.config().max_length, AblationOptions{}.seed);
  Index predicted = 0;
  for (const std::int64_t t : b.targets) predicted += t >= 0;
  Index total = 0;
  for (const Index n : a.positions) total += n;
  EXPECT_EQ(total, predicted);
  for (const HeadImportance& h : a.heads) EXPECT_NE(h.delta_all, 0.0);
}

TEST(HeadAblation, BadInputIsNamed) {
  const lang::AttachmentGrammar grammar;
  const Transformer model = tiny_model(grammar);
  EXPECT_TRUE(throws_error([&] { ablate_head(model, {.layer = 2, .head = 0}); }, {"layer", "[0, 2)", "got 2"}));
  EXPECT_TRUE(throws_error([&] { ablate_head(model, {.layer = -1, .head = 0}); }, {"layer"}));
  EXPECT_TRUE(throws_error([&] { ablate_head(model, {.layer = 0, .head = 2}); }, {"head", "[0, 2)"}));
  EXPECT_TRUE(throws_error([&] { head_ablation(model, grammar, few(0), kCtx); }, {"examples", "at least 1"}));
  AblationOptions negative = few();
  negative.min_delta = -1;
  EXPECT_TRUE(throws_error([&] { head_ablation(model, grammar, negative, kCtx); }, {"min_delta"}));
  const HeadAblation a = head_ablation(model, grammar, few(3), kCtx);
  EXPECT_TRUE(throws_error([&] { (void)a.at(2, 0); }, {"layer"}));
  EXPECT_TRUE(throws_error([&] { (void)a.at(0, 5); }, {"head"}));
  // A model of another vocabulary, and a set of a causal model on a masked one.
  TransformerConfig other = model.config();
  other.vocab_size += 3;
  EXPECT_TRUE(throws_error([&] { head_ablation(Transformer(other, init_parameters(other, 1)), grammar, few(), kCtx); },
                           {"model", "vocab_size"}));
  const AblationSet causal_set = make_ablation_set(tiny_model(grammar, true), grammar, few(3));
  EXPECT_TRUE(throws_error([&] { relation_losses(model, causal_set, kCtx); }, {"set", "masked"}));
}

}  // namespace
}  // namespace mha::train
