// The trained model behind the Encoder interface: its tensors are named once and live in one
// store the layers view (an update of the store is what the next call computes with), encode()
// hands back every layer's weights, attention inputs, queries and keys, and bad input is named.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "mha/models/transformer.hpp"
#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

TransformerConfig small_config(NormPlacement norm) {
  return {.vocab_size = 7, .d_model = 8, .num_heads = 2, .num_layers = 2, .d_ff = 12,
          .max_length = 8, .norm = norm, .activation = Activation::gelu};
}

struct Input {
  Tensor<std::int64_t> ids{{2, 5}, {1, 2, 3, 4, 5, 6, 5, 4, 3, 0}};
  Tensor<std::int64_t> mask{{2, 5}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 0}};
  EncoderInput view() const { return {.input_ids = ids.view(), .attention_mask = mask.view()}; }
};

TEST(TransformerTensors, EveryTensorIsNamedOnceInStateDictStyle) {
  const TransformerTensors t = transformer_tensors(small_config(NormPlacement::pre));
  const TensorLayout& layout = *t.layout;
  EXPECT_EQ(layout.entry(t.embedding).name, "embedding.weight");
  EXPECT_EQ(layout.entry(t.layers[1].in_proj_weight).name, "layers.1.self_attn.in_proj_weight");
  EXPECT_EQ(layout.entry(t.layers[1].in_proj_weight).shape, (Shape{24, 8}));
  EXPECT_EQ(layout.entry(t.layers[0].linear2_weight).shape, (Shape{8, 12}));
  EXPECT_EQ(layout.entry(t.final_norm_weight).name, "final_norm.weight");
  EXPECT_EQ(layout.entry(t.lm_head_bias).name, "lm_head.bias");
  // 7·8 + 2·(24·8 + 24 + 64 + 8 + 12·8 + 12 + 8·12 + 8 + 4·8) + 2·8 + 7·8 + 7
  EXPECT_EQ(layout.parameter_count(), 56 + 2 * (192 + 24 + 64 + 8 + 96 + 12 + 96 + 8 + 32) + 16 + 56 + 7);
  EXPECT_EQ(parameter_count(small_config(NormPlacement::pre)), layout.parameter_count());
  const TransformerTensors post = transformer_tensors(small_config(NormPlacement::post));
  EXPECT_EQ(post.final_norm_weight, -1);
  EXPECT_FALSE(post.layout->find("final_norm.weight"));
}

TEST(Transformer, EncodeHandsBackWhatEachLayerComputed) {
  for (const NormPlacement norm : {NormPlacement::pre, NormPlacement::post}) {
    const Transformer model(small_config(norm), init_parameters(small_config(norm), 3));
    const Encoder& encoder = model;
    const Input in;
    const EncoderOutput out = encoder.encode(in.view(), {.output_hidden_states = true,
                                                         .output_attentions = true, .output_query_key = true});
    ASSERT_EQ(out.hidden_states.size(), 3u);
    ASSERT_EQ(out.attention_inputs.size(), 2u);
    ASSERT_EQ(out.attentions.size(), 2u);
    ASSERT_EQ(out.queries.size(), 2u);
    EXPECT_EQ(out.attentions[0].shape(), (Shape{2, 2, 5, 5}));
    EXPECT_EQ(out.queries[1].shape(), (Shape{2, 2, 5, 4}));
    EXPECT_EQ(out.last_hidden_state.shape(), (Shape{2, 5, 8}));
    if (norm == NormPlacement::post)  // post-LN: the attention reads the hidden state itself
      EXPECT_TRUE(testing::all_close(out.attention_inputs[1].view(), out.hidden_states[1].view(), 0));
    else  // pre-LN: LN₁ of it, a row of mean 0 (γ = 1, β = 0 at initialisation)
      for (Index k = 0; k < 5; ++k) {
        double mean = 0;
        for (Index x = 0; x < 8; ++x) mean += out.attention_inputs[0](1, k, x);
        EXPECT_NEAR(mean / 8, 0.0, 1e-6);
      }
    for (Index h = 0; h < 2; ++h)
      for (Index i = 0; i < 5; ++i) {
        double sum = 0;
        for (Index j = 0; j < 5; ++j) sum += out.attentions[1](1, h, i, j);
        EXPECT_NEAR(sum, 1.0, 1e-5);
        EXPECT_EQ(out.attentions[1](1, h, i, 4), 0.0f);  // the padded key
      }
    // The weights come from the same call's queries and keys: softmax_j(q·k_j / √D).
    double scores[5], total = 0;
    for (Index j = 0; j < 5; ++j) {
      double dot = 0;
      for (Index x = 0; x < 4; ++x) dot += double{out.queries[0](0, 1, 2, x)} * out.keys[0](0, 1, j, x);
      scores[j] = std::exp(dot / 2.0);
      total += scores[j];
    }
    for (Index j = 0; j < 5; ++j) EXPECT_NEAR(out.attentions[0](0, 1, 2, j), scores[j] / total, 1e-5);
    const TransformerOutput full = model.forward(in.view());
    EXPECT_TRUE(testing::all_close(full.last_hidden_state.view(), out.last_hidden_state.view(), 0));
    EXPECT_EQ(full.logits.shape(), (Shape{2, 5, 7}));
    const EncoderOutput lean = encoder.encode(in.view(), {.output_hidden_states = false, .output_attentions = false});
    EXPECT_TRUE(lean.hidden_states.empty() && lean.attentions.empty() && lean.queries.empty());
    EXPECT_TRUE(testing::all_close(lean.last_hidden_state.view(), out.last_hidden_state.view(), 0));
  }
}

