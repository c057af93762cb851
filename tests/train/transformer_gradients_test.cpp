// The whole model's gradients: for every parameter tensor T and a random ±1 direction u_T, the
// analytic directional derivative ⟨∇_T L, u_T⟩ against the central difference
// (L(θ + h·u_T) − L(θ − h·u_T)) / 2h, with the float64 reference kernels. Truncation error is
// O(h²) and rounding O(u·L/h); with h = 3·10⁻³ both stay below 10⁻⁴, while a wrong gradient
// (missing term, wrong transpose, wrong factor) is off by O(1) relative.
#include <cmath>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "mha/train/loss_and_gradients.hpp"
#include "testing/directional_gradients.hpp"

namespace mha::train {
namespace {

struct Problem {
  Tensor<std::int64_t> ids{{2, 5}}, targets{{2, 5}}, attention_mask{{2, 5}};
  Batch batch() const {
    return {.input = {.input_ids = ids.view(), .attention_mask = attention_mask.view()}, .targets = targets.view()};
  }
};

Problem make_problem(Index vocab) {
  Problem p;
  std::mt19937 rng(7);
  for (Index b = 0; b < 2; ++b)
    for (Index i = 0; i < 5; ++i) {
      p.ids(b, i) = static_cast<std::int64_t>(rng() % static_cast<std::uint32_t>(vocab));
      p.targets(b, i) = i % 2 == 0 ? static_cast<std::int64_t>(rng() % static_cast<std::uint32_t>(vocab)) : -1;
    }
  for (std::int64_t& m : p.attention_mask.values()) m = 1;
  p.attention_mask(1, 4) = 0;  // the second sentence is one token shorter
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
  const LossAndGradients analytic = loss_and_gradients(model, problem.batch(), {}, ctx);
  ASSERT_GT(analytic.predicted, 0);
  ASSERT_EQ(analytic.gradients.size(), model.parameters().size());

  mha::testing::expect_directional_gradients(model, analytic.gradients, [&](const Transformer& moved) {
    return loss_and_gradients(moved, problem.batch(), {}, ctx).loss;
  });
}

INSTANTIATE_TEST_SUITE_P(Norms, TransformerGradients,
                         ::testing::Values(NormPlacement::pre, NormPlacement::post),
                         [](const auto& p) { return p.param == NormPlacement::pre ? "PreLN" : "PostLN"; });

TEST(TransformerGradients, PaddedKeysAndUnpredictedRowsContributeNothing) {
  const TransformerConfig config = small_config(NormPlacement::pre);
  Problem problem = make_problem(config.vocab_size);
  const Transformer model(config, init_parameters(config, 3));
  const Context ctx{.kernel = KernelKind::reference};
  const double before = loss_and_gradients(model, problem.batch(), {}, ctx).loss;
  problem.ids(1, 4) = (problem.ids(1, 4) + 1) % config.vocab_size;  // change the padded token
  EXPECT_DOUBLE_EQ(loss_and_gradients(model, problem.batch(), {}, ctx).loss, before);
}

TEST(TransformerGradients, CpuKernelsAgreeWithTheReference) {
  const TransformerConfig config = small_config(NormPlacement::post);
  const Problem problem = make_problem(config.vocab_size);
  const Transformer model(config, init_parameters(config, 5));
  const auto ref = loss_and_gradients(model, problem.batch(), {}, {.kernel = KernelKind::reference});
  const auto cpu = loss_and_gradients(model, problem.batch(), {}, {.kernel = KernelKind::cpu, .threads = 2});
  EXPECT_NEAR(cpu.loss, ref.loss, 1e-5 * ref.loss);
  for (Index tensor = 0; tensor < ref.gradients.size(); ++tensor) {
    const TensorView<const float> g = std::as_const(ref.gradients)[tensor], other = std::as_const(cpu.gradients)[tensor];
    const std::string& name = ref.gradients.layout().entry(tensor).name;
    double scale = 0;
    for (Index i = 0; i < g.numel(); ++i) scale = std::max(scale, static_cast<double>(std::fabs(g.data()[i])));
    for (Index i = 0; i < g.numel(); ++i)
      ASSERT_NEAR(other.data()[i], g.data()[i], 1e-4 * scale + 1e-7) << name << " element " << i;
  }
}

}  // namespace
}  // namespace mha::train
