// The attention backward kernel against central finite differences of an independent float64
// forward written here, against repeated kv heads (GQA), and its dropout and masking rules.
//
// Finite differences: the inputs are float (as the kernel takes them); the loss
// L = Σ out · G (G a fixed random grad_out) is evaluated in float64 by `loss64` below, and each
// input element is perturbed in float64 by ±h, h = 1e-4: truncation error O(h²) ≈ 1e-8,
// rounding ≈ 1e-16 / h ≈ 1e-12. The kernel differs from exact math only by the float lse it
// recomputes p from and its float outputs, so |Δ| ≤ 1e-5·max(1, |fd|) is a tight bound.
#include "mha/kernels/attention_backward.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "mha/kernels/attention.hpp"
#include "mha/kernels/linear_backward.hpp"
#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

using testing::random_tensor;

constexpr double kFdStep = 1e-4;
constexpr double kFdTol = 1e-5;

struct Problem {
  Index batch = 1, heads = 2, kv_heads = 2, lq = 3, lk = 4, d = 3, dv = 2;
  AttentionParams params;
  AttentionDropout dropout;
  Tensor<> q, k, v, grad_out;
  Tensor<std::uint8_t> flags;  // mask storage, [B, H, Lq, Lk]
  Tensor<> additive;

  void fill(std::uint64_t seed) {
    q = random_tensor({batch, heads, lq, d}, seed);
    k = random_tensor({batch, kv_heads, lk, d}, seed + 1);
    v = random_tensor({batch, kv_heads, lk, dv}, seed + 2);
    grad_out = random_tensor({batch, heads, lq, dv}, seed + 3);
    params.scale = 0.8;
  }
};

struct Grads {
  Tensor<> q, k, v, out, lse;
};

Grads run_backward(const Problem& p, const Context& ctx = {}) {
  Grads g{Tensor<>(p.q.shape()), Tensor<>(p.k.shape()), Tensor<>(p.v.shape()),
          Tensor<>({p.batch, p.heads, p.lq, p.dv}), Tensor<>({p.batch, p.heads, p.lq})};
  attention_for_training({.q = p.q.view(),
                          .k = p.k.view(),
                          .v = p.v.view(),
                          .out = g.out.view(),
                          .weights = {},
                          .lse = g.lse.view(),
                          .params = p.params},
                         p.dropout, ctx);
  attention_backward({.q = p.q.view(),
                      .k = p.k.view(),
                      .v = p.v.view(),
                      .lse = g.lse.view(),
                      .grad_out = p.grad_out.view(),
                      .out = g.out.view(),
                      .grad_q = g.q.view(),
                      .grad_k = g.k.view(),
                      .grad_v = g.v.view(),
                      .params = p.params,
                      .dropout = p.dropout},
                     ctx);
  return g;
}

// Independent float64 forward: L = Σ_{b,h,i,c} out_bhic · G_bhic.
double loss64(const Problem& p, const std::vector<double>& q, const std::vector<double>& k,
              const std::vector<double>& v) {
  const double inf = std::numeric_limits<double>::infinity();
  const Index group = p.heads / p.kv_heads;
  double loss = 0.0;
  for (Index b = 0; b < p.batch; ++b)
    for (Index h = 0; h < p.heads; ++h)
      for (Index i = 0; i < p.lq; ++i) {
        const Index g = h / group;
        const Index pos = p.params.alignment == Alignment::top_left ? i : i + p.lk - p.lq;
        std::vector<double> s(static_cast<std::size_t>(p.lk), -inf);
        double m = -inf;
        for (Index j = 0; j < p.lk; ++j) {
          bool ok = !(p.params.causal && j > pos) &&
                    !(p.params.window_left >= 0 && j < pos - p.params.window_left);
          double add = 0.0;
          for (const Mask& mask : p.params.masks) {
            if (mask.kind == MaskKind::block) ok = ok && mask.flags(b, h, i, j) == 0;
            if (mask.kind == MaskKind::keep) ok = ok && mask.flags(b, h, i, j) != 0;
            if (mask.kind == MaskKind::additive) add += mask.values(b, h, i, j);
          }
          if (!ok || add == -inf) continue;
          double dot = 0.0;
          for (Index c = 0; c < p.d; ++c)
            dot += q[static_cast<std::size_t>(((b * p.heads + h) * p.lq + i) * p.d + c)] *
                   k[static_cast<std::size_t>(((b * p.kv_heads + g) * p.lk + j) * p.d + c)];
          s[static_cast<std::size_t>(j)] = p.params.scale * dot + add;
          m = std::max(m, s[static_cast<std::size_t>(j)]);
        }
        if (m == -inf) continue;  // fully masked: out = 0
        double sum = 0.0;
        for (double x : s) sum += std::exp(x - m);
        for (Index j = 0; j < p.lk; ++j) {
          const double prob = std::exp(s[static_cast<std::size_t>(j)] - m) / sum;
          if (prob == 0.0) continue;
          double z = 1.0;
          if (p.dropout.rate > 0.0)
            z = dropout_keeps(p.dropout, b, h, i, j) ? 1.0 / (1.0 - p.dropout.rate) : 0.0;
          for (Index c = 0; c < p.dv; ++c)
            loss += prob * z *
                    v[static_cast<std::size_t>(((b * p.kv_heads + g) * p.lk + j) * p.dv + c)] *
                    p.grad_out(b, h, i, c);
        }
      }
  return loss;
}

