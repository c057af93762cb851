// Two promises of the attention contract the layer builds on:
// - out may be q itself: every kernel reads a query row before it writes that row's output;
// - a lent workspace changes nothing but where the scratch lives, whatever it held before.
#include <vector>

#include <gtest/gtest.h>

#include "attention_cpu_problem.hpp"
#include "mha/core/workspace.hpp"
#include "testing/poisoned_workspace.hpp"

namespace mha::testing {
namespace {

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
  EXPECT_TRUE(bit_identical(q_and_out, expected.out.view())) << "out";
  EXPECT_TRUE(bit_identical(weights.view(), expected.weights.view())) << "weights";
  EXPECT_TRUE(bit_identical(lse.view(), expected.lse.view())) << "lse";
}

INSTANTIATE_TEST_SUITE_P(Kernels, AttentionOutOverQueries,
                         ::testing::Values(KernelKind::reference, KernelKind::cpu),
                         [](const ::testing::TestParamInfo<KernelKind>& param_info) {
                           return std::string(kernel_name(param_info.param));
                         });

TEST(AttentionCpuWorkspace, ReusedAcrossShapesGivesTheSameResults) {
  // Padded rows (values packed), then dense rows (values read in place), larger and smaller.
  const ProblemSpec specs[] = {
      {.heads = 2, .kv_heads = 1, .lq = 100, .lk = 300, .d = 24, .dv = 20, .pad = 1},
      {.batch = 2, .heads = 2, .kv_heads = 2, .lq = 40, .lk = 77, .d = 16, .dv = 16},
      {.heads = 4, .kv_heads = 2, .lq = 200, .lk = 520, .d = 32, .dv = 32, .causal = true, .pad = 5},
  };
  Workspace ws;
  poison(ws, Index{4} << 16);  // 64 Ki floats per slot: more than any problem below needs
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
    EXPECT_TRUE(bit_identical(p.out(), fresh.out.view())) << "out";
    EXPECT_TRUE(bit_identical(weights.view(), fresh.weights.view())) << "weights";
    EXPECT_TRUE(bit_identical(lse.view(), fresh.lse.view())) << "lse";
  }
  EXPECT_GT(ws.reserved_bytes(), 0u);
}

}  // namespace
}  // namespace mha::testing
