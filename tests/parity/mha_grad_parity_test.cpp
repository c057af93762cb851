// MultiHeadAttention's backward against PyTorch 1.13 autograd (scripts/make_grad_fixtures.py):
// every weight, bias and input gradient of nn.MultiheadAttention, for random configurations with
// masks, causality, bias_kv, zero_attn and kdim/vdim, within |Δ| ≤ 1e-4·max(1, |ref|).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mha/io/safetensors.hpp"
#include "mha/layers/multi_head_attention_backward.hpp"
#include "parity/fixture_suite.hpp"
#include "parity/parity_case.hpp"

namespace mha {
namespace {

using parity::load_parity_case;
using parity::ParityCase;

constexpr double kRelativeTolerance = 1e-4;  // the bound, relative to max(1, |ref|)
constexpr std::size_t kMinimumCases = 50;

std::vector<std::string> grad_fixture_files() {
  return parity::fixture_files(std::filesystem::path(MHA_FIXTURES_DIR) / "grad", "grad_");
}

// Worst |Δ| / max(1, |ref|) per gradient over the whole run, printed at the end.
parity::WorstReport* const kReport =
    parity::add_worst_report("", [](const std::string& name, double error) {
      std::printf("[ grad parity ] worst |Δ|/max(1,|ref|) %-20s %.3g\n", name.c_str(), error);
    });

// Checks |actual − expected| ≤ 1e-4·max(1, |expected|) element-wise, naming the worst element.
void expect_close(const Tensor<>& actual, const Tensor<>& expected, const std::string& name,
                  const std::string& kernel) {
  ASSERT_TRUE(actual.defined()) << name << " missing";
  ASSERT_EQ(actual.shape(), expected.shape()) << name;
  double worst = 0.0;
  Index worst_at = 0;
  for (Index n = 0; n < actual.numel(); ++n) {
    const double ref = expected.values()[static_cast<std::size_t>(n)];
    const double got = actual.values()[static_cast<std::size_t>(n)];
    const double error = std::abs(got - ref) / std::max(1.0, std::abs(ref));
    if (!(error <= worst)) {  // also catches NaN
      worst = std::isnan(error) ? INFINITY : error;
      worst_at = n;
    }
  }
  kReport->record(name + " (" + kernel + ")", worst);
  EXPECT_LE(worst, kRelativeTolerance)
      << name << " [" << kernel << "] at flat index " << worst_at << ": got "
      << actual.values()[static_cast<std::size_t>(worst_at)] << ", PyTorch "
      << expected.values()[static_cast<std::size_t>(worst_at)];
}

class MhaGradParity : public ::testing::TestWithParam<std::string> {};

TEST_P(MhaGradParity, GradientsMatchAutograd) {
  const ParityCase c = load_parity_case(GetParam());
  SCOPED_TRACE(c.describe());
  const SafetensorsFile file = SafetensorsFile::open(GetParam());
  const Tensor<> grad_output = file.read_f32("grad_output");
  const MultiHeadAttention layer(c.config, c.weights);
  // The same tensor object where torch got one (self-attention, key = value), as users call it.
  const TensorView<const float> query = c.query.view();
  const TensorView<const float> key = c.self_attention ? query : c.key.view();
  const TensorView<const float> value = c.self_attention || c.key_is_value ? key : c.value.view();

  for (const KernelKind kind : {KernelKind::reference, KernelKind::cpu}) {
    const Context ctx{.kernel = kind, .threads = 1};
    const std::string kernel(kernel_name(kind));
    MhaTape saved;
    const MhaOutput out = layer.forward(query, key, value, c.options(), ctx, &saved);
    expect_close(out.output, c.expected.at("expected.output"), "output", kernel);
    const MhaGradients g = backward(layer, saved, grad_output.view(), ctx);
    const std::map<std::string, const Tensor<>*> ours = {{"in_proj_weight", &g.in_proj_weight},
                                                         {"q_proj_weight", &g.q_proj_weight},
                                                         {"k_proj_weight", &g.k_proj_weight},
                                                         {"v_proj_weight", &g.v_proj_weight},
                                                         {"in_proj_bias", &g.in_proj_bias},
                                                         {"out_proj.weight", &g.out_proj_weight},
                                                         {"out_proj.bias", &g.out_proj_bias},
                                                         {"bias_k", &g.bias_k},
                                                         {"bias_v", &g.bias_v},
                                                         {"query", &g.d_query},
                                                         {"key", &g.d_key},
                                                         {"value", &g.d_value}};
    std::size_t compared = 0;
    for (const auto& [name, tensor] : ours) {
      const std::string stored = "grad." + name;
      if (!file.contains(stored)) {
        EXPECT_FALSE(tensor->defined()) << name << " has a gradient but the layer has no " << name;
        continue;
      }
      expect_close(*tensor, file.read_f32(stored), name, kernel);
      ++compared;
    }
    EXPECT_GE(compared, 5u);  // 3 inputs, out_proj.weight and at least one input projection
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MhaGradParity, ::testing::ValuesIn(grad_fixture_files()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return std::filesystem::path(param_info.param).stem().string();
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MhaGradParity);

TEST(MhaGradParityFixtures, AtLeastFiftyCases) {
  EXPECT_GE(grad_fixture_files().size(), kMinimumCases) << "run scripts/make_grad_fixtures.py";
}

}  // namespace
}  // namespace mha
