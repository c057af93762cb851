// The fast attention backward (cpu kind) under the tier-2 rule of ../shared/numerics.md, for each
// of dQ, dK and dV:  max|grad_cpu − grad64| ≤ 2·max|grad_naive − grad64| + floor
// grad64: the float64 reference backward; grad_naive: the plain fp32 loops below (whole rows, in
// another order); floor: 4 ulps of the largest |grad64| plus, for dQ and dK, 4 ulps of the terms
// that cancel in them. dS_ij = p_ij (dP_ij − D_i) subtracts two numbers of size |dP| that the
// kernel forms in different ways (D_i = dO_i·out_i from the forward's rounded out, as
// FlashAttention-2 does, dP_ij from a tile product), so dS carries an absolute error of a few
// ulps of |dP| even where it is 0 in exact math (one visible key: p = 1, dS = 0); dQ and dK
// multiply it by scale·|k| and scale·|q|. On every SIMD target this CPU runs, on
// lengths around the 64-row tiles and the vector widths, odd head sizes, causal and windowed
// rows, every mask kind, GQA, dropout, with and without the forward's out; plus the edge cases
// (fully masked rows, NaN in blocked keys and values, large logits) and determinism.
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "kernels/attention_cpu_problem.hpp"
#include "kernels/cpu/attention_backward_cpu.hpp"
#include "kernels/cpu/attention_plan.hpp"
#include "mha/kernels/attention_backward.hpp"
#include "mha/kernels/cpu_info.hpp"
#include "testing/forced_target.hpp"
#include "testing/threads_per_concurrent_call.hpp"

namespace mha::testing {
namespace {

struct Gradients {
  Tensor<> q, k, v;
  // From the naive pass: max |dP_ij| over visible pairs, max |k|, max |q| (finite values).
  double max_dp = 0, max_k = 0, max_q = 0;
};

struct BackwardProblem {
  Problem forward;
  Tensor<> grad_out;
  AttentionDropout dropout;
  Problem::Result result;  // the forward's out and lse (reference kernel)

  explicit BackwardProblem(const ProblemSpec& spec, double dropout_rate = 0.0)
      : forward(Problem([&] {
          ProblemSpec s = spec;
          s.want_weights = false;
          return s;
        }())),
        grad_out({spec.batch, spec.heads, spec.lq, spec.dv}) {
    std::mt19937 rng(spec.seed + 100);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (float& x : grad_out.values()) x = uniform(rng);
    dropout = {.rate = dropout_rate, .seed = spec.seed};
  }

  // The forward once (reference: out and lse as the training forward gives them).
  void run_forward() {
    const ProblemSpec& s = forward.spec;
    result.out = Tensor<>({s.batch, s.heads, s.lq, s.dv});
    result.lse = Tensor<>({s.batch, s.heads, s.lq});
    attention_for_training({.q = forward.q(), .k = forward.k(), .v = forward.v(),
                            .out = result.out.view(), .weights = {}, .lse = result.lse.view(),
                            .params = forward.params},
                           dropout, Context{KernelKind::reference, 1});
  }

  // max_dq_share_bytes > 0: the cpu kernel called directly with that budget for the dQ shares.
  Gradients run(KernelKind kind, int threads = 2, bool pass_out = true, Index max_dq_share_bytes = 0) {
    const ProblemSpec& s = forward.spec;
    Gradients g{Tensor<>({s.batch, s.heads, s.lq, s.d}), Tensor<>({s.batch, s.kv_heads, s.lk, s.d}),
                Tensor<>({s.batch, s.kv_heads, s.lk, s.dv})};
    // Poison the outputs: every element must be written.
    for (Tensor<>* t : {&g.q, &g.k, &g.v})
      for (float& x : t->values()) x = std::numeric_limits<float>::quiet_NaN();
    const AttentionBackwardArgs args{.q = forward.q(),
                        .k = forward.k(),
                        .v = forward.v(),
                        .lse = result.lse.view(),
                        .grad_out = grad_out.view(),
                        .out = pass_out ? TensorView<const float>(result.out.view()) : TensorView<const float>(),
                        .grad_q = g.q.view(),
                        .grad_k = g.k.view(),
                        .grad_v = g.v.view(),
                        .params = forward.params,
                        .dropout = dropout};
    if (max_dq_share_bytes > 0)
      attention_backward_cpu(args, Context{kind, threads}, max_dq_share_bytes);
    else
      attention_backward(args, Context{kind, threads});
    return g;
  }