std::vector<double> to_double(const Tensor<>& t) { return {t.values().begin(), t.values().end()}; }

// Central differences of loss64 for every element of one input (which = 0: q, 1: k, 2: v).
Tensor<> finite_difference(const Problem& p, int which) {
  std::vector<double> in[3] = {to_double(p.q), to_double(p.k), to_double(p.v)};
  const Tensor<>& shape_of = which == 0 ? p.q : which == 1 ? p.k : p.v;
  Tensor<> grad(shape_of.shape());
  auto& x = in[which];
  for (std::size_t n = 0; n < x.size(); ++n) {
    const double saved = x[n];
    x[n] = saved + kFdStep;
    const double up = loss64(p, in[0], in[1], in[2]);
    x[n] = saved - kFdStep;
    const double down = loss64(p, in[0], in[1], in[2]);
    x[n] = saved;
    grad.values()[n] = static_cast<float>((up - down) / (2 * kFdStep));
  }
  return grad;
}

// |Δ| ≤ kFdTol·max(1, |fd|) for every element, as all_close's atol + rtol.
void expect_matches_finite_differences(const Problem& p) {
  const Grads g = run_backward(p);
  const char* names[3] = {"dq", "dk", "dv"};
  const Tensor<>* got[3] = {&g.q, &g.k, &g.v};
  for (int which = 0; which < 3; ++which) {
    SCOPED_TRACE(names[which]);
    const Tensor<> fd = finite_difference(p, which);
    EXPECT_TRUE(testing::all_close(got[which]->view(), fd.view(), kFdTol, kFdTol));
  }
}

TEST(AttentionBackward, UnmaskedMatchesFiniteDifferences) {
  Problem p;
  p.batch = 2;
  p.fill(1);
  expect_matches_finite_differences(p);
}

TEST(AttentionBackward, BlockKeepAndAdditiveMasksMatchFiniteDifferences) {
  Problem p;
  p.fill(2);
  p.flags = Tensor<std::uint8_t>({p.lq, p.lk});
  p.flags(0, 1) = p.flags(2, 3) = 1;
  p.additive = random_tensor({p.lq, p.lk}, 7, -2.0f, 2.0f);
  p.additive(1, 0) = -std::numeric_limits<float>::infinity();
  const Shape shape = {p.batch, p.heads, p.lq, p.lk}, strides = {0, 0, p.lk, 1};
  p.params.masks = {block_mask({p.flags.data(), shape, strides}),
                    additive_mask({p.additive.data(), shape, strides})};
  expect_matches_finite_differences(p);
  p.params.masks[0] = keep_mask({p.flags.data(), shape, strides});  // keys 1 / 3 only
  expect_matches_finite_differences(p);
}

TEST(AttentionBackward, CausalAlignmentsAndWindowMatchFiniteDifferences) {
  Problem p;
  p.lq = 3;
  p.lk = 5;
  p.fill(3);
  p.params.causal = true;
  expect_matches_finite_differences(p);  // top-left: query 0 sees key 0 only
  p.params.alignment = Alignment::bottom_right;
  p.params.window_left = 1;
  expect_matches_finite_differences(p);
}

TEST(AttentionBackward, GroupedQueryMatchesFiniteDifferences) {
  Problem p;
  p.heads = 4;
  p.kv_heads = 2;
  p.fill(4);
  expect_matches_finite_differences(p);
}

