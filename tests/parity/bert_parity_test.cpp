// Tier 3 of ../shared/numerics.md: the whole encoder against a PyTorch model. The tiny random
// BERT of scripts/make_bert_fixture.py (float64 PyTorch reference, Hugging Face conventions) is
// loaded from its checkpoint folder; every hidden state and every head's attention must match
// within 1e-4 absolute, for the reference kernel and the fast CPU kernel when it is built.
// Each layer is also checked in isolation (fed the expected input), in stage order, so a failure
// names the first stage that diverges.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <string>

#include "models/bert_fixture.hpp"
#include "testing/allclose.hpp"

namespace mha {
namespace {

using bert_testing::fixture_dir;
using bert_testing::FixtureInputs;

constexpr double kAtol = 1e-4;  // numerics.md, tier 3 (fp32)

class BertParity : public ::testing::TestWithParam<KernelKind> {
 protected:
  Context ctx() const { return {.kernel = GetParam()}; }
};

// Compares and remembers the worst |Δ| of one kind of tensor for the summary line.
struct Worst {
  double hidden = 0, attention = 0, stage = 0;
};

void expect_close(const Tensor<>& actual, const Tensor<>& expected, const std::string& what,
                  double& worst) {
  EXPECT_TRUE(testing::all_close(actual.view(), expected.view(), kAtol)) << what;
  worst = std::fmax(worst, testing::max_abs_diff(actual.view(), expected.view()));
}

TEST_P(BertParity, HiddenStatesAndEveryHeadsAttentionMatchPyTorch) {
  const BertModel model = BertModel::load(fixture_dir());
  const SafetensorsFile expected = SafetensorsFile::open(fixture_dir() / "expected.safetensors");
  const FixtureInputs inputs = FixtureInputs::load(expected);
  const BertOutput out = model.forward(inputs.input(), {}, ctx());

  const Index layers = model.config().num_hidden_layers;
  ASSERT_EQ(static_cast<Index>(out.hidden_states.size()), layers + 1);
  ASSERT_EQ(static_cast<Index>(out.attentions.size()), layers);
  Worst worst;
  for (Index n = 0; n <= layers; ++n) {
    const std::string name = "hidden_states." + std::to_string(n);
    expect_close(out.hidden_states[static_cast<std::size_t>(n)], expected.read_f32(name), name,
                 worst.hidden);
  }
  for (Index n = 0; n < layers; ++n) {
    const std::string name = "attentions." + std::to_string(n);
    const Tensor<> want = expected.read_f32(name);
    ASSERT_EQ(out.attentions[static_cast<std::size_t>(n)].shape(), want.shape()) << name;
    expect_close(out.attentions[static_cast<std::size_t>(n)], want, name, worst.attention);
  }
  EXPECT_TRUE(testing::all_close(out.last_hidden_state.view(), out.hidden_states.back().view(), 0));
  std::cout << "[ bert_tiny ] kernel " << kernel_name(GetParam()) << ": worst |Δ| hidden states "
            << worst.hidden << ", attention " << worst.attention << " (tolerance " << kAtol
            << ")\n";
}

TEST_P(BertParity, EachLayerStageMatchesGivenTheExpectedInput) {
  const BertModel model = BertModel::load(fixture_dir());
  const SafetensorsFile expected = SafetensorsFile::open(fixture_dir() / "expected.safetensors");
  const FixtureInputs inputs = FixtureInputs::load(expected);
  BoolTensor padding(inputs.attention_mask.shape());
  for (Index i = 0; i < padding.numel(); ++i)
    padding.data()[i] = inputs.attention_mask.data()[i] == 0;
  MhaOptions options;
  options.key_padding_mask = block_mask(padding.view());

  Worst worst;
  for (std::size_t n = 0; n < model.layers().size(); ++n) {
    const BertLayer& layer = model.layers()[n];
    const std::string at = "layers." + std::to_string(n) + ".";
    const Tensor<> h = expected.read_f32("hidden_states." + std::to_string(n));
    const MhaOutput attended =
        layer.attention.forward(h.view(), h.view(), h.view(), options, ctx());
    expect_close(attended.output, expected.read_f32(at + "attention_output"),
                 at + "attention_output", worst.stage);
    const Tensor<> u = layer.attention_norm.forward(attended.output.view(), h.view());
    expect_close(u, expected.read_f32(at + "attention_norm"), at + "attention_norm", worst.stage);
    const Tensor<> ffn = layer.feed_forward.forward(u.view(), ctx());
    expect_close(layer.output_norm.forward(ffn.view(), u.view()),
                 expected.read_f32("hidden_states." + std::to_string(n + 1)), at + "output",
                 worst.stage);
  }
  std::cout << "[ bert_tiny ] kernel " << kernel_name(GetParam())
            << ": worst |Δ| of a single layer stage " << worst.stage << "\n";
}

TEST_P(BertParity, OutputsCanBeLeftOut) {
  const BertModel model = BertModel::load(fixture_dir());
  const SafetensorsFile expected = SafetensorsFile::open(fixture_dir() / "expected.safetensors");
  const FixtureInputs inputs = FixtureInputs::load(expected);
  const BertOutput out = model.forward(
      inputs.input(), {.output_hidden_states = false, .output_attentions = false}, ctx());
  EXPECT_TRUE(out.hidden_states.empty());
  EXPECT_TRUE(out.attentions.empty());
  EXPECT_TRUE(testing::all_close(
      out.last_hidden_state.view(),
      expected.read_f32("hidden_states." + std::to_string(model.config().num_hidden_layers)).view(),
      kAtol));
}

INSTANTIATE_TEST_SUITE_P(Kernels, BertParity,
                         ::testing::Values(KernelKind::reference, KernelKind::cpu),
                         [](const ::testing::TestParamInfo<KernelKind>& param) {
                           return std::string(kernel_name(param.param));
                         });

}  // namespace
}  // namespace mha