  // Plain fp32: per row, p from the scores and lse, then dP, D, dS, all summed left to right.
  Gradients run_naive() {
    const ProblemSpec& s = forward.spec;
    const TensorView<const float> q = forward.q(), k = forward.k(), v = forward.v();
    Gradients g{Tensor<>({s.batch, s.heads, s.lq, s.d}), Tensor<>({s.batch, s.kv_heads, s.lk, s.d}),
                Tensor<>({s.batch, s.kv_heads, s.lk, s.dv})};
    const Index group = s.heads / s.kv_heads;
    const float scale = static_cast<float>(forward.params.scale);
    const float keep_scale = static_cast<float>(1.0 / (1.0 - dropout.rate));
    std::vector<float> p(static_cast<std::size_t>(s.lk)), dp(static_cast<std::size_t>(s.lk));
    for (Index b = 0; b < s.batch; ++b)
      for (Index h = 0; h < s.heads; ++h)
        for (Index i = 0; i < s.lq; ++i) {
          const Index kv = h / group;
          const float lse = result.lse(b, h, i);
          const Index pos = s.alignment == Alignment::top_left ? i : i + s.lk - s.lq;
          float delta = 0.0f;
          for (Index j = 0; j < s.lk; ++j) {
            const auto sj = static_cast<std::size_t>(j);
            p[sj] = dp[sj] = 0.0f;
            bool allowed = lse != -std::numeric_limits<float>::infinity() && !(s.causal && j > pos) &&
                           !(s.window_left >= 0 && j < pos - s.window_left);
            float dot = 0.0f;
            for (Index c = 0; c < s.d; ++c) dot += q(b, h, i, c) * k(b, kv, j, c);
            float x = scale * dot;
            for (const Mask& m : forward.params.masks) {
              if (m.kind == MaskKind::block) allowed = allowed && m.flags(b, h, i, j) == 0;
              if (m.kind == MaskKind::keep) allowed = allowed && m.flags(b, h, i, j) != 0;
              if (m.kind == MaskKind::additive) {
                allowed = allowed && m.values(b, h, i, j) != -std::numeric_limits<float>::infinity();
                x += m.values(b, h, i, j);
              }
            }
            if (!allowed) continue;
            const float z = dropout.rate > 0.0 ? (dropout_keeps(dropout, b, h, i, j) ? keep_scale : 0.0f) : 1.0f;
            p[sj] = std::exp(x - lse);
            float dot_v = 0.0f;
            for (Index c = 0; c < s.dv; ++c) dot_v += grad_out(b, h, i, c) * v(b, kv, j, c);
            g.max_dp = std::max(g.max_dp, static_cast<double>(std::abs(dot_v)));
            dp[sj] = z * dot_v;
            delta += p[sj] * dp[sj];
            for (Index c = 0; c < s.dv; ++c) g.v(b, kv, j, c) += p[sj] * z * grad_out(b, h, i, c);
          }
          for (Index c = 0; c < s.d; ++c) g.q(b, h, i, c) = 0.0f;
          for (Index j = 0; j < s.lk; ++j) {
            const auto sj = static_cast<std::size_t>(j);
            if (p[sj] == 0.0f) continue;
            const float ds = scale * p[sj] * (dp[sj] - delta);
            for (Index c = 0; c < s.d; ++c) {
              g.q(b, h, i, c) += ds * k(b, kv, j, c);
              g.k(b, kv, j, c) += ds * q(b, h, i, c);
            }
          }
        }
    auto max_finite = [](const TensorView<const float>& t) {
      double m = 0;
      for (Index b = 0; b < t.dim(0); ++b)
        for (Index h = 0; h < t.dim(1); ++h)
          for (Index i = 0; i < t.dim(2); ++i)
            for (Index c = 0; c < t.dim(3); ++c)
              if (std::isfinite(t(b, h, i, c))) m = std::max(m, static_cast<double>(std::abs(t(b, h, i, c))));
      return m;
    };
    g.max_k = max_finite(k);
    g.max_q = max_finite(q);
    return g;
  }
};

// The tier-2 rule with the cancellation floor of the file's header.
::testing::AssertionResult meets_gradient_rule(const std::string& what, const Tensor<>& fast,
                                               const Tensor<>& naive, const Tensor<>& ref,
                                               double cancelled) {
  const double err_fast = max_abs_diff(fast.view(), ref.view());
  const double err_naive = max_abs_diff(naive.view(), ref.view());
  const double floor =
      4.0 * std::numeric_limits<float>::epsilon() * (max_magnitude(ref) + cancelled);
  const double bound = 2.0 * err_naive + floor;
  if (err_fast <= bound) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": max|cpu − ref| = " << err_fast << " > 2·" << err_naive << " + " << floor
         << "\n" << all_close(fast.view(), ref.view(), bound).message();
}

void expect_meets_rule(BackwardProblem& p, bool pass_out = true) {
  p.run_forward();
  const Gradients ref = p.run(KernelKind::reference);
  const Gradients cpu = p.run(KernelKind::cpu, 2, pass_out);
  const Gradients naive = p.run_naive();
  const double scale = p.forward.params.scale;
  EXPECT_TRUE(meets_gradient_rule("grad_q", cpu.q, naive.q, ref.q, scale * naive.max_dp * naive.max_k));
  EXPECT_TRUE(meets_gradient_rule("grad_k", cpu.k, naive.k, ref.k, scale * naive.max_dp * naive.max_q));
  EXPECT_TRUE(meets_gradient_rule("grad_v", cpu.v, naive.v, ref.v, 0.0));
}

bool bit_identical(const Tensor<>& a, const Tensor<>& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.numel())) == 0;
}

