// Statistics over seeds (mha/train/statistics.hpp) against known values. Reference numbers from
// mpmath at 30 digits (betainc, findroot on the t tail), which agree with the printed t tables.
#include "mha/train/statistics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "testing/expect_error.hpp"

namespace mha::testing {
namespace {

using train::regularized_incomplete_beta;
using train::student_t_cdf;
using train::student_t_quantile;

TEST(Statistics, IncompleteBetaMatchesClosedFormsAndMpmath) {
  // I_0.4(2, 3) = Σ_{j=2}^{4} C(4, j)·0.4ʲ·0.6⁴⁻ʲ = 0.5248 (the binomial identity).
  EXPECT_NEAR(regularized_incomplete_beta(2, 3, 0.4), 0.5248, 1e-14);
  // I_x(½, ½) = (2/π)·asin(√x).
  EXPECT_NEAR(regularized_incomplete_beta(0.5, 0.5, 0.3), 2 / M_PI * std::asin(std::sqrt(0.3)),
              1e-14);
  EXPECT_NEAR(regularized_incomplete_beta(0.5, 0.5, 0.3), 0.369010119565545382, 1e-14);
  EXPECT_EQ(regularized_incomplete_beta(3, 4, 0), 0);
  EXPECT_EQ(regularized_incomplete_beta(3, 4, 1), 1);
  // Symmetry Iₓ(a, b) = 1 − I₁₋ₓ(b, a), across the branch the code switches at.
  for (const double x : {0.05, 0.3, 0.5, 0.7, 0.95})
    EXPECT_NEAR(regularized_incomplete_beta(2.5, 7, x), 1 - regularized_incomplete_beta(7, 2.5, 1 - x),
                1e-14)
        << x;
}

TEST(Statistics, StudentTQuantilesMatchTheTables) {
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.7062047361747, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 4), 2.77644510519779, 1e-11);
  EXPECT_NEAR(student_t_quantile(0.975, 9), 2.26215716279821, 1e-11);
  EXPECT_NEAR(student_t_quantile(0.975, 1e6), 1.95996635681411, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, INFINITY), 1.95996398454005, 1e-11);
  EXPECT_NEAR(student_t_quantile(0.025, 9), -2.26215716279821, 1e-11);
  EXPECT_EQ(student_t_quantile(0.5, 3), 0);
  // ν = 1 is the Cauchy distribution: F(t) = ½ + atan(t)/π.
  for (const double t : {-3.0, -0.5, 0.0, 0.25, 10.0})
    EXPECT_NEAR(student_t_cdf(t, 1), 0.5 + std::atan(t) / M_PI, 1e-14) << t;
  // ν = 2: F(t) = ½ + t / (2√(t² + 2)).
  for (const double t : {-2.0, 0.7, 4.0})
    EXPECT_NEAR(student_t_cdf(t, 2), 0.5 + t / (2 * std::sqrt(t * t + 2)), 1e-14) << t;
  // Quantile and CDF invert each other, fractional ν included (Welch's dof are).
  for (const double dof : {1.5, 3.0, 24.99, 200.0})
    for (const double p : {0.001, 0.2, 0.9, 0.999})
      EXPECT_NEAR(student_t_cdf(student_t_quantile(p, dof), dof), p, 1e-12) << p << " " << dof;
}

TEST(Statistics, SummaryIsMeanSampleSdAndTInterval) {
  const std::vector<double> x = {1, 2, 3, 4, 5};
  const train::Summary s = train::summarize(x);
  EXPECT_EQ(s.count, 5);
  EXPECT_DOUBLE_EQ(s.mean, 3);
  EXPECT_DOUBLE_EQ(s.sd, std::sqrt(2.5));
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 5);
  // t_{0.975, 4} · √2.5 / √5.
  EXPECT_NEAR(s.half_width, 1.96324316147756, 1e-11);
  EXPECT_DOUBLE_EQ(s.low, s.mean - s.half_width);
  EXPECT_DOUBLE_EQ(s.high, s.mean + s.half_width);
  // 90%: t_{0.95, 4} = 2.131847.
  EXPECT_NEAR(train::summarize(x, 0.9).half_width, 2.13184678632665 * std::sqrt(0.5), 1e-10);
}

