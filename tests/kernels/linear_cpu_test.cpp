// oneDNN linear against the float64 reference, under the tier-2 rule with a plain fp32 loop as
// the naive implementation; contiguous, strided (sequence-first) and packed-fallback views.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "mha/core/workspace.hpp"
#include "mha/kernels/linear.hpp"
#include "testing/allclose.hpp"

namespace mha::testing {
namespace {

Tensor<> random_tensor(Shape shape, std::uint32_t seed) {
  Tensor<> t(std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& x : t.values()) x = u(rng);
  return t;
}

Tensor<> naive_linear(const LinearArgs& a) {
  Tensor<> y({a.x.dim(0), a.x.dim(1), a.weight.dim(0)});
  for (Index b = 0; b < a.x.dim(0); ++b)
    for (Index r = 0; r < a.x.dim(1); ++r)
      for (Index o = 0; o < a.weight.dim(0); ++o) {
        float acc = 0.0f;
        for (Index i = 0; i < a.x.dim(2); ++i) acc += a.x(b, r, i) * a.weight(o, i);
        y(b, r, o) = acc + (a.bias.defined() ? a.bias(o) : 0.0f);
      }
  return y;
}

// Runs reference and cpu on x (any view) and checks the rule.
void expect_linear_meets_rule(TensorView<const float> x, const Tensor<>& w, const Tensor<>* bias) {
  const Shape y_shape = {x.dim(0), x.dim(1), w.dim(0)};
  Tensor<> ref(y_shape), cpu(y_shape);
  LinearArgs args{x, w.view(), bias ? bias->view() : TensorView<const float>{}, ref.view()};
  linear(args, Context{KernelKind::reference, 0});
  args.y = cpu.view();
  linear(args, Context{KernelKind::cpu, 0});
  const Tensor<> naive = naive_linear(args);
  const double err_cpu = max_abs_diff(cpu.view(), ref.view());
  const double err_naive = max_abs_diff(naive.view(), ref.view());
  double magnitude = 0;
  for (float v : ref.values()) magnitude = std::max(magnitude, static_cast<double>(std::abs(v)));
  EXPECT_LE(err_cpu, 2.0 * err_naive + 4.0 * std::numeric_limits<float>::epsilon() * magnitude)
      << "naive error " << err_naive;
}

TEST(LinearCpu, ContiguousShapesWithAndWithoutBias) {
  for (auto [b, r, in, out] : {std::array<Index, 4>{1, 1, 1, 1}, {2, 7, 17, 33}, {3, 64, 64, 192}, {1, 129, 300, 5}}) {
    SCOPED_TRACE(std::to_string(b) + "," + std::to_string(r) + "," + std::to_string(in) + "," + std::to_string(out));
    const Tensor<> x = random_tensor({b, r, in}, 1), w = random_tensor({out, in}, 2), bias = random_tensor({out}, 3);
    expect_linear_meets_rule(x.view(), w, &bias);
    expect_linear_meets_rule(x.view(), w, nullptr);
    expect_linear_meets_rule(x.view(), w, &bias);  // second call: cached primitive
  }
}

TEST(LinearCpu, SequenceFirstAndPaddedViews) {
  // (L, B, E) storage read as [B, L, E]: rows are not one matrix, so x is packed.
  const Tensor<> seq_first = random_tensor({9, 3, 24}, 4);
  const TensorView<const float> x(seq_first.data(), {3, 9, 24}, {24, 72, 1});
  const Tensor<> w = random_tensor({40, 24}, 5), bias = random_tensor({40}, 6);
  expect_linear_meets_rule(x, w, &bias);
  // Padded rows (pitch 30 > 24): passed to oneDNN with their leading dimension.
  const Tensor<> padded = random_tensor({2, 5, 30}, 7);
  expect_linear_meets_rule(TensorView<const float>(padded.data(), {2, 5, 24}, {150, 30, 1}), w, &bias);
  // Non-unit feature stride.
  const Tensor<> wide = random_tensor({1, 6, 48}, 8);
  expect_linear_meets_rule(TensorView<const float>(wide.data(), {1, 6, 24}, {288, 48, 2}), w, nullptr);
}

TEST(LinearCpu, StridedOutputAndConcurrentCalls) {
  const Tensor<> x = random_tensor({2, 33, 16}, 9), w = random_tensor({20, 16}, 10);
  Tensor<> ref({2, 33, 20});
  linear({x.view(), w.view(), {}, ref.view()}, Context{KernelKind::cpu, 1});
  // y written as (L, B, Out) storage through a [B, L, Out] view.
  Tensor<> storage({33, 2, 20});
  linear({x.view(), w.view(), {}, TensorView<float>(storage.data(), {2, 33, 20}, {20, 40, 1})},
         Context{KernelKind::cpu, 2});
  for (Index b = 0; b < 2; ++b)
    for (Index r = 0; r < 33; ++r)
      for (Index o = 0; o < 20; ++o) ASSERT_EQ(storage(r, b, o), ref(b, r, o));
  std::vector<Tensor<>> outs(8, Tensor<>({2, 33, 20}));
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < 8; ++t)
    workers.emplace_back([&, t] { linear({x.view(), w.view(), {}, outs[t].view()}, Context{KernelKind::cpu, 1}); });
  for (std::thread& th : workers) th.join();
  for (const Tensor<>& o : outs) EXPECT_EQ(max_abs_diff(o.view(), ref.view()), 0.0);
}

TEST(LinearCpu, ScratchpadLivesInTheLentWorkspace) {
  // oneDNN's scratchpad comes from the workspace, so repeated calls allocate nothing new and give
  // the same bits as a call without one.
  const Tensor<> x = random_tensor({2, 128, 512}, 1), w = random_tensor({1536, 512}, 2),
                 bias = random_tensor({1536}, 3);
  Tensor<> lent({2, 128, 1536}), own({2, 128, 1536});
  Workspace workspace;
  const Context ctx{KernelKind::cpu, 0, &workspace};
  linear({x.view(), w.view(), bias.view(), lent.view()}, ctx);
  const std::size_t reserved = workspace.reserved_bytes();
  EXPECT_GT(reserved, 0u);
  linear({x.view(), w.view(), bias.view(), lent.view()}, ctx);
  EXPECT_EQ(workspace.reserved_bytes(), reserved);
  linear({x.view(), w.view(), bias.view(), own.view()}, Context{KernelKind::cpu, 0});
  EXPECT_EQ(max_abs_diff(lent.view(), own.view()), 0.0);
}

}  // namespace
}  // namespace mha::testing