// The shapes every target runs: lengths around the 64-row tiles and the lanes, head sizes that
// are not whole vectors, causality both ways, a window, GQA with odd strides and key padding.
void expect_shapes_meet_rule() {
  for (auto [lq, lk] : {std::pair<Index, Index>{1, 1}, {5, 7}, {63, 65}, {64, 64}, {65, 130}, {130, 17}}) {
    SCOPED_TRACE("lq=" + std::to_string(lq) + " lk=" + std::to_string(lk));
    BackwardProblem p({.lq = lq, .lk = lk, .d = 8, .dv = 8, .seed = static_cast<std::uint32_t>(lq + lk)});
    expect_meets_rule(p);
  }
  for (Index d : {1, 7, 17, 64, 100}) {
    SCOPED_TRACE("d=" + std::to_string(d));
    BackwardProblem p({.heads = 1, .kv_heads = 1, .lq = 19, .lk = 70, .d = d, .dv = d});
    expect_meets_rule(p);
  }
  for (Alignment align : {Alignment::top_left, Alignment::bottom_right}) {
    SCOPED_TRACE(align == Alignment::top_left ? "causal top-left" : "causal bottom-right");
    BackwardProblem causal({.lq = 150, .lk = 200, .d = 16, .dv = 16, .causal = true, .alignment = align});
    expect_meets_rule(causal);
  }
  {
    SCOPED_TRACE("window");
    BackwardProblem window({.lq = 90, .lk = 300, .d = 8, .dv = 8, .window_left = 40});
    expect_meets_rule(window);
  }
  {
    SCOPED_TRACE("gqa, padded rows, key padding");
    BackwardProblem gqa({.batch = 2, .heads = 4, .kv_heads = 2, .lq = 21, .lk = 150, .d = 16, .dv = 24, .pad = 3});
    auto& pad = gqa.forward.add_flags(MaskKind::block, {2, 150}, {150, 0, 0, 1});
    for (Index j = 100; j < 150; ++j) pad(0, j) = 1;
    expect_meets_rule(gqa);
  }
}

TEST(AttentionBackwardCpu, EveryRunnableTargetMeetsTheRule) {
  const std::vector<std::int64_t> targets = runnable_targets(cpu::compiled_simd_targets());
  ASSERT_GE(targets.size(), 2u) << "a SIMD target and the portable fallback";
  for (const std::int64_t target : targets) {
    const ForcedTarget forced(target);
    SCOPED_TRACE(std::string("target ") + hwy::TargetName(target));
    ASSERT_EQ(std::string(cpu_simd_target()), hwy::TargetName(target));
    expect_shapes_meet_rule();
  }
}