TEST(Statistics, SummaryOfFewerThanTwoValuesHasNoInterval) {
  const std::vector<double> one = {0.5};
  const train::Summary s = train::summarize(one);
  EXPECT_EQ(s.count, 1);
  EXPECT_EQ(s.mean, 0.5);
  EXPECT_TRUE(std::isnan(s.sd));
  EXPECT_TRUE(std::isnan(s.half_width));
  EXPECT_TRUE(std::isnan(s.low));
  const train::Summary empty = train::summarize(std::vector<double>{});
  EXPECT_EQ(empty.count, 0);
  EXPECT_TRUE(std::isnan(empty.mean));
  // Equal values: a zero-width interval, not NaN.
  EXPECT_EQ(train::summarize(std::vector<double>{2, 2, 2}).half_width, 0);
}

TEST(Statistics, WelchMatchesTheWorkedExample) {
  // The classic unequal-variance example (also scipy.stats.ttest_ind(a, b, equal_var=False)).
  const std::vector<double> a = {27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1,
                                 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4};
  const std::vector<double> b = {27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0,
                                 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4};
  const train::WelchTest w = train::welch_t_test(a, b);
  EXPECT_NEAR(w.t, -2.45535639828601, 1e-11);
  EXPECT_NEAR(w.dof, 24.9885292902314, 1e-10);
  EXPECT_NEAR(w.p_value, 0.0213780014628670, 1e-12);
  EXPECT_NEAR(w.difference, 20.82 - 22.98666666666667, 1e-12);
  EXPECT_NEAR(w.t * w.standard_error, w.difference, 1e-12);
  // The difference interval excludes 0 exactly when p < 0.05.
  EXPECT_LT(w.high, 0);
  const double half = train::student_t_quantile(0.975, w.dof) * w.standard_error;
  EXPECT_NEAR(w.high - w.low, 2 * half, 1e-12);
  // Swapping the samples flips the sign only.
  const train::WelchTest flipped = train::welch_t_test(b, a);
  EXPECT_DOUBLE_EQ(flipped.t, -w.t);
  EXPECT_DOUBLE_EQ(flipped.p_value, w.p_value);
}

TEST(Statistics, WelchUndefinedCasesAreNaN) {
  const std::vector<double> one = {1}, two = {1, 2}, flat = {3, 3, 3}, flat2 = {4, 4};
  const train::WelchTest small = train::welch_t_test(one, two);
  EXPECT_EQ(small.difference, -0.5);
  EXPECT_TRUE(std::isnan(small.t));
  EXPECT_TRUE(std::isnan(small.p_value));
  EXPECT_TRUE(std::isnan(small.low));
  // No spread in either sample: no noise estimate, so no p-value, even with different means.
  const train::WelchTest none = train::welch_t_test(flat, flat2);
  EXPECT_EQ(none.difference, -1);
  EXPECT_EQ(none.standard_error, 0);
  EXPECT_TRUE(std::isnan(none.p_value));
  EXPECT_TRUE(std::isnan(train::welch_t_test(flat, flat).p_value));
  // Spread in one sample only: defined, with dof = n − 1 of that sample.
  const train::WelchTest half = train::welch_t_test(flat, two);
  EXPECT_NEAR(half.dof, 1, 1e-12);
  EXPECT_FALSE(std::isnan(half.p_value));
  EXPECT_TRUE(std::isnan(train::welch_t_test(std::vector<double>{}, two).difference));
}

TEST(Statistics, BadArgumentsNameThemselves) {
  const std::vector<double> x = {1, 2};
  EXPECT_TRUE(throws_error([&] { train::summarize(x, 1.0); }, {"confidence", "(0, 1)"}));
  EXPECT_TRUE(throws_error([&] { student_t_quantile(0, 3); }, {"p:"}));
  EXPECT_TRUE(throws_error([&] { student_t_quantile(0.5, 0); }, {"dof:"}));
  EXPECT_TRUE(throws_error([&] { student_t_cdf(1, NAN); }, {"dof:"}));
  EXPECT_TRUE(throws_error([&] { regularized_incomplete_beta(1, 1, 1.5); }, {"x:", "[0, 1]"}));
  EXPECT_TRUE(throws_error([&] { regularized_incomplete_beta(0, 1, 0.5); }, {"a:"}));
}

}  // namespace
}  // namespace mha::testing
