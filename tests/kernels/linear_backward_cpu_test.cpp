// The cpu linear backward (oneDNN products) against the float64 reference. Each gradient element
// is a sum of K products, so any fp32 summation order is within the classic bound
//   |computed − exact| ≤ γ_K · Σ_k |a_k·b_k|,   γ_K = K·u / (1 − K·u),  u = 2⁻²⁴
// (Higham, Accuracy and Stability of Numerical Algorithms, §3.1), plus one rounding of the result.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "mha/kernels/linear_backward.hpp"

namespace mha {
namespace {

Tensor<> uniform(Shape shape, std::uint32_t seed) {
  Tensor<> t(std::move(shape));
  std::mt19937 rng(seed);
  for (float& x : t.values()) x = static_cast<float>(rng() % 2001) / 1000.0f - 1.0f;
  return t;
}

double gamma(Index k) {
  const double u = std::ldexp(1.0, -24), ku = static_cast<double>(k) * u;
  return ku / (1 - ku);
}

struct Case {
  Index batch, rows, in, out;
};

class LinearBackwardCpu : public ::testing::TestWithParam<Case> {};

TEST_P(LinearBackwardCpu, MatchesReferenceWithinTheSummationBound) {
  const Case c = GetParam();
  const Tensor<> x = uniform({c.batch, c.rows, c.in}, 1), w = uniform({c.out, c.in}, 2),
                 dy = uniform({c.batch, c.rows, c.out}, 3);
  Tensor<> ref_dx(x.shape()), ref_dw(w.shape()), ref_db({c.out});
  Tensor<> dx(x.shape()), dw(w.shape()), db({c.out});
  linear_backward({x.view(), w.view(), dy.view(), ref_dx.view(), ref_dw.view(), ref_db.view()},
                  {.kernel = KernelKind::reference});
  linear_backward({x.view(), w.view(), dy.view(), dx.view(), dw.view(), db.view()},
                  {.kernel = KernelKind::cpu, .threads = 2});
  const Index m = c.batch * c.rows;
  for (Index b = 0; b < c.batch; ++b)
    for (Index r = 0; r < c.rows; ++r)
      for (Index i = 0; i < c.in; ++i) {
        double magnitude = 0;
        for (Index o = 0; o < c.out; ++o) magnitude += std::fabs(dy(b, r, o) * w(o, i));
        const double bound = gamma(c.out) * magnitude + std::ldexp(std::fabs(ref_dx(b, r, i)), -23);
        ASSERT_LE(std::fabs(dx(b, r, i) - ref_dx(b, r, i)), bound) << "dx at " << b << "," << r << "," << i;
      }
  for (Index o = 0; o < c.out; ++o) {
    for (Index i = 0; i < c.in; ++i) {
      double magnitude = 0;
      for (Index b = 0; b < c.batch; ++b)
        for (Index r = 0; r < c.rows; ++r) magnitude += std::fabs(dy(b, r, o) * x(b, r, i));
      const double bound = gamma(m) * magnitude + std::ldexp(std::fabs(ref_dw(o, i)), -23);
      ASSERT_LE(std::fabs(dw(o, i) - ref_dw(o, i)), bound) << "dw at " << o << "," << i;
    }
    double magnitude = 0;
    for (Index b = 0; b < c.batch; ++b)
      for (Index r = 0; r < c.rows; ++r) magnitude += std::fabs(dy(b, r, o));
    ASSERT_LE(std::fabs(db(o) - ref_db(o)), gamma(m) * magnitude + std::ldexp(std::fabs(ref_db(o)), -23));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearBackwardCpu,
                         ::testing::Values(Case{1, 1, 1, 1}, Case{2, 3, 5, 7}, Case{4, 17, 64, 192},
                                           Case{3, 33, 256, 64}, Case{1, 130, 31, 129}));

TEST(LinearBackwardCpu, StridedGradientViewsAndOnlyTheRequestedOnes) {
  const Tensor<> x = uniform({2, 4, 6}, 4), w = uniform({5, 6}, 5), dy = uniform({2, 4, 5}, 6);
  Tensor<> ref_dx(x.shape());
  linear_backward({.x = x.view(), .weight = w.view(), .grad_y = dy.view(), .grad_x = ref_dx.view(), .grad_weight = {}, .grad_bias = {}},
                  {.kernel = KernelKind::reference});
  // grad_x written through a sequence-first view [L, B, In] read as [B, L, In] by strides.
  Tensor<> storage({4, 2, 6});
  const TensorView<float> strided(storage.data(), {2, 4, 6}, {6, 12, 1});
  linear_backward({.x = x.view(), .weight = w.view(), .grad_y = dy.view(), .grad_x = strided, .grad_weight = {}, .grad_bias = {}},
                  {.kernel = KernelKind::cpu});
  for (Index b = 0; b < 2; ++b)
    for (Index r = 0; r < 4; ++r)
      for (Index i = 0; i < 6; ++i) EXPECT_NEAR(storage(r, b, i), ref_dx(b, r, i), 1e-5);
}

}  // namespace
}  // namespace mha
