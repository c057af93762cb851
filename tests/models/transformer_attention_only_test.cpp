// The attention-only Transformer (d_ff = 0): blocks without feed-forward sublayer and LN₂, so
//   pre-LN  x' = x + MHA(LN₁(x))      post-LN  x' = LN₁(x + MHA(x)).
// Its config validates, its layout declares no linear1/linear2/norm2, its forward is the hand
// composition of the layers, its backward matches central differences, decode() equals the causal
// forward, and the config and a checkpoint round-trip with d_ff 0.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "mha/io/safetensors.hpp"
#include "mha/layers/embedding.hpp"
#include "mha/layers/positional_encoding.hpp"
#include "mha/models/transformer.hpp"
#include "mha/train/checkpoint.hpp"
#include "testing/allclose.hpp"
#include "testing/directional_gradients.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

TransformerConfig attention_only(NormPlacement norm, bool causal = false) {
  return {.vocab_size = 7, .d_model = 8, .num_heads = 2, .num_layers = 2, .d_ff = 0,
          .max_length = 8, .norm = norm, .activation = Activation::gelu, .causal = causal};
}

struct Input {
  Tensor<std::int64_t> ids{{2, 5}, {1, 2, 3, 4, 5, 6, 5, 4, 3, 0}};
  Tensor<std::int64_t> mask{{2, 5}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 0}};
  EncoderInput view() const { return {.input_ids = ids.view(), .attention_mask = mask.view()}; }
};

Weight param(const Transformer& model, const std::string& name) {
  return Weight::borrowed(model.parameters().at(name));
}

TEST(AttentionOnlyConfig, ZeroIsValidAndNegativeIsNamed) {
  TransformerConfig config = attention_only(NormPlacement::pre);
  EXPECT_NO_THROW(validate(config));
  config.d_ff = -1;
  EXPECT_TRUE(testing::throws_error([&] { validate(config); },
                                    {"d_ff: expected >= 0 (0: attention only, no feed-forward), got -1"}));
  EXPECT_TRUE(testing::throws_error([&] { (void)transformer_tensors(config); }, {"d_ff", "got -1"}));
}

TEST(AttentionOnlyTensors, NoFeedForwardOrSecondNormAndTheCountIsTheLayouts) {
  for (const NormPlacement norm : {NormPlacement::pre, NormPlacement::post}) {
    const TransformerConfig config = attention_only(norm);
    const TransformerTensors t = transformer_tensors(config);
    const TensorLayout& layout = *t.layout;
    Index elements = 0;
    for (Index i = 0; i < layout.size(); ++i) {
      const std::string& name = layout.entry(i).name;
      EXPECT_EQ(name.find("linear1"), std::string::npos) << name;
      EXPECT_EQ(name.find("linear2"), std::string::npos) << name;
      EXPECT_EQ(name.find("norm2"), std::string::npos) << name;
      Index numel = 1;
      for (const Index dim : layout.entry(i).shape) numel *= dim;
      elements += numel;
    }
    ASSERT_EQ(t.layers.size(), 2u);
    for (const TransformerBlockTensors& b : t.layers) {
      EXPECT_EQ(b.linear1_weight, -1);
      EXPECT_EQ(b.linear1_bias, -1);
      EXPECT_EQ(b.linear2_weight, -1);
      EXPECT_EQ(b.linear2_bias, -1);
      EXPECT_EQ(b.norm2_weight, -1);
      EXPECT_EQ(b.norm2_bias, -1);
      EXPECT_EQ(layout.entry(b.norm1_weight).shape, (Shape{8}));
    }
    EXPECT_TRUE(layout.find("layers.1.norm1.bias"));
    // 7·8 embedding + 2·(24·8 + 24 + 8·8 + 8 + 2·8) blocks + (pre-LN) 2·8 final norm + 7·8 + 7 head
    const Index expected = 56 + 2 * (192 + 24 + 64 + 8 + 16) + (norm == NormPlacement::pre ? 16 : 0) + 56 + 7;
    EXPECT_EQ(elements, expected);
    EXPECT_EQ(layout.parameter_count(), expected);
    EXPECT_EQ(parameter_count(config), expected);
  }
}