TEST(AttentionBackwardCpu, EveryMaskKindMeetsTheRule) {
  BackwardProblem p({.batch = 2, .lq = 70, .lk = 90, .d = 16, .dv = 8});
  p.forward.reserve_masks(3);
  auto& keep = p.forward.add_flags(MaskKind::keep, {70, 90}, {0, 0, 90, 1});  // varies by row
  auto& block = p.forward.add_flags(MaskKind::block, {2, 90}, {90, 0, 0, 1});
  auto& additive = p.forward.add_values({2, 2, 70, 90}, {2 * 70 * 90, 70 * 90, 90, 1});
  std::mt19937 rng(3);
  for (std::uint8_t& f : keep.values()) f = rng() % 5 != 0 ? 1 : 0;
  for (Index j = 80; j < 90; ++j) block(1, j) = 1;
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (float& x : additive.values()) x = rng() % 7 == 0 ? -std::numeric_limits<float>::infinity() : u(rng);
  expect_meets_rule(p);
}

TEST(AttentionBackwardCpu, DropoutMeetsTheRule) {
  BackwardProblem p({.heads = 2, .kv_heads = 1, .lq = 70, .lk = 80, .d = 16, .dv = 16, .causal = true}, 0.3);
  expect_meets_rule(p);
}

TEST(AttentionBackwardCpu, WithoutTheForwardsOutDIsRecomputed) {
  BackwardProblem plain({.lq = 100, .lk = 130, .d = 16, .dv = 8, .window_left = 70});
  expect_meets_rule(plain, /*pass_out=*/false);
  BackwardProblem dropped({.lq = 40, .lk = 70, .d = 8, .dv = 8}, 0.25);
  expect_meets_rule(dropped, /*pass_out=*/false);
}

// Scores near ±1e4 (q, k ~ U(−60, 60), D = 16, scale 1/4): p is formed from s − lse, not from
// rounded base-2 logits, so the rule holds.
TEST(AttentionBackwardCpu, LargeLogitsMeetTheRule) {
  BackwardProblem p({.lq = 33, .lk = 70, .d = 16, .dv = 16, .magnitude = 60.0f});
  expect_meets_rule(p);
}

// Fully masked rows give no gradient, and NaN / Inf in keys and values that every row blocks
// reaches none of dQ, dK, dV (the reference skips them; the fast kernel selects, never multiplies).
TEST(AttentionBackwardCpu, MaskedRowsAndNonFiniteBlockedKeysGiveFiniteGradients) {
  BackwardProblem p({.lq = 70, .lk = 100, .d = 16, .dv = 16});
  auto& block = p.forward.add_flags(MaskKind::block, {70, 100}, {0, 0, 100, 1});
  for (Index j = 0; j < 100; ++j) block(3, j) = 1;  // row 3 sees nothing
  for (Index i = 0; i < 70; ++i) block(i, 90) = block(i, 5) = 1;
  const ProblemSpec& s = p.forward.spec;
  const Index row = s.kv_heads * (s.d + s.pad);
  p.forward.k_store[static_cast<std::size_t>(90 * row + 2)] = std::numeric_limits<float>::quiet_NaN();
  p.forward.k_store[static_cast<std::size_t>(5 * row)] = std::numeric_limits<float>::infinity();
  p.forward.v_store[static_cast<std::size_t>(90 * row + 1)] = std::numeric_limits<float>::quiet_NaN();
  p.run_forward();
  const Gradients cpu = p.run(KernelKind::cpu);
  for (const Tensor<>* t : {&cpu.q, &cpu.k, &cpu.v})
    for (float x : t->values()) ASSERT_TRUE(std::isfinite(x));
  for (Index h = 0; h < s.heads; ++h)
    for (Index c = 0; c < s.d; ++c) EXPECT_EQ(cpu.q(0, h, 3, c), 0.0f);
  for (Index c = 0; c < s.d; ++c) EXPECT_EQ(cpu.k(0, 0, 90, c), 0.0f);
  expect_meets_rule(p);
}