TEST(AttentionBackward, GroupedQueryEqualsRepeatedKvHeadsSummedOverTheGroup) {
  Problem gqa;
  gqa.heads = 6;
  gqa.kv_heads = 2;
  gqa.batch = 2;
  gqa.fill(5);
  gqa.params.causal = true;
  Problem full = gqa;  // every query head gets its own copy of its kv head
  full.kv_heads = gqa.heads;
  full.k = Tensor<>({gqa.batch, gqa.heads, gqa.lk, gqa.d});
  full.v = Tensor<>({gqa.batch, gqa.heads, gqa.lk, gqa.dv});
  const Index group = gqa.heads / gqa.kv_heads;
  for (Index b = 0; b < gqa.batch; ++b)
    for (Index h = 0; h < gqa.heads; ++h)
      for (Index j = 0; j < gqa.lk; ++j) {
        for (Index c = 0; c < gqa.d; ++c) full.k(b, h, j, c) = gqa.k(b, h / group, j, c);
        for (Index c = 0; c < gqa.dv; ++c) full.v(b, h, j, c) = gqa.v(b, h / group, j, c);
      }
  const Grads g = run_backward(gqa), f = run_backward(full);
  EXPECT_TRUE(testing::all_close(g.q.view(), f.q.view(), 1e-6));
  for (Index b = 0; b < gqa.batch; ++b)
    for (Index kv = 0; kv < gqa.kv_heads; ++kv)
      for (Index j = 0; j < gqa.lk; ++j) {
        for (Index c = 0; c < gqa.d; ++c) {
          double sum = 0.0;
          for (Index h = kv * group; h < (kv + 1) * group; ++h) sum += f.k(b, h, j, c);
          EXPECT_NEAR(g.k(b, kv, j, c), sum, 1e-6);
        }
        for (Index c = 0; c < gqa.dv; ++c) {
          double sum = 0.0;
          for (Index h = kv * group; h < (kv + 1) * group; ++h) sum += f.v(b, h, j, c);
          EXPECT_NEAR(g.v(b, kv, j, c), sum, 1e-6);
        }
      }
}

TEST(AttentionBackward, DropoutMatchesFiniteDifferencesOfTheSameMask) {
  Problem p;
  p.lq = 4;
  p.lk = 6;
  p.fill(6);
  p.dropout = {.rate = 0.3, .seed = 42};
  expect_matches_finite_differences(p);
}

TEST(AttentionBackward, DropoutMaskIsAPureFunctionOfSeedAndCoordinates) {
  const AttentionDropout a{.rate = 0.25, .seed = 9}, b{.rate = 0.25, .seed = 10};
  Index kept = 0, same = 0, total = 0;
  for (Index h = 0; h < 4; ++h)
    for (Index i = 0; i < 50; ++i)
      for (Index j = 0; j < 50; ++j) {
        const bool keep = dropout_keeps(a, 1, h, i, j);
        EXPECT_EQ(keep, dropout_keeps(a, 1, h, i, j));
        kept += keep ? 1 : 0;
        same += keep == dropout_keeps(b, 1, h, i, j) ? 1 : 0;
        ++total;
      }
  // 10,000 Bernoulli(0.75) draws: the mean is within 4 standard deviations (0.0043·4) of 0.75.
  EXPECT_NEAR(static_cast<double>(kept) / static_cast<double>(total), 0.75, 0.018);
  // Another seed gives another mask: agreement 0.75² + 0.25² = 0.625 if independent.
  EXPECT_NEAR(static_cast<double>(same) / static_cast<double>(total), 0.625, 0.02);
  EXPECT_TRUE(dropout_keeps({.rate = 0.0, .seed = 1}, 0, 0, 0, 0));
}

TEST(AttentionBackward, FullyMaskedRowsAndMaskedKeysGetNoGradientEvenThroughNaN) {
  Problem p;
  p.fill(8);
  p.flags = Tensor<std::uint8_t>({p.lq, p.lk});
  for (Index j = 0; j < p.lk; ++j) p.flags(1, j) = 1;  // query row 1: fully masked
  for (Index i = 0; i < p.lq; ++i) p.flags(i, 2) = 1;  // key 2: masked for every query
  p.params.masks = {block_mask({p.flags.data(), {p.batch, p.heads, p.lq, p.lk}, {0, 0, p.lk, 1}})};
  for (Index g = 0; g < p.kv_heads; ++g) {
    p.k(0, g, 2, 0) = std::numeric_limits<float>::quiet_NaN();
    p.v(0, g, 2, 1) = std::numeric_limits<float>::infinity();
  }
  const Grads g = run_backward(p);
  for (Index h = 0; h < p.heads; ++h) {
    for (Index c = 0; c < p.d; ++c) EXPECT_EQ(g.q(0, h, 1, c), 0.0f);
    for (Index i = 0; i < p.lq; ++i)
      for (Index c = 0; c < p.d; ++c) EXPECT_TRUE(std::isfinite(g.q(0, h, i, c)));
  }
  for (Index kv = 0; kv < p.kv_heads; ++kv) {
    for (Index c = 0; c < p.d; ++c) EXPECT_EQ(g.k(0, kv, 2, c), 0.0f);
    for (Index c = 0; c < p.dv; ++c) EXPECT_EQ(g.v(0, kv, 2, c), 0.0f);
  }
}

