// Two promises of the attention contract the layer builds on:
// - out may be q itself: every kernel reads a query row before it writes that row's output;
// - a lent workspace changes nothing but where the scratch lives, whatever it held before.
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "attention_cpu_problem.hpp"
#include "mha/core/workspace.hpp"

namespace mha::testing {
namespace {

void expect_identical(const Tensor<>& actual, const Tensor<>& expected, const char* what) {
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  for (Index n = 0; n < actual.numel(); ++n)
    ASSERT_EQ(actual.data()[n], expected.data()[n]) << what << " element " << n;
}

class AttentionOutOverQueries : public ::testing::TestWithParam<KernelKind> {};

TEST_P(AttentionOutOverQueries, GivesTheOutOfPlaceResult) {
  // GQA, causal, padded rows (odd strides), lengths across two query tiles; d = dv.
  Problem p({.batch = 2, .heads = 4, .kv_heads = 2, .lq = 150, .lk = 150, .d = 16, .dv = 16,
             .causal = true, .pad = 3});
  const Problem::Result expected = p.run(GetParam());

  std::vector<float> rows = p.q_store;  // q, then out written over it
  const TensorView<float> q_and_out = p.heads_view(rows.data(), p.spec.lq, p.spec.heads, p.spec.d);
  Tensor<> weights(p.mask_shape());
  Tensor<> lse({p.spec.batch, p.spec.heads, p.spec.lq});
  attention({.q = q_and_out, .k = p.k(), .v = p.v(), .out = q_and_out, .weights = weights.view(),
             .lse = lse.view(), .params = p.params},
            Context{GetParam(), 0});
  expect_identical(Tensor<>::copy_of(q_and_out), expected.out, "out");
  expect_identical(weights, expected.weights, "weights");
  expect_identical(lse, expected.lse, "lse");
}

INSTANTIATE_TEST_SUITE_P(Kernels, AttentionOutOverQueries,
                         ::testing::Values(KernelKind::reference, KernelKind::cpu),
                         [](const ::testing::TestParamInfo<KernelKind>& param_info) {
                           return std::string(kernel_name(param_info.param));
                         });

// Fills every slot with NaN, so a kernel that read scratch it had not written would show it.
void poison(Workspace& ws, Index floats) {
  for (const auto slot : {Workspace::Slot::packed_keys, Workspace::Slot::packed_values}) {
    float* p = ws.get<float>(slot, floats);
    for (Index n = 0; n < floats; ++n) p[n] = std::numeric_limits<float>::quiet_NaN();
  }
  std::uint8_t* flags = ws.get<std::uint8_t>(Workspace::Slot::value_flags, floats);
  for (Index n = 0; n < floats; ++n) flags[n] = 1;
}

TEST(AttentionCpuWorkspace, ReusedAcrossShapesGivesTheSameResults) {
  // Padded rows (values packed), then dense rows (values read in place), larger and smaller.
  const ProblemSpec specs[] = {
      {.heads = 2, .kv_heads = 1, .lq = 100, .lk = 300, .d = 24, .dv = 20, .pad = 1},
      {.batch = 2, .heads = 2, .kv_heads = 2, .lq = 40, .lk = 77, .d = 16, .dv = 16},
      {.heads = 4, .kv_heads = 2, .lq = 200, .lk = 520, .d = 32, .dv = 32, .causal = true, .pad = 5},
  };
  Workspace ws;
  poison(ws, 1 << 16);
  for (const ProblemSpec& spec : specs) {
    Problem p(spec);
    const Problem::Result fresh = p.run(KernelKind::cpu);
    Tensor<> weights(p.mask_shape());
    Tensor<> lse({spec.batch, spec.heads, spec.lq});
    Context ctx{KernelKind::cpu, 0};
    ctx.workspace = &ws;
    attention({.q = p.q(), .k = p.k(), .v = p.v(), .out = p.out(), .weights = weights.view(),
               .lse = lse.view(), .params = p.params},
              ctx);
    expect_identical(Tensor<>::copy_of(p.out()), fresh.out, "out");
    expect_identical(weights, fresh.weights, "weights");
    expect_identical(lse, fresh.lse, "lse");
  }
  EXPECT_GT(ws.reserved_bytes(), 0u);
}

}  // namespace
}  // namespace mha::testing
