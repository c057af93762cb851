// The public online softmax: attending keys block by block, or in parts merged by log-sum-exp,
// gives mha::attention's reference result on all the keys (the fp32 rule's floor: a few ulps),
// with per-row key ranges and exact tails on odd sizes.
#include "mha/kernels/online_softmax.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "mha/kernels/attention.hpp"
#include "testing/allclose.hpp"
#include "testing/expect_error.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

struct State {
  Tensor<> max2, sum, acc;
  State(Index rows, Index dv) : max2({rows}), sum({rows}), acc({rows, dv}) {
    softmax_state_reset(view());
  }
  SoftmaxState view() { return {max2.view(), sum.view(), acc.view()}; }
};

TEST(OnlineSoftmax, BlocksAndMergedPartsMatchReference) {
  for (const Index d : {1, 5, 16, 37}) {
    const Index rows = 6, n = 150, dv = d + 2;
    const Tensor<> q = testing::random_tensor({rows, d}, 1), k = testing::random_tensor({n, d}, 2, -3, 3),
                   v = testing::random_tensor({n, dv}, 3);
    const double scale = 1.0 / std::sqrt(double(d));
    // Row r sees keys [r, n − 2r) (ranges per row; row 5 sees [5, 140)).
    std::vector<Index> lo(rows), hi(rows);
    for (Index r = 0; r < rows; ++r) {
      lo[static_cast<std::size_t>(r)] = r;
      hi[static_cast<std::size_t>(r)] = n - 2 * r;
    }
    // Reference: each row alone, over its keys.
    Tensor<> ref_out({rows, dv}), ref_lse({rows});
    for (Index r = 0; r < rows; ++r) {
      const Index a = lo[static_cast<std::size_t>(r)], b = hi[static_cast<std::size_t>(r)];
      Tensor<> o({1, 1, 1, dv}), l({1, 1, 1});
      AttentionArgs args{.q = {q.data() + r * d, {1, 1, 1, d}}, .k = {k.data() + a * d, {1, 1, b - a, d}},
                         .v = {v.data() + a * dv, {1, 1, b - a, dv}}, .out = o.view(), .weights = {},
                         .lse = l.view(), .params = {}};
      args.params.scale = scale;
      attention(args, Context{KernelKind::reference});
      for (Index c = 0; c < dv; ++c) ref_out(r, c) = o(0, 0, 0, c);
      ref_lse(r) = l(0, 0, 0);
    }
    // Blocks of 40 keys into one state; and two parts [0, 77), [77, n) merged.
    State whole(rows, dv), first(rows, dv), second(rows, dv);
    const auto attend = [&](State& s, Index j0, Index j1) {
      std::vector<Index> b0(rows), b1(rows);
      for (std::size_t r = 0; r < b0.size(); ++r) {
        b0[r] = std::clamp<Index>(lo[r] - j0, 0, j1 - j0);
        b1[r] = std::clamp<Index>(hi[r] - j0, 0, j1 - j0);
      }
      online_softmax_attend(s.view(), {.q = q.view(), .k = {k.data() + j0 * d, {j1 - j0, d}},
                                       .v = {v.data() + j0 * dv, {j1 - j0, dv}}, .scale = scale,
                                       .key_begin = b0, .key_end = b1});
    };
    for (Index j0 = 0; j0 < n; j0 += 40) attend(whole, j0, std::min<Index>(n, j0 + 40));
    attend(first, 0, 77);
    attend(second, 77, n);
    online_softmax_merge(first.view(), second.view());
    const double tol = 8 * std::numeric_limits<float>::epsilon();
    for (State* s : {&whole, &first}) {
      Tensor<> out({rows, dv}), lse({rows});
      online_softmax_finish(s->view(), out.view(), lse.view());
      EXPECT_TRUE(testing::all_close(out.view(), ref_out.view(), tol)) << "d " << d;
      EXPECT_TRUE(testing::all_close(lse.view(), ref_lse.view(), tol * 8)) << "d " << d;
    }
  }
}

TEST(OnlineSoftmax, NaNInAKeyReachesOnlyTheRowsThatSeeIt) {
  // numerics.md: a NaN key in a row's range makes that row NaN, as in PyTorch; a row whose range
  // ends before it stays as it was. Rows of 4 (one group), 3 and 1, so every group size runs.
  for (const Index rows : {4, 3, 1}) {
    const Index d = 16, n = 90, dv = 16;
    const Tensor<> q = testing::random_tensor({rows, d}, 1), v = testing::random_tensor({n, dv}, 3);
    Tensor<> k = testing::random_tensor({n, d}, 2);
    k(70, 5) = std::numeric_limits<float>::quiet_NaN();
    std::vector<Index> lo(static_cast<std::size_t>(rows), 0), hi(static_cast<std::size_t>(rows), n);
    hi[0] = 70;  // row 0 stops just before the NaN key
    State s(rows, dv);
    online_softmax_attend(s.view(), {.q = q.view(), .k = k.view(), .v = v.view(), .scale = 0.25,
                                     .key_begin = lo, .key_end = hi});
    Tensor<> out({rows, dv}), lse({rows});
    online_softmax_finish(s.view(), out.view(), lse.view());
    for (Index r = 0; r < rows; ++r)
      for (Index c = 0; c < dv; ++c) EXPECT_EQ(std::isnan(out(r, c)), r > 0) << "rows " << rows << ", row " << r;
  }
}

TEST(OnlineSoftmax, EmptyStateFinishesToZeroAndMinusInfinity) {
  State s(2, 3), other(2, 3);
  online_softmax_merge(s.view(), other.view());
  Tensor<> out({2, 3}), lse({2});
  out.values()[0] = 5;
  online_softmax_finish(s.view(), out.view(), lse.view());
  for (const float x : out.values()) EXPECT_EQ(x, 0.0f);
  for (const float x : lse.values()) EXPECT_EQ(x, -std::numeric_limits<float>::infinity());
}

TEST(OnlineSoftmax, ValidationNamesTheView) {
  State s(2, 3);
  const Tensor<> q({2, 4}), q_rows({3, 4}), k({5, 4}), k_bad({5, 3}), v({5, 3}), v_bad({4, 3});
  const auto fails = [&](const KeyBlock& block, const char* name) {
    return testing::throws_error([&] { online_softmax_attend(s.view(), block); }, {name});
  };
  EXPECT_TRUE(fails({.q = q_rows.view(), .k = k.view(), .v = v.view()}, "q:"));
  EXPECT_TRUE(fails({.q = q.view(), .k = k_bad.view(), .v = v.view()}, "k:"));
  EXPECT_TRUE(fails({.q = q.view(), .k = k.view(), .v = v_bad.view()}, "v:"));
  const Index one[] = {0};
  EXPECT_TRUE(fails({.q = q.view(), .k = k.view(), .v = v.view(), .key_begin = one, .key_end = one}, "key_begin"));
  State wrong(3, 3);
  EXPECT_TRUE(testing::throws_error([&] { online_softmax_merge(s.view(), wrong.view()); }, {"other"}));
}

}  // namespace
}  // namespace mha