// A smoke check through attention_for_training; the cpu kernel's own accuracy tests are in
// attention_backward_cpu_test.cpp (the tier-2 rule on every target).
TEST(AttentionBackward, CpuKindAgreesWithTheReference) {
  Problem p;
  p.heads = 4;
  p.kv_heads = 1;
  p.fill(11);
  p.params.causal = true;
  const Grads ref = run_backward(p),
              cpu = run_backward(p, {.kernel = KernelKind::cpu, .threads = 1});
  EXPECT_TRUE(testing::all_close(cpu.q.view(), ref.q.view(), 1e-5));
  EXPECT_TRUE(testing::all_close(cpu.k.view(), ref.k.view(), 1e-5));
  EXPECT_TRUE(testing::all_close(cpu.v.view(), ref.v.view(), 1e-5));
}

TEST(AttentionBackward, RejectsMissingLseAndMisshapenGradients) {
  Problem p;
  p.fill(12);
  Grads g = run_backward(p);
  AttentionBackwardArgs args{.q = p.q.view(),
                             .k = p.k.view(),
                             .v = p.v.view(),
                             .lse = {},
                             .grad_out = p.grad_out.view(),
                             .out = g.out.view(),
                             .grad_q = g.q.view(),
                             .grad_k = g.k.view(),
                             .grad_v = g.v.view(),
                             .params = p.params,
                             .dropout = {}};
  EXPECT_TRUE(testing::throws_error([&] { attention_backward(args); }, {"lse"}));
  args.lse = g.lse.view();
  args.grad_k = g.v.view();
  EXPECT_TRUE(
      testing::throws_error([&] { attention_backward(args); }, {"grad_k", "expected shape"}));
  args.grad_k = g.k.view();
  args.out = g.q.view();
  EXPECT_TRUE(testing::throws_error([&] { attention_backward(args); }, {"out", "expected shape"}));
  args.out = g.out.view();
  args.dropout.rate = 1.0;
  EXPECT_TRUE(testing::throws_error([&] { attention_backward(args); }, {"dropout rate", "[0, 1)"}));
}

TEST(LinearBackward, MatchesTheFormulas) {
  const Tensor<> x = random_tensor({2, 3, 4}, 21), w = random_tensor({5, 4}, 22),
                 dy = random_tensor({2, 3, 5}, 23);
  Tensor<> dx({2, 3, 4}), dw({5, 4}), db({5});
  linear_backward({.x = x.view(),
                   .weight = w.view(),
                   .grad_y = dy.view(),
                   .grad_x = dx.view(),
                   .grad_weight = dw.view(),
                   .grad_bias = db.view()});
  for (Index o = 0; o < 5; ++o) {
    double bias = 0.0;
    for (Index b = 0; b < 2; ++b)
      for (Index r = 0; r < 3; ++r) bias += dy(b, r, o);
    EXPECT_NEAR(db(o), bias, 1e-6);
    for (Index i = 0; i < 4; ++i) {
      double weight = 0.0;
      for (Index b = 0; b < 2; ++b)
        for (Index r = 0; r < 3; ++r) weight += double{dy(b, r, o)} * x(b, r, i);
      EXPECT_NEAR(dw(o, i), weight, 1e-6);
    }
  }
  for (Index b = 0; b < 2; ++b)
    for (Index r = 0; r < 3; ++r)
      for (Index i = 0; i < 4; ++i) {
        double input = 0.0;
        for (Index o = 0; o < 5; ++o) input += double{dy(b, r, o)} * w(o, i);
        EXPECT_NEAR(dx(b, r, i), input, 1e-6);
      }
  EXPECT_TRUE(testing::throws_error(
      [&] {
        linear_backward({.x = x.view(),
                         .weight = w.view(),
                         .grad_y = dx.view(),
                         .grad_x = {},
                         .grad_weight = {},
                         .grad_bias = {}});
      },
      {"expected"}));
}

}  // namespace
}  // namespace mha
