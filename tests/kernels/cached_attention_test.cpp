// cached_attention: the reference against mha::attention's reference on the equivalent full
// problem, and the cpu kernel against the reference under the fast-vs-reference rule
// (cached_attention_problem.hpp), over lengths, head sizes, GQA ratios, windows, counts.
#include "mha/kernels/cached_attention.hpp"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "kernels/cached_attention_problem.hpp"
#include "kernels/cpu/cached_attention_cpu.hpp"
#include "mha/core/workspace.hpp"
#include "mha/kernels/attention.hpp"
#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"

namespace mha {
namespace {

using testing::CachedProblem;
using testing::CachedSpec;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The cpu kernel (1 and 2 threads) against the reference, and the padding rows; with
// both_paths, the decode kernel and the fused path are each forced as well.
void check_cpu(const CachedSpec& spec, bool both_paths = false) {
  CachedProblem p(spec);
  const auto ref = p.run(KernelKind::reference);
  const auto naive = p.run_naive();
  std::vector<std::pair<int, cpu::CachedPath>> runs = {{1, cpu::CachedPath::automatic}, {2, cpu::CachedPath::automatic}};
  if (both_paths)
    for (const int threads : {1, 2})
      for (const auto path : {cpu::CachedPath::decode, cpu::CachedPath::fused}) runs.emplace_back(threads, path);
  for (const auto& [threads, path] : runs) {
    SCOPED_TRACE("threads " + std::to_string(threads) + ", path " + std::to_string(int(path)));
    const auto fast = p.run(KernelKind::cpu, threads, nullptr, path);
    testing::expect_within_rule(fast, ref, naive);
    for (Index b = 0; b < p.batch; ++b)
      for (Index h = 0; h < spec.heads; ++h)
        for (Index i = p.count(b); i < spec.n; ++i) {
          EXPECT_EQ(fast.lse(b, h, i), kNegInf);
          for (Index c = 0; c < p.dv; ++c) EXPECT_EQ(fast.out(b, h, i, c), 0.0f);
        }
  }
}

// The reference on the cache equals mha::attention's reference on the same keys and values as
// dense tensors, sequence by sequence, bottom-right aligned.
TEST(CachedAttentionReference, MatchesFullAttentionReference) {
  CachedSpec spec{.heads = 4, .kv_heads = 2, .d = 8, .dv = 5, .lengths = {9, 4, 13},
                  .counts = {3, 4, 1}, .n = 4, .window_left = 5};
  for (const bool causal : {true, false}) {
    spec.causal = causal;
    CachedProblem p(spec);
    const auto ref = p.run(KernelKind::reference);
    for (Index b = 0; b < p.batch; ++b) {
      const Index c = p.count(b), len = spec.lengths[static_cast<std::size_t>(b)];
      Tensor<> q({1, spec.heads, c, spec.d}), out({1, spec.heads, c, p.dv}), lse({1, spec.heads, c});
      for (Index h = 0; h < spec.heads; ++h)
        for (Index i = 0; i < c; ++i)
          for (Index x = 0; x < spec.d; ++x) q(0, h, i, x) = p.q()(b, h, i, x);
      AttentionArgs args{.q = q.view(), .k = p.keys[static_cast<std::size_t>(b)].view_as({1, spec.kv_heads, len, spec.d}),
                         .v = p.values[static_cast<std::size_t>(b)].view_as({1, spec.kv_heads, len, p.dv}),
                         .out = out.view(), .weights = {}, .lse = lse.view(), .params = {}};
      args.params.scale = 1.0 / std::sqrt(double(spec.d));
      args.params.causal = causal;
      args.params.window_left = spec.window_left;
      args.params.alignment = Alignment::bottom_right;
      attention(args, Context{KernelKind::reference});
      for (Index h = 0; h < spec.heads; ++h)
        for (Index i = 0; i < c; ++i) {
          EXPECT_NEAR(ref.lse(b, h, i), lse(0, h, i), 1e-6) << b << " " << h << " " << i;
          for (Index x = 0; x < p.dv; ++x) EXPECT_NEAR(ref.out(b, h, i, x), out(0, h, i, x), 1e-6);
        }
    }
  }
}

TEST(CachedAttentionCpu, DecodeLengthsAroundBlockAndVectorWidths) {
  for (const Index len : {1, 2, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 127, 128, 129, 255, 256, 257, 300, 1000}) {
    SCOPED_TRACE("length " + std::to_string(len));
    check_cpu({.heads = 4, .kv_heads = 2, .d = 32, .lengths = {len}, .seed = static_cast<std::uint32_t>(len)});
  }
}

TEST(CachedAttentionCpu, LongSplitAcrossThreads) {
  check_cpu({.heads = 8, .kv_heads = 1, .d = 64, .lengths = {3000}});
  check_cpu({.heads = 2, .kv_heads = 2, .d = 64, .dv = 48, .lengths = {2049, 700}, .counts = {2, 1}, .n = 2});
}

TEST(CachedAttentionCpu, HeadDims) {
  for (const Index d : {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 31, 33, 63, 64, 65, 100, 128, 129, 255, 256}) {
    SCOPED_TRACE("head_dim " + std::to_string(d));
    check_cpu({.heads = 2, .kv_heads = 1, .d = d, .lengths = {70}, .pad = d % 3});
  }
  check_cpu({.heads = 2, .kv_heads = 2, .d = 12, .dv = 37, .lengths = {40}});
}

TEST(CachedAttentionCpu, GroupRatiosAndMultiQuery) {
  for (const Index kv : {8, 4, 2, 1}) {
    SCOPED_TRACE("kv heads " + std::to_string(kv));
    check_cpu({.heads = 8, .kv_heads = kv, .d = 16, .lengths = {77, 20}, .n = 1});
    check_cpu({.heads = 8, .kv_heads = kv, .d = 16, .lengths = {77, 20}, .counts = {3, 2}, .n = 3});
  }
}

TEST(CachedAttentionCpu, WindowsCausalAndNot) {
  for (const bool causal : {true, false})
    for (const Index window : {-1, 0, 1, 5, 64, 200}) {
      SCOPED_TRACE("causal " + std::to_string(causal) + " window " + std::to_string(window));
      check_cpu({.heads = 4, .kv_heads = 2, .d = 16, .lengths = {150, 33}, .counts = {5, 2}, .n = 5,
                 .causal = causal, .window_left = window});
    }
}

TEST(CachedAttentionCpu, CountsAndPaddingRows) {
  // Different lengths and counts per sequence; a sequence with no new rows; prefill sizes, on
  // both paths (decode kernel and fused kernel over the cache), for f32, bf16 and f16.
  check_cpu({.heads = 4, .kv_heads = 4, .d = 16, .lengths = {10, 40, 3}, .counts = {0, 6, 3}, .n = 6}, true);
  for (const CacheDtype dtype : {CacheDtype::f32, CacheDtype::bf16, CacheDtype::f16}) {
    SCOPED_TRACE(std::string(cache_dtype_name(dtype)));
    check_cpu({.heads = 4, .kv_heads = 2, .d = 16, .lengths = {90, 40}, .counts = {40, 17}, .n = 40,
               .dtype = dtype, .pad = 3}, true);
    check_cpu({.heads = 4, .kv_heads = 2, .d = 16, .lengths = {90, 40}, .counts = {40, 17}, .n = 40,
               .causal = false, .window_left = 9, .dtype = dtype}, true);
  }
  // At kPrefillRows and above the automatic choice is the fused path.
  check_cpu({.heads = 2, .kv_heads = 1, .d = 8, .lengths = {cpu::kPrefillRows + 9}, .n = cpu::kPrefillRows,
             .dtype = CacheDtype::bf16});
}

TEST(CachedAttentionCpu, LargeLogitsDoNotOverflow) {
  // q and k ~ U(−100, 100) at D = 16: scores up to 1e4 / 4.
  check_cpu({.heads = 2, .kv_heads = 1, .d = 16, .lengths = {200}, .counts = {2}, .n = 2, .magnitude = 100.0f});
  CachedProblem p({.heads = 2, .kv_heads = 1, .d = 16, .lengths = {200}, .magnitude = 100.0f});
  const auto fast = p.run(KernelKind::cpu, 2);
  for (const float x : fast.out.values()) EXPECT_TRUE(std::isfinite(x));
}

TEST(CachedAttentionCpu, PoisonPastLengthNeverReachesOutput) {
  // Every problem's cache holds NaN/Inf past each length; here with a prefill of the whole first
  // sequence (count = length) and the 16-bit caches too.
  for (const CacheDtype dtype : {CacheDtype::f32, CacheDtype::bf16, CacheDtype::f16}) {
    CachedProblem p({.heads = 2, .kv_heads = 1, .d = 8, .lengths = {5, 70}, .counts = {5, 1}, .n = 5,
                     .dtype = dtype});
    const auto fast = p.run(KernelKind::cpu, 2);
    for (const float x : fast.out.values()) EXPECT_TRUE(std::isfinite(x));
    for (const float x : fast.lse.values()) EXPECT_FALSE(std::isnan(x));
  }
}

TEST(CachedAttentionCpu, BitIdenticalRepeats) {
  CachedProblem p({.heads = 8, .kv_heads = 2, .d = 64, .lengths = {1500}});
  for (const int threads : {1, 2}) {
    Workspace ws;
    const auto first = p.run(KernelKind::cpu, threads, &ws);
    const auto second = p.run(KernelKind::cpu, threads, &ws);
    const auto third = p.run(KernelKind::cpu, threads);
    EXPECT_TRUE(testing::bit_identical(second.out.view(), first.out.view()));
    EXPECT_TRUE(testing::bit_identical(third.out.view(), first.out.view()));
    EXPECT_TRUE(testing::bit_identical(third.lse.view(), first.lse.view()));
  }
}

TEST(CachedAttentionCpu, OutMayBeQ) {
  CachedProblem p({.heads = 4, .kv_heads = 2, .d = 16, .lengths = {700, 9}, .counts = {2, 1}, .n = 2});
  const auto expected = p.run(KernelKind::cpu, 2);
  CachedAttentionArgs args = p.args();
  args.out = p.q();
  cached_attention(args, Context{KernelKind::cpu, 2});
  for (Index b = 0; b < p.batch; ++b)
    for (Index h = 0; h < 4; ++h)
      for (Index i = 0; i < 2; ++i)
        for (Index x = 0; x < 16; ++x) EXPECT_EQ(p.q()(b, h, i, x), expected.out(b, h, i, x));
}

// bf16 / f16 caches against the float64 oracle on the unrounded fp32 values (docs/numerics.md,
// "Low-precision KV caches"): with u = 2^−8 (bf16) or 2^−11 (f16), Δ = u·scale·max‖q_i‖·‖k_j‖
// bounds the score error, and |δout| ≤ (expm1(2Δ) + u·(1 + expm1(2Δ)))·max|v| + fp32 floor,
// |δlse| ≤ Δ + fp32 floor.
TEST(CachedAttentionCpu, LowPrecisionCachesWithinDerivedBound) {
  for (const CacheDtype dtype : {CacheDtype::bf16, CacheDtype::f16}) {
    const double u = dtype == CacheDtype::bf16 ? 0x1p-8 : 0x1p-11;
    CachedSpec spec{.heads = 4, .kv_heads = 2, .d = 64, .lengths = {513, 64}, .counts = {3, 1}, .n = 3,
                    .dtype = dtype};
    CachedProblem low(spec);
    spec.dtype = CacheDtype::f32;
    CachedProblem exact(spec);  // same seed: the same values, unrounded
    const auto fast = low.run(KernelKind::cpu, 2);
    const auto oracle = exact.run(KernelKind::reference);
    const double scale = 1.0 / 8.0;
    double q_norm = 0, k_norm = 0;
    for (Index b = 0; b < low.batch; ++b)
      for (Index h = 0; h < spec.heads; ++h)
        for (Index i = 0; i < spec.n; ++i) {
          double s = 0;
          for (Index x = 0; x < spec.d; ++x) s += std::pow(double(exact.q()(b, h, i, x)), 2);
          q_norm = std::max(q_norm, std::sqrt(s));
        }
    for (const Tensor<>& k : exact.keys)
      for (Index g = 0; g < k.dim(0); ++g)
        for (Index j = 0; j < k.dim(1); ++j) {
          double s = 0;
          for (Index x = 0; x < spec.d; ++x) s += std::pow(double(k(g, j, x)), 2);
          k_norm = std::max(k_norm, std::sqrt(s));
        }
    const double delta = u * scale * q_norm * k_norm;
    const double floor = 1e-5;
    const double out_bound = std::expm1(2 * delta) + u * (1 + std::expm1(2 * delta)) + floor;  // max|v| ≤ 1
    SCOPED_TRACE(std::string(cache_dtype_name(dtype)) + " bound " + std::to_string(out_bound));
    EXPECT_TRUE(testing::all_close(fast.out.view(), oracle.out.view(), out_bound));
    EXPECT_TRUE(testing::all_close(fast.lse.view(), oracle.lse.view(), delta + floor));
    // And against the reference on the same rounded cache, the fp32 rule.
    testing::expect_within_rule(fast, low.run(KernelKind::reference), low.run_naive());
  }
}

TEST(CachedAttentionValidation, ErrorsNameTheArgument) {
  CachedProblem p({.heads = 4, .kv_heads = 2, .d = 8, .lengths = {5, 3}, .n = 2});
  const Context cpu{KernelKind::cpu, 1};
  auto expect = [&](CachedAttentionArgs args, const char* name) {
    EXPECT_TRUE(testing::throws_error([&] { cached_attention(args, cpu); }, {name, "expected"})) << name;
  };
  CachedAttentionArgs a = p.args();
  a.cache = nullptr;
  expect(a, "cache:");
  KvCache empty;
  a = p.args();
  a.cache = &empty;
  expect(a, "cache:");
  Tensor<> q3({2, 4, 2, 7}), q_heads({2, 3, 2, 8}), out_bad({2, 4, 2, 9}), lse_bad({2, 4, 3});
  a = p.args();
  a.q = q3.view();
  expect(a, "q:");
  a = p.args();
  a.q = q_heads.view();
  expect(a, "q:");
  a = p.args();
  a.out = out_bad.view();
  expect(a, "out:");
  a = p.args();
  a.lse = lse_bad.view();
  expect(a, "lse:");
  const Index three[] = {1, 1, 1}, too_many[] = {2, 3}, negative[] = {-1, 1};
  a = p.args();
  a.counts = three;
  expect(a, "counts:");
  a.counts = too_many;  // 3 > length 3? no: 3 > n = 2
  expect(a, "counts:");
  a.counts = negative;
  expect(a, "counts:");
  a = p.args();
  a.scale = std::numeric_limits<double>::infinity();
  expect(a, "scale:");
  a = p.args();
  a.window_left = -2;
  expect(a, "window_left:");
}

}  // namespace
}  // namespace mha