// The model's forward composed by hand from the layers: x⁰ = E[ids]·√d + PE, the blocks of the
// header's formulas, LN_f (pre-LN) and the head.
Tensor<> hand_forward(const Transformer& model, const Input& in) {
  const TransformerConfig& c = model.config();
  Tensor<> x = Embedding(param(model, "embedding.weight")).forward(in.ids.view());
  for (Index b = 0; b < x.dim(0); ++b)
    for (Index i = 0; i < x.dim(1); ++i)
      for (Index k = 0; k < c.d_model; ++k)
        x(b, i, k) = static_cast<float>(x(b, i, k) * std::sqrt(static_cast<double>(c.d_model)) +
                                        sinusoidal_position(i, k, c.d_model));
  BoolTensor padding = padding_flags(in.mask.view());
  MhaOptions options;
  options.need_weights = false;
  options.key_padding_mask = block_mask(padding.view());
  for (Index l = 0; l < c.num_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    MhaWeights w;
    w.in_proj_weight = param(model, p + "self_attn.in_proj_weight");
    w.in_proj_bias = param(model, p + "self_attn.in_proj_bias");
    w.out_proj_weight = param(model, p + "self_attn.out_proj.weight");
    w.out_proj_bias = param(model, p + "self_attn.out_proj.bias");
    const MultiHeadAttention attention({.embed_dim = c.d_model, .num_heads = c.num_heads, .batch_first = true},
                                       std::move(w));
    const LayerNorm norm1(param(model, p + "norm1.weight"), param(model, p + "norm1.bias"), c.layer_norm_eps);
    if (c.norm == NormPlacement::pre) {
      const Tensor<> ln = norm1.forward(x.view());
      const Tensor<> a = attention.forward(ln.view(), ln.view(), ln.view(), options).output;
      for (Index i = 0; i < x.numel(); ++i) x.data()[i] += a.data()[i];  // x + MHA(LN₁(x))
    } else {
      const Tensor<> a = attention.forward(x.view(), x.view(), x.view(), options).output;
      x = norm1.forward(x.view(), a.view());  // LN₁(x + MHA(x))
    }
  }
  if (c.norm == NormPlacement::pre)
    x = LayerNorm(param(model, "final_norm.weight"), param(model, "final_norm.bias"), c.layer_norm_eps)
            .forward(x.view());
  return Linear(param(model, "lm_head.weight"), param(model, "lm_head.bias")).forward(x.view());
}

TEST(AttentionOnlyTransformer, ForwardIsTheHandCompositionAndDiffersFromTheFeedForwardModel) {
  for (const NormPlacement norm : {NormPlacement::pre, NormPlacement::post}) {
    const TransformerConfig config = attention_only(norm);
    const Transformer model(config, init_parameters(config, 3));
    const Input in;
    const TransformerOutput out = model.forward(in.view(), {.output_hidden_states = false, .output_attentions = false});
    ASSERT_EQ(out.logits.shape(), (Shape{2, 5, 7}));
    for (const float v : out.logits.values()) ASSERT_TRUE(std::isfinite(v));
    // The same layers on the same weights in the same order: equal up to a few ulps.
    EXPECT_TRUE(testing::all_close(out.logits.view(), hand_forward(model, in).view(), 1e-5, 1e-5));

    TransformerConfig with_ffn = config;
    with_ffn.d_ff = 12;
    const Transformer ffn_model(with_ffn, init_parameters(with_ffn, 3));
    EXPECT_GT(testing::max_abs_diff(ffn_model.forward(in.view()).logits.view(), out.logits.view()), 1e-3);
  }
}

// Backward against central differences, as tests/train/transformer_gradients_test.cpp does: for
// every tensor T and a random ±1 direction u_T, ⟨∇_T L, u_T⟩ vs (L(θ + h·u_T) − L(θ − h·u_T)) / 2h
// with the float64 reference kernels. Here L = Σ r ⊙ logits for fixed random r (so dL/d logits = r),
// of order 1: truncation O(h²) and rounding O(u·L/h) both stay below 10⁻⁴, while a missing or
// wrong term is off by O(1) relative.
struct GradientCase {
  NormPlacement norm;
  bool causal;
};

class AttentionOnlyGradients : public ::testing::TestWithParam<GradientCase> {};