TEST(Transformer, LayersViewTheStoreSoAnUpdateIsSeenAndCopiesAreIndependent) {
  const TransformerConfig config = small_config(NormPlacement::pre);
  Transformer model(config, init_parameters(config, 3));
  const Transformer copy = model;
  const Input in;
  const Tensor<> before = model.forward(in.view()).logits;
  TensorView<float> bias = model.mutable_parameters().at("lm_head.bias");
  bias(3) += 1.5f;  // what an optimizer step does
  const Tensor<> after = model.forward(in.view()).logits;
  for (Index b = 0; b < 2; ++b)
    for (Index i = 0; i < 5; ++i) {
      EXPECT_NEAR(after(b, i, 3) - before(b, i, 3), 1.5f, 1e-5);
      EXPECT_EQ(after(b, i, 2), before(b, i, 2));
    }
  EXPECT_TRUE(testing::all_close(copy.forward(in.view()).logits.view(), before.view(), 0));
}

TEST(Transformer, BackwardWritesEveryGradientAndRefusesAnotherLayout) {
  const TransformerConfig config = small_config(NormPlacement::post);
  const Transformer model(config, init_parameters(config, 3));
  const Input in;
  TransformerTape tape;
  const TransformerOutput out = model.forward(in.view(), {.output_attentions = false}, {}, &tape);
  Tensor<> grad_logits(out.logits.shape());
  grad_logits(0, 0, 1) = 1;  // d logit[0, 0, 1]
  TensorStore grads = model.zero_gradients();
  for (float& g : grads.values()) g = 1e30f;  // every tensor must be overwritten
  model.backward(tape, grad_logits.view(), grads, {});
  for (Index t = 0; t < grads.size(); ++t)
    for (Index i = 0; i < grads[t].numel(); ++i)
      ASSERT_LT(std::fabs(grads[t].data()[i]), 1e3f) << grads.layout().entry(t).name;
  EXPECT_EQ(grads.at("lm_head.bias")(1), 1.0f);  // d logit / d bias
  TensorStore other = init_parameters(small_config(NormPlacement::pre), 1);
  EXPECT_TRUE(testing::throws_error([&] { model.backward(tape, grad_logits.view(), other, {}); },
                                    {"final_norm.weight: expected no such tensor in this model, got an extra tensor"}));
}

TEST(Transformer, BadInputConfigAndParametersAreNamed) {
  TransformerConfig config = small_config(NormPlacement::pre);
  config.num_heads = 3;
  EXPECT_TRUE(testing::throws_error([&] { validate(config); }, {"num_heads: expected a divisor of d_model 8, got 3"}));
  config.num_heads = 2;
  const Transformer model(config, init_parameters(config, 1));
  const Tensor<std::int64_t> long_ids({1, 9}), bad_id({1, 2}, {1, 7});
  EXPECT_TRUE(testing::throws_error([&] { (void)model.forward({.input_ids = long_ids.view()}); },
                                    {"input_ids: expected at most max_length 8 positions, got 9"}));
  EXPECT_TRUE(testing::throws_error([&] { (void)model.forward({.input_ids = bad_id.view()}); },
                                    {"input_ids: expected ids in [0, 7)", "got 7"}));
  EXPECT_TRUE(testing::throws_error(
      [&] { (void)model.forward({.input_ids = bad_id.view(), .token_type_ids = bad_id.view()}); },
      {"token_type_ids: expected none (this model has no segments)"}));
  // A store of another config's layout: the first tensor that differs is named, whether it comes
  // through the constructor or is assigned later.
  Transformer replaced = model;
  replaced.mutable_parameters() = init_parameters(small_config(NormPlacement::post), 1);
  EXPECT_TRUE(testing::throws_error([&] { (void)replaced.forward({.input_ids = bad_id.view()}); },
                                    {"final_norm.weight: expected a tensor of shape [8], got missing"}));
  config.d_ff = 16;
  EXPECT_TRUE(testing::throws_error([&] { Transformer(small_config(NormPlacement::pre), init_parameters(config, 1)); },
                                    {"layers.0.linear1.weight: expected shape [12, 8], got [16, 8]"}));
}

}  // namespace
}  // namespace mha
