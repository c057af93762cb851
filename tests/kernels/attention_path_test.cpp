// The rule between the cpu kernel's fused and unfused attention paths, through the public
// mha::explain_attention_dispatch: the measured length limits, the inputs the unfused path
// refuses (NaN/Inf values, empty dimensions, strided features, too many scores), forcing, and that
// a call really runs the path it names (the two paths round differently).
#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "kernels/attention_cpu_problem.hpp"
#include "testing/expect_error.hpp"

namespace mha::testing {
namespace {

AttentionDispatch explain(Problem& p, AttentionPath path = AttentionPath::automatic,
                          KernelKind kernel = KernelKind::cpu) {
  Context ctx{kernel, 0};
  ctx.attention_path = path;
  return explain_attention_dispatch({p.q(), p.k(), p.v(), p.out(), {}, {}, p.params}, ctx);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(AttentionPath, ShortRowsRunUnfusedAndLongOnesFused) {
  Problem short_rows({.lq = 128, .lk = 256, .d = 8, .dv = 8});
  const AttentionDispatch s = explain(short_rows);
  EXPECT_EQ(s.kernel, "cpu");
  EXPECT_EQ(s.path, "unfused");
  EXPECT_TRUE(contains(s.reason, "Lk = 256 ≤ 256")) << s.reason;

  Problem long_rows({.lq = 128, .lk = 257, .d = 8, .dv = 8});
  const AttentionDispatch l = explain(long_rows);
  EXPECT_EQ(l.path, "fused");
  EXPECT_TRUE(contains(l.reason, "Lk = 257 > 256")) << l.reason;
}

TEST(AttentionPath, CausalityAndWindowsLowerTheLimit) {
  Problem causal({.lq = 65, .lk = 65, .d = 8, .dv = 8, .causal = true});
  EXPECT_EQ(explain(causal).path, "fused");
  EXPECT_TRUE(contains(explain(causal).reason, "with causality or a window"));
  Problem short_causal({.lq = 64, .lk = 64, .d = 8, .dv = 8, .causal = true});
  EXPECT_EQ(explain(short_causal).path, "unfused");
  Problem window({.lq = 200, .lk = 200, .d = 8, .dv = 8, .window_left = 16});
  EXPECT_EQ(explain(window).path, "fused");
}

TEST(AttentionPath, NonFiniteValuesRunFusedEvenWhenForced) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    Problem p({.lq = 16, .lk = 40, .d = 8, .dv = 8});
    p.v()(0, 1, 39, 7) = bad;
    for (AttentionPath path : {AttentionPath::automatic, AttentionPath::unfused}) {
      const AttentionDispatch d = explain(p, path);
      EXPECT_EQ(d.path, "fused");
      EXPECT_TRUE(contains(d.reason, "NaN or Inf")) << d.reason;
    }
  }
}

TEST(AttentionPath, InputsTheUnfusedPathCannotTakeRunFused) {
  Problem empty_values({.lq = 4, .lk = 6, .d = 8, .dv = 0});
  EXPECT_TRUE(contains(explain(empty_values, AttentionPath::unfused).reason, "empty"));
  Problem empty_keys({.lq = 4, .lk = 0, .d = 8, .dv = 8});
  EXPECT_EQ(explain(empty_keys, AttentionPath::unfused).path, "fused");

  // Features two floats apart: q read as every other float of its padded rows.
  Problem p({.lq = 8, .lk = 8, .d = 8, .dv = 8, .pad = 8});
  const TensorView<float> q = p.q();
  const TensorView<float> strided(q.data(), {1, 2, 8, 8}, {q.stride(0), q.stride(1), q.stride(2), 2});
  Tensor<> out({1, 2, 8, 8});
  const AttentionDispatch d = explain_attention_dispatch(
      {strided, p.k(), p.v(), out.view(), {}, {}, p.params},
      Context{.kernel = KernelKind::cpu, .attention_path = AttentionPath::unfused});
  EXPECT_EQ(d.path, "fused");
  EXPECT_TRUE(contains(d.reason, "unit stride")) << d.reason;
}

TEST(AttentionPath, ScoresPastTheBudgetRunFused) {
  // 2·65536 rows × 64 keys of one (batch, kv head): 32 MiB of scores, just past the budget.
  Problem p({.heads = 2, .kv_heads = 1, .lq = 65537, .lk = 64, .d = 1, .dv = 1, .want_weights = false});
  const AttentionDispatch d = explain(p, AttentionPath::unfused);
  EXPECT_EQ(d.path, "fused");
  EXPECT_TRUE(contains(d.reason, "MiB")) << d.reason;
  Problem fits({.heads = 2, .kv_heads = 1, .lq = 65536, .lk = 64, .d = 1, .dv = 1, .want_weights = false});
  EXPECT_EQ(explain(fits, AttentionPath::unfused).path, "unfused");
}

TEST(AttentionPath, ForcingAndOtherKernels) {
  Problem p({.lq = 16, .lk = 40, .d = 8, .dv = 8});
  EXPECT_EQ(explain(p, AttentionPath::fused).path, "fused");
  EXPECT_EQ(explain(p, AttentionPath::fused).reason, "forced by the context");
  EXPECT_EQ(explain(p, AttentionPath::unfused).reason, "forced by the context");
  EXPECT_EQ(explain(p, AttentionPath::automatic, KernelKind::reference).kernel, "reference");
}

TEST(AttentionPath, ACallRunsThePathItNames) {
  // The two paths sum in different orders, so some output differs in its last bits.
  Problem p({.batch = 2, .heads = 4, .kv_heads = 2, .lq = 100, .lk = 100, .d = 64, .dv = 64,
             .want_weights = false});
  ASSERT_EQ(explain(p).path, "unfused");
  const Problem::Result automatic = p.run(KernelKind::cpu);
  const Problem::Result unfused = p.run(KernelKind::cpu, 0, AttentionPath::unfused);
  const Problem::Result fused = p.run(KernelKind::cpu, 0, AttentionPath::fused);
  EXPECT_TRUE(bit_identical(automatic.out.view(), unfused.out.view()));
  EXPECT_FALSE(bit_identical(automatic.out.view(), fused.out.view()));
}

TEST(AttentionPath, ExplainValidatesLikeAttention) {
  Problem p({.lq = 16, .lk = 40, .d = 8, .dv = 8});
  Tensor<> wrong_out({1, 2, 15, 8});
  EXPECT_TRUE(throws_error(
      [&] {
        explain_attention_dispatch({p.q(), p.k(), p.v(), wrong_out.view(), {}, {}, p.params},
                                   Context{.kernel = KernelKind::cpu});
      },
      {"out", "expected shape [1, 2, 16, 8]"}));
}

}  // namespace
}  // namespace mha::testing