TEST_P(AttentionOnlyGradients, EveryTensorMatchesCentralDifferences) {
  const TransformerConfig config = attention_only(GetParam().norm, GetParam().causal);
  const Transformer model(config, init_parameters(config, 3));
  const Input in;
  const Context ctx{.kernel = KernelKind::reference};
  Tensor<> r({2, 5, 7});
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(-0.2f, 0.2f);
  for (float& v : r.values()) v = uniform(rng);
  auto loss_of = [&](const Transformer& m) {
    const Tensor<> logits = m.forward(in.view(), {.output_hidden_states = false, .output_attentions = false}, ctx).logits;
    double loss = 0;
    for (Index i = 0; i < logits.numel(); ++i) loss += static_cast<double>(logits.data()[i]) * r.data()[i];
    return loss;
  };

  TransformerTape tape;
  (void)model.forward(in.view(), {.output_hidden_states = false, .output_attentions = false}, ctx, &tape);
  TensorStore grads = model.zero_gradients();
  for (float& g : grads.values()) g = 1e30f;  // every tensor must be overwritten
  model.backward(tape, r.view(), grads, ctx);

  mha::testing::expect_directional_gradients(model, std::as_const(grads),
                                             [&](const Transformer& moved) { return loss_of(moved); });
}

INSTANTIATE_TEST_SUITE_P(NormsAndMasks, AttentionOnlyGradients,
                         ::testing::Values(GradientCase{NormPlacement::pre, false},
                                           GradientCase{NormPlacement::post, false},
                                           GradientCase{NormPlacement::pre, true},
                                           GradientCase{NormPlacement::post, true}),
                         [](const auto& param_info) {
                           return std::string(param_info.param.norm == NormPlacement::pre ? "Pre" : "Post") +
                                  (param_info.param.causal ? "Causal" : "Encoder");
                         });

TEST(AttentionOnlyTransformer, DecodeGivesTheCausalForward) {
  for (const NormPlacement norm : {NormPlacement::pre, NormPlacement::post}) {
    const TransformerConfig config = attention_only(norm, /*causal=*/true);
    const Transformer model(config, init_parameters(config, 5));
    const Tensor<std::int64_t> ids({1, 8}, {1, 4, 2, 6, 0, 3, 5, 2});
    const Context ref{KernelKind::reference, 0};
    const Tensor<> full = model.forward({.input_ids = ids.view()}, {.output_hidden_states = false,
                                                                     .output_attentions = false}, ref).logits;
    TransformerCache cache = model.make_cache(1, 8);
    Tensor<> stepped({1, 8, 7});
    Index at = 0;
    for (const Index n : {3, 1, 2, 1, 1}) {
      const Tensor<> logits = model.decode(TensorView<const std::int64_t>(ids.data() + at, {1, n}), cache, {}, ref);
      std::copy_n(logits.data(), n * 7, stepped.data() + at * 7);
      at += n;
    }
    EXPECT_EQ(cache.length(0), 8);
    EXPECT_TRUE(testing::all_close(stepped.view(), full.view(), 1e-5));
  }
}

TEST(AttentionOnlyTransformer, ConfigJsonAndCheckpointRoundTrip) {
  const TransformerConfig config = attention_only(NormPlacement::post, /*causal=*/true);
  const std::string json = config_to_json(config);
  EXPECT_NE(json.find("\"d_ff\":0"), std::string::npos) << json;
  EXPECT_EQ(config_from_json(json).d_ff, 0);
  EXPECT_EQ(config_to_json(config_from_json(json)), json);

  train::Checkpoint saved;
  saved.config = config;
  saved.parameters = init_parameters(config, 9);
  saved.vocabulary = {"[PAD]", "[MASK]", "a", "b", "c", "d", "e"};
  saved.step = 3;
  const train::Checkpoint loaded =
      train::load_checkpoint(SafetensorsFile::from_bytes(train::checkpoint_bytes(saved)));
  EXPECT_EQ(loaded.config.d_ff, 0);
  EXPECT_EQ(config_to_json(loaded.config), json);
  ASSERT_TRUE(loaded.parameters.layout() == saved.parameters.layout());
  for (Index i = 0; i < saved.parameters.size(); ++i)
    EXPECT_TRUE(testing::bit_identical(std::as_const(loaded.parameters)[i], std::as_const(saved.parameters)[i]))
        << saved.parameters.layout().entry(i).name;
  // A model built from the loaded checkpoint runs.
  const Transformer model(loaded.config, loaded.parameters);
  const Input in;
  EXPECT_EQ(model.forward({.input_ids = in.ids.view()}).logits.shape(), (Shape{2, 5, 7}));
}

}  // namespace
}  // namespace mha