// Bit-identical repeats with the same thread count; dK and dV also across thread counts (each key
// tile is summed by one thread in one order), dQ within the rule.
TEST(AttentionBackwardCpu, DeterministicForAThreadCount) {
  BackwardProblem p({.batch = 2, .heads = 4, .kv_heads = 2, .lq = 200, .lk = 200, .d = 32, .dv = 32, .causal = true});
  p.run_forward();
  const Gradients first = p.run(KernelKind::cpu, 2), second = p.run(KernelKind::cpu, 2);
  EXPECT_TRUE(bit_identical(first.q, second.q));
  EXPECT_TRUE(bit_identical(first.k, second.k));
  EXPECT_TRUE(bit_identical(first.v, second.v));
  const Gradients one = p.run(KernelKind::cpu, 1);
  EXPECT_TRUE(bit_identical(first.k, one.k));
  EXPECT_TRUE(bit_identical(first.v, one.v));
  const Gradients ref = p.run(KernelKind::reference), naive = p.run_naive();
  EXPECT_TRUE(meets_gradient_rule("grad_q, 1 thread", one.q, naive.q, ref.q,
                                  p.forward.params.scale * naive.max_dp * naive.max_k));
}

// Past kMaxDqShareBytes the (batch, kv head) pairs run in chunks, each with its own dQ shares: a
// budget of 1 byte forces chunks of one pair. dK and dV come out the same bits (each key tile is
// still summed by one thread in one order); dQ meets the rule.
TEST(AttentionBackwardCpu, ChunkedDqSharesGiveTheSameGradients) {
  BackwardProblem p({.batch = 2, .heads = 4, .kv_heads = 2, .lq = 130, .lk = 150, .d = 16, .dv = 8, .causal = true});
  p.run_forward();
  const Gradients whole = p.run(KernelKind::cpu, 2);
  const Gradients chunked = p.run(KernelKind::cpu, 2, true, /*max_dq_share_bytes=*/1);
  EXPECT_TRUE(bit_identical(whole.k, chunked.k));
  EXPECT_TRUE(bit_identical(whole.v, chunked.v));
  EXPECT_TRUE(bit_identical(chunked.q, p.run(KernelKind::cpu, 2, true, 1).q));
  const Gradients ref = p.run(KernelKind::reference), naive = p.run_naive();
  EXPECT_TRUE(meets_gradient_rule("grad_q, chunked", chunked.q, naive.q, ref.q,
                                  p.forward.params.scale * naive.max_dp * naive.max_k));
}

// No keys: every row is fully masked, so every gradient is 0; no queries: dK and dV are 0.
TEST(AttentionBackwardCpu, EmptyLengthsGiveZeroGradients) {
  for (auto [lq, lk] : {std::pair<Index, Index>{5, 0}, {0, 7}}) {
    SCOPED_TRACE("lq=" + std::to_string(lq) + " lk=" + std::to_string(lk));
    BackwardProblem p({.lq = lq, .lk = lk, .d = 8, .dv = 8});
    p.run_forward();
    const Gradients cpu = p.run(KernelKind::cpu);
    for (const Tensor<>* t : {&cpu.q, &cpu.k, &cpu.v})
      for (float x : t->values()) EXPECT_EQ(x, 0.0f);
  }
}

TEST(AttentionBackwardCpu, ConcurrentCallsGiveTheSerialResult) {
  BackwardProblem p({.batch = 2, .heads = 4, .kv_heads = 2, .lq = 90, .lk = 100, .d = 16, .dv = 16, .causal = true});
  p.run_forward();
  const Gradients serial = p.run(KernelKind::cpu, kThreadsPerConcurrentCall);
  std::vector<Gradients> results(8);
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < results.size(); ++t)
    workers.emplace_back([&, t] { results[t] = p.run(KernelKind::cpu, kThreadsPerConcurrentCall); });
  for (std::thread& w : workers) w.join();
  for (std::size_t t = 0; t < results.size(); ++t) {
    EXPECT_TRUE(bit_identical(results[t].q, serial.q)) << "thread " << t;
    EXPECT_TRUE(bit_identical(results[t].k, serial.k)) << "thread " << t;
    EXPECT_TRUE(bit_identical(results[t].v, serial.v)) << "thread " << t;
  }
}

}  // namespace
}  // namespace mha::testing
