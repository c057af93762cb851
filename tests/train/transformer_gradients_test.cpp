// The whole model's gradients: for every parameter tensor T and a random ±1 direction u_T, the
// analytic directional derivative ⟨∇_T L, u_T⟩ against the central difference
// (L(θ + h·u_T) − L(θ − h·u_T)) / 2h, with the float64 reference kernels. Truncation error is
// O(h²) and rounding O(u·L/h); with h = 3·10⁻³ both stay below 10⁻⁴, while a wrong gradient
// (missing term, wrong transpose, wrong factor) is off by O(1) relative.
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "mha/train/transformer.hpp"

namespace mha::train {
namespace {

struct Problem {
  Tensor<std::int64_t> ids{{2, 5}}, targets{{2, 5}};
  Tensor<std::uint8_t> padding{{2, 5}};
  Batch batch() const { return {ids.view(), padding.view(), targets.view()}; }
};

Problem make_problem(Index vocab) {
  Problem p;
  std::mt19937 rng(7);
  for (Index b = 0; b < 2; ++b)
    for (Index i = 0; i < 5; ++i) {
      p.ids(b, i) = static_cast<std::int64_t>(rng() % static_cast<std::uint32_t>(vocab));
      p.targets(b, i) = i % 2 == 0 ? static_cast<std::int64_t>(rng() % static_cast<std::uint32_t>(vocab)) : -1;
    }
  p.padding(1, 4) = 1;  // the second sentence is one token shorter
  p.targets(1, 4) = -1;
  return p;
}

TransformerConfig small_config(NormPlacement norm) {
  return {.vocab_size = 7, .d_model = 8, .num_heads = 2, .num_layers = 2, .d_ff = 12,
          .max_length = 8, .norm = norm, .activation = Activation::gelu};
}

class TransformerGradients : public ::testing::TestWithParam<NormPlacement> {};

TEST_P(TransformerGradients, EveryTensorMatchesCentralDifferences) {
  const TransformerConfig config = small_config(GetParam());
  const Problem problem = make_problem(config.vocab_size);
  Transformer model(config, init_parameters(config, 3));
  const Context ctx{.kernel = KernelKind::reference};
  const Transformer::LossAndGradients analytic = model.loss_and_gradients(problem.batch(), {}, ctx);
  ASSERT_GT(analytic.predicted, 0);
  ASSERT_EQ(analytic.gradients.size(), model.parameters().size());

  std::mt19937 rng(11);
  const double h = 3e-3;
  for (const auto& [name, grad] : analytic.gradients) {
    std::vector<float> direction(static_cast<std::size_t>(grad.numel()));
    double expected = 0;
    for (Index i = 0; i < grad.numel(); ++i) {
      direction[static_cast<std::size_t>(i)] = rng() % 2 ? 1.0f : -1.0f;
      expected += static_cast<double>(grad.data()[i]) * direction[static_cast<std::size_t>(i)];
    }
    auto loss_at = [&](double step) {
      Transformer moved = model;
      Tensor<>& t = moved.mutable_parameters().at(name);
      for (Index i = 0; i < t.numel(); ++i)
        t.data()[i] += static_cast<float>(step * direction[static_cast<std::size_t>(i)]);
      return moved.loss_and_gradients(problem.batch(), {}, ctx).loss;
    };
    const double fd = (loss_at(h) - loss_at(-h)) / (2 * h);
    EXPECT_NEAR(expected, fd, 2e-3 * std::fabs(fd) + 2e-4) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Norms, TransformerGradients,
                         ::testing::Values(NormPlacement::pre, NormPlacement::post),
                         [](const auto& p) { return p.param == NormPlacement::pre ? "PreLN" : "PostLN"; });

TEST(TransformerGradients, PaddedKeysAndUnpredictedRowsContributeNothing) {
  const TransformerConfig config = small_config(NormPlacement::pre);
  Problem problem = make_problem(config.vocab_size);
  const Transformer model(config, init_parameters(config, 3));
  const Context ctx{.kernel = KernelKind::reference};
  const double before = model.loss_and_gradients(problem.batch(), {}, ctx).loss;
  problem.ids(1, 4) = (problem.ids(1, 4) + 1) % config.vocab_size;  // change the padded token
  EXPECT_DOUBLE_EQ(model.loss_and_gradients(problem.batch(), {}, ctx).loss, before);
}

TEST(TransformerGradients, CpuKernelsAgreeWithTheReference) {
  const TransformerConfig config = small_config(NormPlacement::post);
  const Problem problem = make_problem(config.vocab_size);
  const Transformer model(config, init_parameters(config, 5));
  const auto ref = model.loss_and_gradients(problem.batch(), {}, {.kernel = KernelKind::reference});
  const auto cpu = model.loss_and_gradients(problem.batch(), {}, {.kernel = KernelKind::cpu, .threads = 2});
  EXPECT_NEAR(cpu.loss, ref.loss, 1e-5 * ref.loss);
  for (const auto& [name, g] : ref.gradients) {
    const Tensor<>& other = cpu.gradients.at(name);
    double scale = 0;
    for (const float x : g.values()) scale = std::max(scale, static_cast<double>(std::fabs(x)));
    for (Index i = 0; i < g.numel(); ++i)
      ASSERT_NEAR(other.data()[i], g.data()[i], 1e-4 * scale + 1e-7) << name << " element " << i;
  }
}

TEST(Transformer, ForwardReturnsEveryLayersHeadsAndRowsSumToOne) {
  const TransformerConfig config = small_config(NormPlacement::pre);
  const Problem problem = make_problem(config.vocab_size);
  const Transformer model(config, init_parameters(config, 3));
  const EncoderOutput out = model.forward(problem.batch(), {.attention = true});
  ASSERT_EQ(out.attention.size(), 2u);
  ASSERT_EQ(out.hidden_states.size(), 3u);
  EXPECT_EQ(out.attention[0].shape(), (Shape{2, 2, 5, 5}));
  EXPECT_EQ(out.logits.shape(), (Shape{2, 5, 7}));
  for (Index h = 0; h < 2; ++h)
    for (Index i = 0; i < 5; ++i) {
      double sum = 0;
      for (Index j = 0; j < 5; ++j) sum += out.attention[1](1, h, i, j);
      EXPECT_NEAR(sum, 1.0, 1e-5);
      EXPECT_EQ(out.attention[1](1, h, i, 4), 0.0f);  // the padded key
    }
}

TEST(Transformer, BadConfigAndParametersAreNamed) {
  TransformerConfig config = small_config(NormPlacement::pre);
  config.num_heads = 3;
  EXPECT_THROW(validate(config), Error);
  config.num_heads = 2;
  Parameters params = init_parameters(config, 1);
  params.erase("layers.1.linear2.bias");
  try {
    Transformer model(config, params);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layers.1.linear2.bias"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mha::train
